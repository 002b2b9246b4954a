"""The model by its hub name, as users run it: from the Hugging Face cache, on the fast path, with no network.

Every test runs the command line in a process of its own, with ``HF_HOME`` pointing at a hub cache that
holds a tiny CLIP in the hub repo's exact layout (the ``hub_home`` fixture), and ``HF_ENDPOINT`` at a
local server that accepts connections and never answers, or at a port that refuses them. Nothing here
times anything: what is counted is what the hub server saw, and what the user's terminal shows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artsearch.model.export import export_folder
from artsearch.model.locate import ModelFiles
from artsearch.testing.hub_cache import HUB_REPO
from tests.support.cli import one_line_error, run_cli
from tests.support.datasets import jpeg_bytes, painting
from tests.support.indexes import test_settings
from tests.support.servers import free_port, silent_server

#: What the libraries print while loading a model from the hub's old-style files, and hub retry warnings.
CHATTER = ("Loading weights", "Ignored unknown kwarg option", "Could not reach the Hub", "cached commit hash")
GENEROUS = 240  # seconds a process may take on a loaded machine: only a hang (minutes of retries) exceeds it


def image_folder(root: Path) -> Path:
    for artist in ("Ann Painter", "Bo Drawer"):
        (root / artist).mkdir(parents=True)
        for i in range(4):
            seed = 10 * len(artist) + i
            (root / artist / f"work_{i}.jpg").write_bytes(jpeg_bytes(painting(seed, (200, 160))))
    return root


def hub_env(home: Path, hub_url: str, cache: Path) -> dict:
    """A user's environment: the hub cache, the hub at ``hub_url``, HF_HUB_OFFLINE not set."""
    return {"HF_HOME": str(home), "HF_ENDPOINT": hub_url, "HF_HUB_OFFLINE": None, "ARTSEARCH_CACHE_DIR": str(cache)}


def no_chatter(result) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert not [c for c in CHATTER if c in output], output


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in folder.rglob("*")}


def test_the_default_model_by_its_hub_name_gets_the_fast_path(hub_home, tmp_path):
    """ingest, search and optimize with ``clip-ViT-B-32``: onnx-int8 is used, no warning, no traceback, no request.

    Before the fix: "inference=onnx-int8: cannot locate the model's folder to find its ONNX export; using torch"
    on every ingest and search, and optimize ended in a CacheError traceback.
    """
    home, snapshot = hub_home
    cache = tmp_path / "cache"
    settings = test_settings(tmp_path, "clip-ViT-B-32", inference="onnx-int8")
    images = image_folder(tmp_path / "images")
    hub_before = listing(home)
    with silent_server() as hub:
        env = hub_env(home, hub.url, cache)
        built = run_cli(
            ["qdrant/initialize_db.py", "--source", "folder", "--images-dir", str(images), "--no-progress"],
            settings,
            env,
        )
        assert built.returncode == 0, built.stderr
        assert "Indexed 8 artworks" in built.stdout and "embedded 8" in built.stdout
        assert built.stderr == "", built.stderr  # no warning at all: neither the torch fallback nor the tracer's
        no_chatter(built)

        found = run_cli(["-m", "artsearch", "search", "a painting", "--k", "3", "--json"], settings, env)
        assert found.returncode == 0 and found.stderr == "", found.stderr
        assert len(json.loads(found.stdout)) == 3  # stdout is JSON only: the tokenizer's prints did not land in it

        verbose = run_cli(["-m", "artsearch", "search", "a painting", "-v"], settings, env)
        assert "onnx-int8 on cpu" in verbose.stderr, verbose.stderr  # the encoder's own line at -v

        optimized = run_cli(["-m", "artsearch", "optimize"], settings, env)
        assert optimized.returncode == 0, optimized.stderr
        no_chatter(optimized)
        info = json.loads(run_cli(["-m", "artsearch", "info", "--json"], settings, env).stdout)
        assert hub.connections == 0  # the cached model never asked the hub anything
    folder = export_folder(ModelFiles("clip-ViT-B-32", snapshot, HUB_REPO, snapshot.name), cache)
    assert folder == cache / "onnx" / "sentence-transformers--clip-ViT-B-32" / snapshot.name
    assert f"onnx-int8: {folder / 'vision.int8.onnx'}" in optimized.stdout
    assert listing(home) == hub_before  # nothing written into the Hugging Face cache
    assert "onnx-int8" in info["built_with"] and HUB_REPO in info["built_with"]


