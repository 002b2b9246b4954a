"""Shared pytest fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_clip_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A random-weight tiny CLIP in sentence-transformers format (projection dim 64), built once, offline.

    Load it with ``SentenceTransformer(tiny_clip_path, device="cpu")``.
    """
    from artsearch.testing.clip_factory import build_random_clip

    return str(build_random_clip(tmp_path_factory.mktemp("tiny_clip") / "model", size="tiny", seed=0))


# --- an indexed collection, built once per session through the real pipeline ----------------


def test_settings(root, model_path: str, **overrides):
    """Settings for a test: nothing from the developer's secrets or environment leaks in."""
    import os
    from pathlib import Path

    from artsearch.config import load_settings

    root = Path(root)
    values = dict(
        qdrant_path=root / "qdrant",
        # ARTSEARCH_TEST_ENGINE runs the whole suite on one embedded engine ("edge" or "local").
        embedded_engine=os.environ.get("ARTSEARCH_TEST_ENGINE", "edge"),
        # ARTSEARCH_TEST_INFERENCE runs it on one inference path (the fast paths have their own tests).
        inference=os.environ.get("ARTSEARCH_TEST_INFERENCE", "torch"),
        data_dir=root / "data",
        embedder_name=model_path,
        device="cpu",
        batch_size=8,
    )
    values.update(overrides)
    return load_settings(secrets={}, env={}, **values)


test_settings.__test__ = False  # a helper, not a test


def copy_index(kaggle_index, root):
    """A private copy of the session index (data and Qdrant) under ``root``: for tests that change it, or
    whose app or server process holds its folder open. Returns (settings, layout)."""
    import shutil
    from pathlib import Path

    settings, layout, _ = kaggle_index
    root = Path(root)
    shutil.copytree(settings.data_dir, root / "data")
    shutil.copytree(settings.qdrant_path, root / "qdrant")
    return test_settings(root, settings.embedder_name), layout


@pytest.fixture(scope="session")
def shared_encoder(tiny_clip_path: str):
    """The tiny CLIP loaded once through the same Encoder as clip-ViT-B-32."""
    from artsearch.model.encoder import Encoder

    return Encoder(tiny_clip_path, device="cpu", batch_size=8)


@pytest.fixture(scope="session")
def kaggle_index(tmp_path_factory: pytest.TempPathFactory, tiny_clip_path: str, shared_encoder):
    """A Kaggle-layout dataset with broken files, ingested with the tiny CLIP into embedded Qdrant.

    Returns (settings, layout, report). Tests must not modify it; copy it for destructive tests.
    """
    from artsearch.rebuild import rebuild
    from artsearch.sources import SourceOptions
    from tests.datasets import make_kaggle_layout

    root = tmp_path_factory.mktemp("kaggle_index")
    settings = test_settings(root, tiny_clip_path)
    layout = make_kaggle_layout(settings.data_dir / "kaggle")
    report = rebuild(settings, SourceOptions(source="kaggle"), encoder=shared_encoder, progress=False)
    return settings, layout, report


@pytest.fixture(scope="session", autouse=True)
def same_engine_and_inference_everywhere(tmp_path_factory: pytest.TempPathFactory):
    """Processes and pages the tests start use the engine and inference path the test indexes are built with,
    and ONNX exports go to a cache of this session's own, never the user's ~/.cache."""
    import os

    wanted = {
        "ARTSEARCH_EMBEDDED_ENGINE": os.environ.get("ARTSEARCH_TEST_ENGINE", "edge"),
        "ARTSEARCH_INFERENCE": os.environ.get("ARTSEARCH_TEST_INFERENCE", "torch"),
        "ARTSEARCH_CACHE_DIR": str(tmp_path_factory.mktemp("artsearch-cache")),
    }
    previous = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    yield wanted
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
