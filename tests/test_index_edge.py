"""EdgeClient against qdrant-client local mode: the same data, the same calls, the same answers."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from artsearch.index.builds import folder_in_use
from artsearch.index.edge import EdgeClient, EngineMismatch, folder_engine

ROOT = Path(__file__).resolve().parents[1]
NAME = "artworks_20260101T000000000000"
ALIAS = "artworks"
DIM = 16
N = 300
ARTISTS = [f"Artist {i}" for i in range(6)]
GENRES = ["Impressionism", "Baroque", "Cubism", "Romanticism", "Surrealism"]


def make_data(seed: int = 0) -> tuple[list[str], np.ndarray, list[dict]]:
    rng = np.random.default_rng(seed)
    ids = [str(uuid.UUID(int=int(rng.integers(1, 2**62)))) for _ in range(N)]
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    payloads = []
    for i in range(N):
        genres = sorted({GENRES[int(g)] for g in rng.integers(0, len(GENRES), 1 + i % 2)})
        payloads.append(
            {
                "artwork_id": ids[i],
                "title": f"Work {i}",
                "artist": ARTISTS[int(rng.integers(0, len(ARTISTS)))],
                "genre": genres,
                "nationality": ["French", "Dutch", "Spanish"][i % 3],
                "year": 1800 + i,
            }
        )
    return ids, vectors, payloads


def fill(client, ids, vectors, payloads, **create_kwargs) -> None:
    client.create_collection(
        NAME, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE), **create_kwargs
    )
    for field in ("artist", "genre", "nationality"):
        client.create_payload_index(NAME, field, models.PayloadSchemaType.KEYWORD)
    for start in range(0, N, 64):
        points = [
            models.PointStruct(id=i, vector=v.tolist(), payload=p)
            for i, v, p in zip(
                ids[start : start + 64], vectors[start : start + 64], payloads[start : start + 64], strict=True
            )
        ]
        client.upsert(NAME, points=points, wait=True)
    client.update_collection_aliases(
        change_aliases_operations=[
            models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=NAME, alias_name=ALIAS))
        ]
    )


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module")
def pair(tmp_path_factory, data):
    """(local, edge): two clients holding the same points, both queried through the alias."""
    root = tmp_path_factory.mktemp("pair")
    local = QdrantClient(path=str(root / "local"))
    edge = EdgeClient(root / "edge")
    for client in (local, edge):
        fill(client, *data)
    yield local, edge
    local.close()
    edge.close()


def ids_of(points) -> list:
    return [str(p.id) for p in points]


def both(pair, method: str, *args, **kwargs):
    local, edge = pair
    return getattr(local, method)(*args, **kwargs), getattr(edge, method)(*args, **kwargs)


def any_of(key: str, values: list[str]) -> models.Filter:
    return models.Filter(must=[models.FieldCondition(key=key, match=models.MatchAny(any=values))])


FILTERS = {
    "none": None,
    "artist": any_of("artist", ["Artist 1", "Artist 4"]),
    "genre-list-field": any_of("genre", ["Baroque"]),
    "two-fields": models.Filter(
        must=[
            models.FieldCondition(key="genre", match=models.MatchAny(any=["Cubism", "Surrealism"])),
            models.FieldCondition(key="nationality", match=models.MatchValue(value="French")),
        ]
    ),
    "must-not-ids": None,  # filled in the test: leave the 5 nearest out
}


@pytest.mark.parametrize("name", list(FILTERS))
def test_vector_queries_return_the_same_top_k(pair, data, name):
    ids, vectors, _ = data
    rng = np.random.default_rng(1)
    for _ in range(10):
        q = rng.normal(size=DIM).astype(np.float32)
        flt = FILTERS[name]
        if name == "must-not-ids":
            nearest = ids_of(pair[0].query_points(ALIAS, query=q.tolist(), limit=5).points)
            flt = models.Filter(must_not=[models.HasIdCondition(has_id=nearest)])
        local, edge = both(pair, "query_points", ALIAS, query=q.tolist(), query_filter=flt, limit=10, with_payload=True)
        assert ids_of(edge.points) == ids_of(local.points)
        assert np.allclose([p.score for p in edge.points], [p.score for p in local.points], atol=1e-5)
        assert [p.payload for p in edge.points] == [p.payload for p in local.points]
        if name == "genre-list-field":
            assert all("Baroque" in p.payload["genre"] for p in edge.points)


def test_offset_pages_continue_the_ranking(pair):
    q = np.random.default_rng(2).normal(size=DIM).tolist()
    local, edge = both(pair, "query_points", ALIAS, query=q, limit=5, offset=5)
    assert ids_of(edge.points) == ids_of(local.points)
    first = pair[1].query_points(ALIAS, query=q, limit=10).points
    assert ids_of(edge.points) == ids_of(first)[5:]


def test_point_id_query_uses_the_stored_vector_and_leaves_the_seed_out(pair, data):
    ids, _, _ = data
    seed = ids[7]
    local, edge = both(pair, "query_points", ALIAS, query=seed, limit=8)
    assert seed not in ids_of(edge.points)
    assert ids_of(edge.points) == ids_of(local.points)
    flt = any_of("artist", ["Artist 2"])
    local, edge = both(pair, "query_points", ALIAS, query=models.NearestQuery(nearest=seed), query_filter=flt, limit=8)
    assert ids_of(edge.points) == ids_of(local.points)
    with pytest.raises(ValueError, match="not found"):
        pair[1].query_points(ALIAS, query=str(uuid.uuid4()), limit=3)


@pytest.mark.parametrize("strategy", [None, models.RecommendStrategy.BEST_SCORE, models.RecommendStrategy.SUM_SCORES])
def test_recommend_with_positive_and_negative_ids_and_vectors(pair, data, strategy):
    ids, vectors, _ = data
    negative_vector = np.random.default_rng(3).normal(size=DIM).tolist()
    query = models.RecommendQuery(
        recommend=models.RecommendInput(
            positive=[ids[1], ids[2]], negative=[ids[3], negative_vector], strategy=strategy
        )
    )
    local, edge = both(pair, "query_points", ALIAS, query=query, limit=10)
    got = ids_of(edge.points)
    assert not {ids[1], ids[2], ids[3]} & set(got)  # the examples themselves never come back
    assert got == ids_of(local.points)


def test_random_sample_respects_the_filter(pair):
    edge = pair[1]
    flt = any_of("nationality", ["Dutch"])
    points = edge.query_points(
        ALIAS, query=models.SampleQuery(sample=models.Sample.RANDOM), query_filter=flt, limit=20
    ).points
    assert len(points) == 20 and len(set(ids_of(points))) == 20
    assert all(p.payload["nationality"] == "Dutch" for p in points)


@pytest.mark.parametrize(
    "group_by,limit,group_size", [("artist", 3, 2), ("genre", 4, 3), ("artist", 10, 5), ("nationality", 3, 200)]
)
def test_groups_match_local_mode(pair, group_by, limit, group_size):
    q = np.random.default_rng(4).normal(size=DIM).tolist()
    for flt in (None, any_of("genre", ["Baroque", "Cubism"])):
        local, edge = both(
            pair,
            "query_points_groups",
            ALIAS,
            query=q,
            group_by=group_by,
            limit=limit,
            group_size=group_size,
            query_filter=flt,
        )
        assert [g.id for g in edge.groups] == [g.id for g in local.groups]
        assert [ids_of(g.hits) for g in edge.groups] == [ids_of(g.hits) for g in local.groups]
        assert len(edge.groups) <= limit and all(len(g.hits) <= group_size for g in edge.groups)


@pytest.mark.parametrize("key", ["artist", "genre", "nationality"])
def test_facet_counts_match(pair, key):
    local, edge = both(pair, "facet", ALIAS, key=key, limit=500, exact=True)
    assert [(h.value, h.count) for h in edge.hits] == [(h.value, h.count) for h in local.hits]
    local, edge = both(pair, "facet", ALIAS, key=key, limit=2, exact=True, facet_filter=any_of("genre", ["Baroque"]))
    assert [(h.value, h.count) for h in edge.hits] == [(h.value, h.count) for h in local.hits]


def test_facet_on_a_field_without_a_payload_index_still_counts(pair):
    local, edge = both(pair, "facet", ALIAS, key="title", limit=5, exact=True)
    assert [(h.value, h.count) for h in edge.hits] == [(h.value, h.count) for h in local.hits]
    assert len(edge.hits) == 5


@pytest.mark.parametrize("flt", [None, any_of("genre", ["Romanticism"])])
def test_scroll_pages_cover_every_point_once(pair, data, flt):
    ids, _, payloads = data
    edge = pair[1]
    seen, offset = [], None
    while True:
        points, offset = edge.scroll(ALIAS, scroll_filter=flt, limit=7, offset=offset, with_payload=True)
        seen += ids_of(points)
        if offset is None:
            break
    expected = {i for i, p in zip(ids, payloads, strict=True) if flt is None or "Romanticism" in p["genre"]}
    assert len(seen) == len(set(seen)) and set(seen) == expected
    first_local, _ = pair[0].scroll(ALIAS, scroll_filter=flt, limit=7)
    first_edge, _ = edge.scroll(ALIAS, scroll_filter=flt, limit=7)
    assert ids_of(first_edge) == ids_of(first_local)


def test_count_retrieve_and_collection_info(pair, data):
    ids, vectors, payloads = data
    for flt in (None, any_of("artist", ["Artist 0"]), any_of("genre", ["Impressionism", "Baroque"])):
        local, edge = both(pair, "count", ALIAS, count_filter=flt, exact=True)
        assert edge.count == local.count
    wanted = [ids[0], ids[50], str(uuid.uuid4())]
    local, edge = both(pair, "retrieve", ALIAS, ids=wanted, with_payload=True, with_vectors=True)
    assert sorted(ids_of(edge)) == sorted(ids_of(local)) == sorted(wanted[:2])
    by_id = {str(r.id): r for r in local}
    for record in edge:
        assert record.payload == by_id[str(record.id)].payload
        assert np.allclose(record.vector, by_id[str(record.id)].vector, atol=1e-6)
        assert np.allclose(
            record.vector,
            vectors[ids.index(str(record.id))] / np.linalg.norm(vectors[ids.index(str(record.id))]),
            atol=1e-6,
        )
    edge_client = pair[1]
    assert edge_client.get_collection(ALIAS).config.params.vectors.size == DIM
    assert edge_client.collection_exists(NAME) and edge_client.collection_exists(ALIAS)
    assert not edge_client.collection_exists("other")
    assert [c.name for c in edge_client.get_collections().collections] == [NAME]
    assert [(a.alias_name, a.collection_name) for a in edge_client.get_aliases().aliases] == [(ALIAS, NAME)]
    with pytest.raises(ValueError, match="Collection other not found"):
        edge_client.count("other")


def test_delete_then_reopen_keeps_everything(tmp_path, data):
    ids, vectors, payloads = data
    folder = tmp_path / "edge"
    client = EdgeClient(folder)
    fill(client, ids, vectors, payloads)
    client.delete(NAME, points_selector=models.PointIdsList(points=ids[:10]))
    client.delete(NAME, points_selector=models.FilterSelector(filter=any_of("artist", ["Artist 5"])))
    expected = {i for j, (i, p) in enumerate(zip(ids, payloads, strict=True)) if j >= 10 and p["artist"] != "Artist 5"}
    assert client.count(ALIAS).count == len(expected)
    q = vectors[20].tolist()
    before = ids_of(client.query_points(ALIAS, query=q, limit=10).points)
    client.close()
    client.close()  # closing twice is harmless

    reopened = EdgeClient(folder)
    try:
        assert reopened.count(ALIAS).count == len(expected)
        assert {str(p.id) for p in reopened.scroll(ALIAS, limit=1000)[0]} == expected
        assert ids_of(reopened.query_points(ALIAS, query=q, limit=10).points) == before
        assert reopened.get_collection(ALIAS).config.params.vectors.size == DIM
        assert [(a.alias_name, a.collection_name) for a in reopened.get_aliases().aliases] == [(ALIAS, NAME)]
        assert [(h.value, h.count) for h in reopened.facet(ALIAS, key="nationality", limit=10).hits]
    finally:
        reopened.close()


def test_collection_metadata_is_kept_like_local_mode(tmp_path):
    """``create_collection(..., metadata=...)`` comes back in ``get_collection().config.metadata``, by name and by
    alias, after a reopen, kept in edge_meta.json (the shard knows nothing of it); none is None, as in local mode."""
    metadata = {"artsearch_model": {"name": "models/tiny-clip-shapes", "dim": 4, "path": "/m", "inference": "torch"}}
    params = models.VectorParams(size=4, distance=models.Distance.COSINE)
    alias = models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=NAME, alias_name=ALIAS))
    seen = {}
    for engine, make in (("local", lambda p: QdrantClient(path=str(p))), ("edge", EdgeClient)):
        client = make(tmp_path / engine)
        client.create_collection(NAME, vectors_config=params, metadata=metadata)
        client.update_collection_aliases(change_aliases_operations=[alias])
        client.close()
        reopened = make(tmp_path / engine)
        seen[engine] = [reopened.get_collection(name).config.metadata for name in (NAME, ALIAS)]
        reopened.close()
        plain = make(tmp_path / f"{engine}-plain")
        plain.create_collection(NAME, vectors_config=params)
        seen[f"{engine} plain"] = plain.get_collection(NAME).config.metadata
        plain.close()
    assert seen["local"] == seen["edge"] == [metadata, metadata]
    assert seen["local plain"] is None and seen["edge plain"] is None
    on_disk = json.loads((tmp_path / "edge" / "edge_meta.json").read_text())
    assert on_disk["collection"]["metadata"] == metadata


def test_alias_operations_and_one_collection_per_folder(tmp_path):
    client = EdgeClient(tmp_path / "edge")
    try:
        assert client.get_collections().collections == [] and not client.collection_exists(NAME)
        client.create_collection(NAME, vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE))
        with pytest.raises(ValueError, match="already exists"):
            client.create_collection(NAME, vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE))
        with pytest.raises(ValueError, match="one collection per folder"):
            client.create_collection(
                "other", vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE)
            )
        create = models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=NAME, alias_name="a"))
        client.update_collection_aliases(change_aliases_operations=[create])
        rename = models.RenameAliasOperation(rename_alias=models.RenameAlias(old_alias_name="a", new_alias_name="b"))
        client.update_collection_aliases(change_aliases_operations=[rename])
        assert [a.alias_name for a in client.get_aliases().aliases] == ["b"]
        delete = models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name="b"))
        client.update_collection_aliases(change_aliases_operations=[delete])
        assert client.get_aliases().aliases == [] and not client.collection_exists("b")
        bad = models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name="nope", alias_name="c"))
        with pytest.raises(ValueError, match="not found"):
            client.update_collection_aliases(change_aliases_operations=[bad])
        assert client.delete_collection(NAME) and not client.collection_exists(NAME)
        assert folder_engine(tmp_path / "edge") is None
    finally:
        client.close()


def published_pair(tmp_path, data) -> tuple[QdrantClient, EdgeClient]:
    """Local mode and Edge holding ``data``, Edge with a tiny indexing threshold: publishing optimises its segments
    here, as 100k artworks do by default."""
    local = QdrantClient(path=str(tmp_path / "local"))
    edge = EdgeClient(tmp_path / "edge")
    fill(local, *data)
    fill(edge, *data, optimizers_config=models.OptimizersConfigDiff(indexing_threshold=1))
    return local, edge


def test_published_build_is_indexed_and_still_answers_like_local(tmp_path, data):
    local, edge = published_pair(tmp_path, data)
    try:
        assert edge.get_collection(ALIAS).indexed_vectors_count > 0
        rng = np.random.default_rng(5)
        for _ in range(10):
            q = rng.normal(size=DIM).tolist()
            for flt in (None, any_of("genre", ["Baroque"])):
                a = local.query_points(ALIAS, query=q, query_filter=flt, limit=10).points
                b = edge.query_points(ALIAS, query=q, query_filter=flt, limit=10).points
                assert ids_of(b) == ids_of(a)
    finally:
        local.close()
        edge.close()


def test_second_opener_is_refused_in_this_and_another_process(tmp_path):
    folder = tmp_path / "edge"
    client = EdgeClient(folder)
    client.create_collection(NAME, vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE))
    try:
        assert folder_in_use(folder)
        with pytest.raises(RuntimeError, match="already accessed by another instance"):
            EdgeClient(folder)
        code = f"from artsearch.index.edge import EdgeClient\nEdgeClient({str(folder)!r})"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert result.returncode != 0 and "already accessed by another instance" in result.stderr
    finally:
        client.close()
    assert not folder_in_use(folder)
    EdgeClient(folder).close()  # free again once closed


def test_sigkill_right_after_upsert_loses_nothing(tmp_path, data):
    ids, vectors, payloads = data
    folder = tmp_path / "edge"
    client = EdgeClient(folder)
    client.create_collection(NAME, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE))
    client.close()
    code = "\n".join(
        [
            "import os, signal, numpy as np",
            "from qdrant_client import models",
            "from artsearch.index.edge import EdgeClient",
            f"c = EdgeClient({str(folder)!r})",
            f"v = np.random.default_rng(0).normal(size=(50, {DIM}))",
            f"ids = {ids[:50]!r}",
            f"c.upsert({NAME!r}, points=[models.PointStruct(id=i, vector=x.tolist(), payload={{'n': k}}) "
            "for k, (i, x) in enumerate(zip(ids, v))], wait=True)",
            "os.kill(os.getpid(), signal.SIGKILL)",
        ]
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == -9, result.stderr
    assert not folder_in_use(folder)  # the kernel released the lock with the process
    reopened = EdgeClient(folder)
    try:
        assert reopened.count(NAME).count == 50
        assert sorted(ids_of(reopened.retrieve(NAME, ids=ids[:50]))) == sorted(ids[:50])
    finally:
        reopened.close()


def embedded_settings(tmp_path, engine: str, monkeypatch):
    """Settings whose embedded engine is ``engine``, whether or not Settings has the field yet."""
    from artsearch.config import Settings
    from tests.support.indexes import test_settings

    settings = test_settings(tmp_path, "unused-model")
    if "embedded_engine" in {f.name for f in dataclasses.fields(Settings)}:
        return dataclasses.replace(settings, embedded_engine=engine)
    monkeypatch.setenv("ARTSEARCH_EMBEDDED_ENGINE", engine)
    return settings


def test_a_folder_built_by_one_engine_is_not_opened_by_the_other(tmp_path, monkeypatch):
    from artsearch.errors import QdrantUnavailable
    from artsearch.index.client import Qdrant

    local_folder, edge_folder = tmp_path / "local-build", tmp_path / "edge-build"
    local = QdrantClient(path=str(local_folder))
    local.create_collection(NAME, vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE))
    local.close()
    edge = EdgeClient(edge_folder)
    edge.create_collection(NAME, vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE))
    edge.close()
    assert (folder_engine(local_folder), folder_engine(edge_folder)) == ("local", "edge")
    with pytest.raises(EngineMismatch):
        EdgeClient(local_folder)

    settings = embedded_settings(tmp_path, "edge", monkeypatch)
    with pytest.raises(QdrantUnavailable, match="built with the 'local' engine") as exc:
        Qdrant.embedded(settings, local_folder)
    assert "\n" not in str(exc.value) and "ARTSEARCH_EMBEDDED_ENGINE=local" in str(exc.value)
    Qdrant.embedded(settings, edge_folder).close()

    settings = embedded_settings(tmp_path, "local", monkeypatch)
    with pytest.raises(QdrantUnavailable, match="built with the 'edge' engine"):
        Qdrant.embedded(settings, edge_folder)
    Qdrant.embedded(settings, local_folder).close()
    assert os.path.exists(edge_folder / "edge_meta.json")


def test_text_index_and_full_text_filters_match_local_mode(tmp_path, data):
    """index.py's name search: a word-tokenised text index with min_token_len, queried with MatchTextAny."""
    ids, vectors, payloads = data
    params = models.TextIndexParams(
        type=models.TextIndexType.TEXT, tokenizer=models.TokenizerType.WORD, lowercase=True, min_token_len=3
    )
    clients = (QdrantClient(path=str(tmp_path / "local")), EdgeClient(tmp_path / "edge"))
    try:
        for client in clients:
            fill(client, ids, vectors, [dict(p, name_text=f"{p['title']} by {p['artist']}") for p in payloads])
            client.create_payload_index(NAME, "name_text", params)
        q = vectors[3].tolist()
        for words in ("artist", "ARTIST 3", "work 42", "nobody"):
            flt = models.Filter(
                must=[models.FieldCondition(key="name_text", match=models.MatchTextAny(text_any=words))]
            )
            local, edge = (c.query_points(ALIAS, query=q, query_filter=flt, limit=10).points for c in clients)
            assert ids_of(edge) == ids_of(local), words
        # Words shorter than min_token_len are dropped from the query too, so "by" matches nothing in Qdrant
        # (Edge is its engine); local mode disagrees and matches every point.
        flt = models.Filter(must=[models.FieldCondition(key="name_text", match=models.MatchTextAny(text_any="by"))])
        assert clients[1].query_points(ALIAS, query=q, query_filter=flt, limit=10).points == []
    finally:
        for client in clients:
            client.close()


