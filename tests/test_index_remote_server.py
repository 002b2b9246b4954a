"""The index against a real Qdrant server: runs only when ARTSEARCH_TEST_QDRANT_URL names one.

    docker run -p 6333:6333 qdrant/qdrant
    ARTSEARCH_TEST_QDRANT_URL=http://localhost:6333 python -m pytest tests/test_index_remote_server.py
    (ARTSEARCH_TEST_QDRANT_KEY for a cluster with an API key)

Everything goes through artsearch's own code with ``QDRANT_URL`` set, exactly as a deployment runs it: builds
(``IndexBuilder``: create with the remote parameters, upsert, publish under the alias, delete the old
collection), searches (``VectorIndex``: plain, filtered, fused with names, grouped, recommend, random, facets),
and the whole rebuild with the tiny CLIP, incremental included. Each test uses an alias of its own
(``artsearch_test_<random>``) and deletes what it made. No server runs in CI here, so these are skipped there,
with the reason in the summary.
"""

from __future__ import annotations

import os
import uuid

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from artsearch.catalog import artwork_id
from artsearch.index.filters import Filters
from artsearch.index.read import VectorIndex
from artsearch.index.write import IndexBuilder
from artsearch.rebuild import rebuild
from artsearch.sources import SourceOptions
from tests.support.datasets import jpeg_bytes, painting
from tests.support.encoders import CountingEncoder
from tests.support.indexes import test_settings

URL = os.environ.get("ARTSEARCH_TEST_QDRANT_URL", "")
KEY = os.environ.get("ARTSEARCH_TEST_QDRANT_KEY", "")
pytestmark = pytest.mark.skipif(
    not URL, reason="ARTSEARCH_TEST_QDRANT_URL is not set: no Qdrant server to test against (see README, Development)"
)

DIM = 64
ARTISTS = ["Claude Monet", "Berthe Morisot", "Edgar Degas", "Mary Cassatt"]


@pytest.fixture
def settings(tmp_path, tiny_clip_path):
    alias = f"artsearch_test_{uuid.uuid4().hex[:10]}"
    s = test_settings(tmp_path, tiny_clip_path, qdrant_url=URL, qdrant_key=KEY or None, collection_name=alias)
    yield s
    client = QdrantClient(url=URL, api_key=KEY or None, timeout=30)
    for a in client.get_aliases().aliases:
        if a.alias_name == alias:
            client.delete_alias(alias)
    for c in client.get_collections().collections:
        if c.name.startswith(alias):
            client.delete_collection(c.name)


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def build(settings, n: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = [artwork_id("test", str(i)) for i in range(n)]
    vectors = unit(rng, n)
    payloads = [
        {
            "artwork_id": ids[i],
            "title": f"Work {i}",
            "artist": ARTISTS[i % len(ARTISTS)],
            "artist_slug": ARTISTS[i % len(ARTISTS)].lower().replace(" ", "-"),
            "genre": ["Impressionism"],
            "name_text": f"Work {i} {ARTISTS[i % len(ARTISTS)]}",
            "source": "test",
        }
        for i in range(n)
    ]
    builder = IndexBuilder.start_build(settings, DIM)
    try:
        builder.upsert(ids, vectors, payloads)
        builder.publish()
    finally:
        builder.close()
    return ids, vectors


def test_a_published_build_answers_like_exact_search(settings):
    ids, vectors = build(settings, 300, seed=0)
    index = VectorIndex(settings)
    try:
        assert index.count() == 300 and index.vector_size() == DIM
        for q in vectors[:10]:
            exact = [ids[i] for i in np.argsort(-(vectors @ q))[:10]]
            assert [str(p.id) for p in index.query(q, limit=10)] == exact
        monet = index.query(vectors[0], filters=Filters(artist=["Claude Monet"]), limit=20)
        assert monet and all(p.payload["artist"] == "Claude Monet" for p in monet)
        fused = index.query_fused(vectors[1], ["degas"], limit=5)
        assert fused[0].payload["artist"] == "Edgar Degas"
        groups = index.query_grouped(vectors[2], group_by="artist", group_size=2, limit=4)
        assert sorted(g.id for g in groups) == sorted(ARTISTS) and all(len(g.hits) == 2 for g in groups)
        more = index.query(ids[3], limit=5)
        assert ids[3] not in {str(p.id) for p in more}
        rec = models.RecommendQuery(
            recommend=models.RecommendInput(positive=[ids[4]], strategy=models.RecommendStrategy.BEST_SCORE)
        )
        assert index.query(rec, limit=3)
        assert len(index.sample(limit=3)) == 3
        assert dict(index.facet("artist")) == dict.fromkeys(ARTISTS, 75)
    finally:
        index.close()


def test_a_rebuild_moves_the_alias_and_deletes_the_old_collection(settings):
    build(settings, 50, seed=1)
    index = VectorIndex(settings)
    first = index.live_collection()
    build(settings, 80, seed=2)
    assert index.count() == 80 and index.live_collection() != first
    client = QdrantClient(url=URL, api_key=KEY or None, timeout=30)
    assert first not in {c.name for c in client.get_collections().collections}
    index.close()


def test_an_incremental_rebuild_on_the_server_reuses_every_unchanged_vector(settings, shared_encoder, tmp_path):
    images = tmp_path / "images"
    for a, artist in enumerate(ARTISTS):
        (images / artist).mkdir(parents=True)
        for n in range(3):
            (images / artist / f"w{n}.jpg").write_bytes(jpeg_bytes(painting(10 * a + n)))
    counting = CountingEncoder(shared_encoder)
    options = SourceOptions(source="folder", images_dir=images)
    first = rebuild(settings, options, encoder=counting, progress=False)
    assert (first.embedded, counting.images) == (12, 12)
    counting.reset()
    (images / ARTISTS[0] / "w0.jpg").write_bytes(jpeg_bytes(painting(999)))
    second = rebuild(settings, options, encoder=counting, progress=False)
    assert (second.embedded, second.reused, counting.images) == (1, 11, 1)
    index = VectorIndex(settings)
    try:
        assert index.count() == 12
    finally:
        index.close()
