"""Shared pytest fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_clip_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A random-weight tiny CLIP in sentence-transformers format (projection dim 64), built once, offline.

    Load it with ``SentenceTransformer(tiny_clip_path, device="cpu")``.
    """
    from artsearch.clip_factory import build_random_clip

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
        data_dir=root / "data",
        embedder_name=model_path,
        device="cpu",
        batch_size=8,
    )
    values.update(overrides)
    return load_settings(secrets={}, env={}, **values)


test_settings.__test__ = False  # a helper, not a test


@pytest.fixture(scope="session")
def shared_encoder(tiny_clip_path: str):
    """The tiny CLIP loaded once through the same Encoder as clip-ViT-B-32."""
    from artsearch.encoder import Encoder

    return Encoder(tiny_clip_path, device="cpu", batch_size=8)


@pytest.fixture(scope="session")
def kaggle_index(tmp_path_factory: pytest.TempPathFactory, tiny_clip_path: str, shared_encoder):
    """A Kaggle-layout dataset with broken files, ingested with the tiny CLIP into embedded Qdrant.

    Returns (settings, layout, report). Tests must not modify it; copy it for destructive tests.
    """
    from artsearch.rebuild import SourceOptions, rebuild
    from tests.datasets import make_kaggle_layout

    root = tmp_path_factory.mktemp("kaggle_index")
    settings = test_settings(root, tiny_clip_path)
    layout = make_kaggle_layout(settings.data_dir / "kaggle")
    report = rebuild(settings, SourceOptions(source="kaggle"), encoder=shared_encoder, progress=False)
    return settings, layout, report


@pytest.fixture(scope="session", autouse=True)
def embedded_engine_everywhere():
    """Processes and pages the tests start read the same embedded engine the test indexes are built with."""
    import os

    engine = os.environ.get("ARTSEARCH_TEST_ENGINE", "edge")
    previous = os.environ.get("ARTSEARCH_EMBEDDED_ENGINE")
    os.environ["ARTSEARCH_EMBEDDED_ENGINE"] = engine
    yield engine
    if previous is None:
        os.environ.pop("ARTSEARCH_EMBEDDED_ENGINE", None)
    else:
        os.environ["ARTSEARCH_EMBEDDED_ENGINE"] = previous