def ties_above_cutoff(points) -> dict[float, set[str]]:
    last = round(points[-1].score, 6)
    groups: dict[float, set[str]] = {}
    for p in points:
        if round(p.score, 6) != last:
            groups.setdefault(round(p.score, 6), set()).add(str(p.id))
    return groups


@pytest.mark.parametrize("fusion", ["rrf-60", "fusion-rrf"])
def test_prefetches_fused_by_rank_match_local_mode(pair, data, fusion):
    """What the name search sends: two prefetches, one filtered, fused by reciprocal rank (Edge runs it natively)."""
    _, vectors, _ = data
    q = vectors[11].tolist()
    named = any_of("artist", ["Artist 2"])
    query = (
        models.RrfQuery(rrf=models.Rrf(k=60)) if fusion == "rrf-60" else models.FusionQuery(fusion=models.Fusion.RRF)
    )
    for offset in (None, 4):
        local, edge = both(
            pair,
            "query_points",
            ALIAS,
            prefetch=[models.Prefetch(query=q, limit=40), models.Prefetch(query=q, filter=named, limit=40)],
            query=query,
            limit=8,
            offset=offset,
        )
        # Fused scores tie (rank r in one list scores as rank r in the other): the engines may order a tie
        # differently, so compare the scores in order and the ids of every tie above the cut-off.
        assert [round(p.score, 6) for p in edge.points] == [round(p.score, 6) for p in local.points]
        assert ties_above_cutoff(edge.points) == ties_above_cutoff(local.points)