@pytest.mark.parametrize("network", ["never answers", "refuses"])
def test_a_cached_model_loads_without_asking_the_hub(hub_home, kaggle_index, tmp_path, network):
    """With no network and HF_HUB_OFFLINE unset, a cached model loads as it does offline: not one request."""
    home, _ = hub_home
    settings = test_settings(tmp_path, "clip-ViT-B-32")
    with silent_server() as hub:
        url = hub.url if network == "never answers" else f"http://127.0.0.1:{free_port()}"
        result = run_cli(
            ["-m", "artsearch", "search", "a painting"], settings, hub_env(home, url, tmp_path), timeout=GENEROUS
        )
        assert hub.connections == 0
    # The index is empty: the model loaded, and the next thing to say is that there is nothing to search yet.
    assert "No artworks indexed yet" in one_line_error(result)
    no_chatter(result)


@pytest.mark.parametrize("network", ["never answers", "refuses"])
def test_an_uncached_model_fails_fast_in_one_line(tmp_path, network):
    """Before the fix: 100 s of retries and 66 warning lines, then the error. Now one probe, then one line."""
    settings = test_settings(tmp_path, "clip-ViT-B-32")
    with silent_server() as hub:
        url = hub.url if network == "never answers" else f"http://127.0.0.1:{free_port()}"
        env = hub_env(tmp_path / "empty-hf-home", url, tmp_path / "cache")
        result = run_cli(["-m", "artsearch", "search", "a painting"], settings, env, timeout=GENEROUS)
        assert hub.connections == (1 if network == "never answers" else 0)  # at most one probe, no retries
    line = one_line_error(result)
    assert "'clip-ViT-B-32'" in line and "not in the Hugging Face cache" in line and "cannot be reached" in line
    assert url in line and "EMBEDDER_NAME" in line and "models/tiny-clip-shapes" in line
    no_chatter(result)
    assert result.stderr.strip() == line  # nothing else on the terminal


def test_offline_mode_fails_at_once_without_a_probe(tmp_path):
    settings = test_settings(tmp_path, "clip-ViT-B-32")
    with silent_server() as hub:
        env = {**hub_env(tmp_path / "empty-hf-home", hub.url, tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
        result = run_cli(["-m", "artsearch", "search", "a painting"], settings, env)
        assert hub.connections == 0
    line = one_line_error(result)
    assert "HF_HUB_OFFLINE is set" in line and "EMBEDDER_NAME" in line


def test_the_loading_chatter_shows_only_at_v(hub_home, tmp_path):
    """The hub layout's old tokenizer files make the tokenizer print "Ignored unknown kwarg option" on stdout, and
    transformers draws a "Loading weights" bar: both stay off the terminal, and both are there with -v."""
    home, _ = hub_home
    settings = test_settings(tmp_path, "clip-ViT-B-32")
    env = hub_env(home, f"http://127.0.0.1:{free_port()}", tmp_path / "cache")
    quiet = run_cli(["-m", "artsearch", "search", "a painting"], settings, env)
    loud = run_cli(["-m", "artsearch", "search", "a painting", "-v"], settings, env)
    assert "No artworks indexed yet" in one_line_error(quiet) and "No artworks indexed yet" in loud.stderr
    no_chatter(quiet)
    assert "Loading weights" in loud.stderr and "Ignored unknown kwarg option" in loud.stdout
