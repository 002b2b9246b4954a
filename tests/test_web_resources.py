"""The page's cached resources: the key a service is cached under, and Streamlit's secrets as a plain dict."""

from __future__ import annotations

from pathlib import Path

from streamlit import config as st_config
from streamlit.runtime.secrets import Secrets, secrets_singleton

from artsearch.config import load_settings
from artsearch.web import resources
from tests.support.app import unescaped


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
        secrets_singleton._reset()  # st.secrets keeps what it parsed: later pages must not run on this file


def test_a_malformed_secrets_file_is_one_line_on_the_page_not_a_silent_fallback(tmp_path, monkeypatch):
    """A secrets.toml that is not valid TOML: the page says, in one line, that the file could not be read and where
    it is (never what it holds), instead of running on the defaults; fixed, the same page runs on it."""
    from streamlit.testing.v1 import AppTest

    from tests.support import ROOT

    secret = "qdrant-FAKE-SECRET-a71e0c"
    path = tmp_path / ".streamlit" / "secrets.toml"
    path.parent.mkdir()
    path.write_text(f'[Database]\nQDRANT_KEY = "{secret}\nQDRANT_URL = "https://q.example.org"\n')  # a " missing
    previous = st_config.get_option("secrets.files")
    st_config.set_option("secrets.files", [str(path)])
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("ARTSEARCH_SECRETS", str(tmp_path / "none.toml"))
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        shown = [unescaped(e.value) for e in at.error] + [e.value for e in at.exception] + [w.value for w in at.warning]
        assert len(at.error) == 1 and not at.exception, shown
        line = unescaped(at.error[0].value)
        assert line.startswith(f"The secrets file {path} could not be read: it is not valid TOML at line 2")
        assert "\n" not in line and secret[:8] not in " ".join(shown) and "q.example.org" not in line
        assert not at.text_input  # nothing ran on the defaults

        path.write_text('[Database]\nCOLLECTION_NAME = "paintings"\n[Artsearch]\nDEVICE = "cpu"\n')
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        assert not any("secrets file" in unescaped(e.value) for e in at.error), [e.value for e in at.error]
    finally:
        st_config.set_option("secrets.files", previous)
        secrets_singleton._reset()  # st.secrets keeps what it parsed: later pages must not run on this file