def test_batched_set_payload_merges_keys_like_local_mode(tmp_path, data):
    ids, vectors, payloads = data
    clients = (QdrantClient(path=str(tmp_path / "local")), EdgeClient(tmp_path / "edge"))
    try:
        ops = [
            models.SetPayloadOperation(set_payload=models.SetPayload(payload={"x": i / 10, "y": 1.0}, points=[ids[i]]))
            for i in range(5)
        ]
        for client in clients:
            fill(client, ids, vectors, payloads)
            client.batch_update_points(NAME, update_operations=ops, wait=True)
        local, edge = (c.retrieve(NAME, ids=ids[:6], with_payload=True) for c in clients)
        by_id = {str(r.id): r.payload for r in local}
        assert {str(r.id): r.payload for r in edge} == by_id
        assert by_id[ids[3]]["x"] == 0.3 and by_id[ids[3]]["title"] == "Work 3" and "x" not in by_id[ids[5]]
    finally:
        for client in clients:
            client.close()


def _index_storage(edge_folder) -> dict[str, set[bool]]:
    """Edge's own record of each payload index of the optimised segments: field -> {memory-mapped from disk?}."""
    out: dict[str, set[bool]] = {}
    for config in edge_folder.glob("shard/segments/*/payload_index/config.json"):
        for field, kinds in json.loads(config.read_text()).get("indexed_types", {}).items():
            for kind in kinds:
                stored = kind["storage_type"]
                if kind["index_type"] != "null_index" and isinstance(stored, dict) and "mmap" in stored:
                    out.setdefault(field, set()).add(stored["mmap"]["is_on_disk"])  # appendable ones: in RAM
    return out


