"""Remote collections are created and searched with the parameters artsearch/index/remote.py documents.

The build and the search run through the real code (``IndexBuilder.start_build``, ``VectorIndex``) against a
local stand-in that records the JSON qdrant-client sends (tests/support/qdrant_recorder.py), and the same
models are handed to qdrant-client's local mode, which validates and accepts them. Behaviour against a real
server: tests/test_index_remote_server.py (needs ARTSEARCH_TEST_QDRANT_URL).
"""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from artsearch.catalog import LOOKUP_FIELDS, NAME_TEXT_FIELD
from artsearch.config import load_settings
from artsearch.index import remote
from artsearch.index.filters import FACETS, Filters
from artsearch.index.read import VectorIndex
from artsearch.index.write import IndexBuilder
from tests.support.qdrant_recorder import running_qdrant_recorder


@pytest.fixture
def recorder():
    with running_qdrant_recorder() as rec:
        yield rec


def remote_settings(url: str):
    return load_settings(secrets={}, env={}, qdrant_url=url, collection_name="artworks")


def test_a_remote_build_creates_its_collection_with_the_documented_parameters(recorder):
    builder = IndexBuilder.start_build(remote_settings(recorder.url), 512)
    builder.close()
    (body,) = recorder.bodies("PUT", rf"/collections/{builder.collection}")
    assert body["vectors"] == {"size": 512, "distance": "Cosine", "on_disk": True}
    assert body["hnsw_config"] == {"m": 16, "ef_construct": 128, "full_scan_threshold": 10000}
    assert body["quantization_config"] == {"scalar": {"type": "int8", "quantile": 0.99, "always_ram": True}}
    assert body["on_disk_payload"] is True
    indexes = {
        b["field_name"]: b["field_schema"] for b in recorder.bodies("PUT", rf"/collections/{builder.collection}/index")
    }
    keywords = {k for f in FACETS if f.kind != "range" for k in f.index_keys} | set(LOOKUP_FIELDS)
    ranges = {k for f in FACETS if f.kind == "range" for k in f.index_keys}
    assert ranges == {"year_earliest", "year_latest"}  # the period: range filters and order_by inside Qdrant
    assert {name: indexes[name] for name in keywords | ranges} == {
        **dict.fromkeys(keywords, "keyword"),
        **dict.fromkeys(ranges, "integer"),
    }
    assert indexes[NAME_TEXT_FIELD]["type"] == "text" and indexes[NAME_TEXT_FIELD]["lowercase"] is True


@pytest.mark.filterwarnings("ignore:Failed to obtain server version")
def test_remote_searches_rescore_oversampled_int8_candidates(recorder):
    index = VectorIndex(remote_settings(recorder.url))
    vector = np.ones(512, np.float32) / np.sqrt(512)
    index.query(vector, filters=Filters(artist=["Claude Monet"]), limit=5)
    index.query_fused(vector, ["monet"], limit=5)
    index.query_grouped(vector, group_by="artist", group_size=1, limit=5)
    index.close()
    wanted = {"hnsw_ef": 128, "quantization": {"rescore": True, "oversampling": 2.0}}
    plain, fused = recorder.bodies("POST", r"/collections/artworks/points/query")
    assert {k: v for k, v in plain["params"].items() if v is not None} == wanted
    assert all({k: v for k, v in p["params"].items() if v is not None} == wanted for p in fused["prefetch"])
    (grouped,) = recorder.bodies("POST", r"/collections/artworks/points/query/groups")
    assert {k: v for k, v in grouped["params"].items() if v is not None} == wanted


@pytest.mark.filterwarnings("ignore:Local mode performs exact")
def test_qdrant_client_accepts_the_same_models():
    client = QdrantClient(":memory:")
    client.create_collection("artworks_1", **remote.collection_params(64))
    client.upsert("artworks_1", points=[models.PointStruct(id=1, vector=[1.0] * 64, payload={"artist": "a"})])
    hits = client.query_points("artworks_1", query=[1.0] * 64, search_params=remote.SEARCH, limit=1).points
    assert [h.id for h in hits] == [1]
    assert client.get_collection("artworks_1").config.params.vectors.on_disk is True
