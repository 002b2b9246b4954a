"""Shared pytest fixtures."""

from __future__ import annotations

import pytest

from tests.support.indexes import test_settings


@pytest.fixture(scope="session")
def tiny_clip_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A random-weight tiny CLIP in sentence-transformers format (projection dim 64), built once, offline.

    Load it with ``SentenceTransformer(tiny_clip_path, device="cpu")``.
    """
    from artsearch.testing.clip_factory import build_random_clip

    return str(build_random_clip(tmp_path_factory.mktemp("tiny_clip") / "model", size="tiny", seed=0))


# --- an indexed collection, built once per session through the real pipeline ----------------


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
    from tests.support.datasets import make_kaggle_layout

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