def test_payload_indexes_are_memory_mapped_and_still_answer_like_local(tmp_path, data):
    """A published build's keyword, text and integer indexes are memory-mapped (PAYLOAD_INDEXES_ON_DISK), not
    rebuilt into RAM on every open (7-8 s and most of the index's memory at 1M); filters and facets on them give
    local mode's answers."""
    local, edge = published_pair(tmp_path, data)
    try:
        for client in (local, edge):
            client.create_payload_index(NAME, "year", models.PayloadSchemaType.INTEGER)
            client.create_payload_index(NAME, "title", models.TextIndexParams(type=models.TextIndexType.TEXT))
        edge.close()
        edge = EdgeClient(tmp_path / "edge")
        storage = _index_storage(tmp_path / "edge")
        assert {f: storage.get(f) for f in ("artist", "genre", "nationality", "year", "title")} == {
            f: {True} for f in ("artist", "genre", "nationality", "year", "title")
        }
        q = np.random.default_rng(3).normal(size=DIM).tolist()
        for flt in (
            any_of("artist", [ARTISTS[0]]),
            models.Filter(must=[models.FieldCondition(key="year", range=models.Range(gte=1850, lt=1900))]),
            models.Filter(must=[models.FieldCondition(key="title", match=models.MatchTextAny(text_any="Work"))]),
        ):
            a = local.query_points(ALIAS, query=q, query_filter=flt, limit=10).points
            b = edge.query_points(ALIAS, query=q, query_filter=flt, limit=10).points
            assert ids_of(b) == ids_of(a)
        assert edge.facet(ALIAS, "genre", limit=10).hits == local.facet(ALIAS, "genre", limit=10).hits
    finally:
        local.close()
        edge.close()


