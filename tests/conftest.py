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
