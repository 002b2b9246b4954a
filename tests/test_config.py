"""Settings precedence: defaults < secrets.toml < environment < overrides; nothing read at import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from artsearch.config import Settings, load_settings, read_secrets_file
from artsearch.errors import ConfigError

SECRETS = {
    "Database": {"QDRANT_URL": "https://cluster.example:6333", "QDRANT_KEY": "k-secret", "COLLECTION_NAME": "art"},
    "Kaggle": {"KAGGLE_USERNAME": "ann", "KAGGLE_KEY": "kag-secret"},
    "Storage": {"BACKEND": "gcs", "BUCKET": "b", "SIGNED_URL_TTL": 900},
    "Artsearch": {"DEVICE": "cpu", "BATCH_SIZE": 16, "ALLOW_PRIVATE_URLS": False},
    "gcp_service_account": {"type": "service_account", "client_email": "x@y"},
}


def test_defaults_are_the_embedded_setup():
    s = load_settings(secrets={}, env={})
    assert s == Settings()
    assert s.embedded and s.qdrant_path == Path("data/qdrant") and s.collection_name == "artworks"
    assert s.device == "auto" and s.storage_backend == "local"
    # No model configured: searches use the index's own, and a new build uses clip-ViT-B-32.
    assert s.embedder_name is None and s.model_name == "clip-ViT-B-32" and not s.allow_other_model
    assert s.export_cache_dir == Path("data/cache")


def test_the_export_cache_follows_the_data_folder_unless_set():
    assert load_settings(secrets={}, env={"ARTSEARCH_DATA_DIR": "/srv/art"}).export_cache_dir == Path("/srv/art/cache")
    chosen = load_settings(secrets={"Artsearch": {"CACHE_DIR": "/var/cache/art"}}, env={"ARTSEARCH_DATA_DIR": "/srv"})
    assert chosen.export_cache_dir == Path("/var/cache/art")


@pytest.mark.parametrize(
    ("given", "device"), [("CPU", "cpu"), (" cuda ", "cuda"), ("cuda:1", "cuda:1"), ("mps", "mps")]
)
def test_device_names_are_normalised(given, device):
    assert load_settings(secrets={}, env={"ARTSEARCH_DEVICE": given}).device == device


@pytest.mark.parametrize("device", ["gpu", "cuda:", "cuda:x", "cuda0", "tpu"])
def test_an_unknown_device_is_refused_up_front(device):
    with pytest.raises(ConfigError, match="ARTSEARCH_DEVICE must be one of auto, cpu, cuda, cuda:N, mps") as err:
        load_settings(secrets={}, env={"ARTSEARCH_DEVICE": device})
    assert repr(device) in str(err.value)


def test_secrets_in_the_seed_layout_are_read():
    s = load_settings(secrets=SECRETS, env={})
    assert (s.qdrant_url, s.qdrant_key, s.collection_name) == ("https://cluster.example:6333", "k-secret", "art")
    assert (s.kaggle_username, s.kaggle_key) == ("ann", "kag-secret")
    assert (s.storage_backend, s.storage_bucket, s.signed_url_ttl) == ("gcs", "b", 900)
    assert (s.device, s.batch_size) == ("cpu", 16)
    assert s.gcp_service_account["client_email"] == "x@y"
    assert not s.embedded


def test_environment_overrides_secrets_and_flags_override_both():
    env = {"COLLECTION_NAME": "env-art", "ARTSEARCH_BATCH_SIZE": "4", "ARTSEARCH_ALLOW_PRIVATE_URLS": "yes"}
    s = load_settings(secrets=SECRETS, env=env)
    assert (s.collection_name, s.batch_size, s.allow_private_urls) == ("env-art", 4, True)
    s = load_settings(secrets=SECRETS, env=env, collection_name="flag-art", batch_size=None)
    assert (s.collection_name, s.batch_size) == ("flag-art", 4)


def test_secrets_never_appear_in_repr_or_describe():
    s = load_settings(secrets=SECRETS, env={})
    text = repr(s) + str(s.describe())
    assert "k-secret" not in text and "kag-secret" not in text and "client_email" not in text


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"ARTSEARCH_BATCH_SIZE": "many"}, "ARTSEARCH_BATCH_SIZE"),
        ({"ARTSEARCH_ALLOW_PRIVATE_URLS": "maybe"}, "ALLOW_PRIVATE_URLS"),
        ({"ARTSEARCH_STORAGE_BACKEND": "s3"}, "BACKEND"),
        ({"QDRANT_URL": "cluster.example:6333"}, "QDRANT_URL"),
        ({"ARTSEARCH_SIGNED_URL_TTL": "5"}, "SIGNED_URL_TTL"),
    ],
)
def test_malformed_settings_give_one_line_naming_the_setting(env, needle):
    with pytest.raises(ConfigError, match=needle) as err:
        load_settings(secrets={}, env=env)
    assert "\n" not in str(err.value)


def test_secrets_file_is_parsed_and_a_broken_one_is_a_clear_error(tmp_path):
    good = tmp_path / "secrets.toml"
    good.write_text('[Database]\nCOLLECTION_NAME = "from-file"\n')
    assert read_secrets_file(good)["Database"]["COLLECTION_NAME"] == "from-file"
    assert load_settings(env={"ARTSEARCH_SECRETS": str(good)}).collection_name == "from-file"
    assert load_settings(env={"ARTSEARCH_SECRETS": str(good), "COLLECTION_NAME": "env"}).collection_name == "env"
    assert read_secrets_file(tmp_path / "missing.toml") == {}
    bad = tmp_path / "bad.toml"
    bad.write_text("[Database\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_secrets_file(bad)


def test_importing_the_package_reads_nothing_and_loads_no_model():
    code = (
        "import sys, artsearch, artsearch.config, artsearch.search, artsearch.index, artsearch.ingest, artsearch.cli;"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_secrets_example_documents_every_setting_and_its_defaults_are_the_defaults() -> None:
    import dataclasses
    import re
    import tomllib

    from artsearch.config import _locations

    text = (Path(__file__).resolve().parent.parent / "secrets.toml.example").read_text()
    assert load_settings(secrets=tomllib.loads(text), env={}) == Settings()
    uncommented = re.sub(r"(?m)^# ?((\[\w+\])|(\w+ = .*))$", r"\1", text)
    parsed = tomllib.loads(uncommented)
    for f in dataclasses.fields(Settings):
        section, key, _ = _locations(f.name)
        if f.name == "gcp_service_account":
            assert {"type", "project_id", "private_key", "client_email", "token_uri"} <= set(parsed[f.name])
        else:
            assert key in parsed[section], f"secrets.toml.example lacks [{section}] {key}"
    settings = load_settings(secrets={**parsed, "Storage": {**parsed["Storage"], "BACKEND": "gcs"}}, env={})
    assert (settings.storage_bucket, settings.signed_url_ttl) == ("my-artsearch-images", 3600)