@pytest.mark.parametrize("threshold, graph", [(N, True), (N + 1, False)])
def test_a_graph_is_built_when_a_published_build_reaches_the_size_threshold(
    tmp_path, data, monkeypatch, threshold, graph
):
    """Collections of HNSW_MIN_POINTS or more get an HNSW graph (and the graph's coarser codes) when published, and keep it when
    reopened; smaller ones stay an exact scan with local mode's exact answers. The graph's answers stay close to
    them even on these 16-d random vectors (the worst case for a graph and for coarse codes)."""
    import artsearch.index.edge as edge_module

    monkeypatch.setattr(edge_module, "HNSW_MIN_POINTS", threshold)
    local, edge = published_pair(tmp_path, data)
    try:
        assert edge.get_collection(ALIAS).config.hnsw_config.m == (edge_module.HNSW_M if graph else 0)
        edge.close()
        edge = EdgeClient(tmp_path / "edge")
        assert edge.get_collection(ALIAS).config.hnsw_config.m == (edge_module.HNSW_M if graph else 0)
        assert edge.get_collection(ALIAS).indexed_vectors_count == N
        rng = np.random.default_rng(7)
        overlap = []
        for _ in range(10):
            q = rng.normal(size=DIM).tolist()
            for flt in (None, any_of("artist", ["Artist 2"])):
                a = local.query_points(ALIAS, query=q, query_filter=flt, limit=10).points
                b = edge.query_points(ALIAS, query=q, query_filter=flt, limit=10).points
                if not graph:
                    assert ids_of(b) == ids_of(a)
                overlap.append(len(set(ids_of(a)) & set(ids_of(b))) / 10)
        assert np.mean(overlap) >= 0.95, overlap
    finally:
        local.close()
        edge.close()


def test_a_graph_asked_for_is_kept_whatever_the_size(tmp_path, data):
    ids, vectors, payloads = data
    edge = EdgeClient(tmp_path / "edge")
    try:
        fill(edge, ids, vectors, payloads, hnsw_config=models.HnswConfigDiff(m=8))
        assert edge.get_collection(ALIAS).config.hnsw_config.m == 8
    finally:
        edge.close()
