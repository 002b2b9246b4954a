"""The page's cached resources: the key a service is cached under, and Streamlit's secrets as a plain dict."""

from __future__ import annotations

from pathlib import Path

from streamlit import config as st_config
from streamlit.runtime.secrets import Secrets

from artsearch.config import load_settings
from artsearch.web import resources


def test_settings_key_is_stable_and_sees_what_repr_hides():
    a = load_settings(secrets={}, env={}, qdrant_url="https://q.example.org", qdrant_key="one")
    b = load_settings(secrets={}, env={}, qdrant_url="https://q.example.org", qdrant_key="one")
    c = load_settings(secrets={}, env={}, qdrant_url="https://q.example.org", qdrant_key="two")
    assert repr(a) == repr(c)
    assert resources.settings_key(a) == resources.settings_key(b) != resources.settings_key(c)
    assert "one" not in resources.settings_key(a)


def test_secrets_without_a_file_are_empty(tmp_path: Path):
    previous = st_config.get_option("secrets.files")
    st_config.set_option("secrets.files", [str(tmp_path / "missing" / "secrets.toml")])
    try:
        assert resources.secrets_dict(Secrets()) == {}
        (tmp_path / "missing").mkdir()
        (tmp_path / "missing" / "secrets.toml").write_text('[Database]\nCOLLECTION_NAME = "paintings"\n')
        secrets = resources.secrets_dict(Secrets())
        assert secrets == {"Database": {"COLLECTION_NAME": "paintings"}}
        assert load_settings(secrets=secrets, env={}).collection_name == "paintings"
    finally:
        st_config.set_option("secrets.files", previous)
