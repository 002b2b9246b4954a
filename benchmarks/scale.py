"""Vector search at scale: qdrant-client local mode (today's embedded default) against Qdrant Edge.

    .venv/bin/python benchmarks/scale.py                              # 100k, every engine, both distributions
    .venv/bin/python benchmarks/scale.py --points 1000000 --engines edge-scan edge-hnsw   # 1M, Edge only

Same data for every engine: N random 512-d unit vectors with realistic payloads (the query
benchmark's fields), either ``uniform`` (isotropic Gaussian, the worst case for graph indexes)
or ``clustered`` (1000 centres plus noise, closer to real CLIP embeddings), and 100 queries
from the same distribution. Each engine is built in one child process and reopened and
queried in another, so RSS and reopen time are those of a fresh process:

* ``local``: ``QdrantClient(path=...)``, what ``artsearch.index`` opens today; exact numpy
  brute force in Python, so its results do not depend on the distribution (built once, on
  ``uniform``, and reported for both).
* ``edge-scan``: ``qdrant_edge.EdgeShard`` with int8 scalar quantisation, no graph: every query
  scans the int8 copies and rescores 2x limit candidates with the float32 originals.
* ``edge-hnsw``: the same with an HNSW graph (m=16, ef_construct=100, query ef=128).

Columns: build (upsert in batches of 1000, plus ``optimize()`` for Edge), reopen (open the
folder in a fresh process, first count), RSS of that process after opening and querying
(minus the interpreter's RSS before opening), query p50/p95 over 100 queries of top-10 with
payloads, and recall@10 against exact search (numpy over the same float32 vectors).
Local mode at 1M is not run: it builds about 1000 s per 100k points here and keeps every
point as Python objects (see RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.common import CACHE, machine, markdown_table, percentile, rss_mb  # noqa: E402

DIM = 512
QUERIES = 100
K = 10
ENGINES = ("local", "edge-scan", "edge-hnsw")
DISTRIBUTIONS = ("uniform", "clustered")


def make_vectors(n: int, dist: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dist == "uniform":
        v = rng.normal(size=(n, DIM)).astype(np.float32)
    else:
        centres = np.random.default_rng(12345).normal(size=(1000, DIM)).astype(np.float32)
        v = centres[rng.integers(0, 1000, n)] + rng.normal(scale=0.6, size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def payload(i: int) -> dict:
    artist = f"Painter Number {i % 500}"
    return {
        "artwork_id": f"id-{i}",
        "title": f"Study number {i}",
        "artist": artist,
        "artist_slug": artist.lower().replace(" ", "-"),
        "genre": [("Impressionism", "Baroque", "Realism", "Cubism")[i % 4]],
        "nationality": ("French", "Dutch", "Spanish", "Italian")[i % 4],
        "year": 1500 + i % 500,
        "image_key": f"images/art_{i:07d}.jpg",
        "source": "bench",
        "source_url": f"https://example.org/art/{i}",
        "width": 1000,
        "height": 800,
    }


def chunks(n: int, size: int = 1000):
    for start in range(0, n, size):
        yield range(start, min(n, start + size))


# --- child process work -------------------------------------------------------------------------------


def build(engine: str, dist: str, n: int, folder: Path) -> dict:
    vectors = make_vectors(n, dist, seed=1)
    start = time.perf_counter()
    optimize_s = 0.0
    if engine == "local":
        import warnings

        from qdrant_client import QdrantClient, models

        warnings.simplefilter("ignore")
        client = QdrantClient(path=str(folder))
        client.create_collection("bench", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE))
        for ids in chunks(n):
            points = [models.PointStruct(id=i, vector=vectors[i].tolist(), payload=payload(i)) for i in ids]
            client.upsert("bench", points=points, wait=True)
        client.close()
    else:
        import qdrant_edge as qe

        hnsw = (
            qe.HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=10_000)
            if engine == "edge-hnsw"
            else qe.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10_000)
        )
        quant = qe.ScalarQuantizationConfig(qe.ScalarType.Int8, quantile=0.99, always_ram=True)
        config = qe.EdgeConfig(
            vectors=qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Cosine, quantization_config=quant),
            hnsw_config=hnsw,
            optimizers=qe.EdgeOptimizersConfig(indexing_threshold=10_000),
        )
        shard = qe.EdgeShard.create(str(folder), config)
        for name in ("artist", "genre", "nationality"):
            shard.update(qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Keyword))
        for ids in chunks(n):
            shard.update(qe.UpdateOperation.upsert_points([qe.Point(i, vectors[i].tolist(), payload(i)) for i in ids]))
        upserted = time.perf_counter()
        shard.optimize()
        shard.flush()
        optimize_s = time.perf_counter() - upserted
        shard.close()
    return {"build_s": time.perf_counter() - start, "optimize_s": optimize_s}


def query(engine: str, dist: str, n: int, folder: Path) -> dict:
    vectors = make_vectors(n, dist, seed=1)
    queries = make_vectors(QUERIES, dist, seed=2)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :K]
    base_rss = rss_mb()
    start = time.perf_counter()
    if engine == "local":
        import warnings

        from qdrant_client import QdrantClient

        warnings.simplefilter("ignore")
        client = QdrantClient(path=str(folder))
        count = client.count("bench", exact=True).count

        def search(q: np.ndarray) -> list[int]:
            res = client.query_points("bench", query=q.tolist(), limit=K, with_payload=True).points
            return [int(p.id) for p in res]
    else:
        import qdrant_edge as qe

        shard = qe.EdgeShard.load(str(folder))
        count = shard.count(qe.CountRequest(exact=True))
        params = qe.SearchParams(hnsw_ef=128, quantization=qe.QuantizationSearchParams(rescore=True, oversampling=2.0))

        def search(q: np.ndarray) -> list[int]:
            request = qe.QueryRequest(
                limit=K, query=qe.Query.Nearest(q.tolist()), with_payload=True, with_vector=False, params=params
            )
            return [int(p.id) for p in shard.query(request)]

    reopen = time.perf_counter() - start
    assert count == n, (count, n)
    search(queries[0])
    times, recall = [], []
    for q, truth in zip(queries, exact, strict=True):
        t = time.perf_counter()
        got = search(q)
        times.append((time.perf_counter() - t) * 1000)
        recall.append(len(set(got) & set(truth.tolist())) / K)
    del vectors, exact
    return {
        "reopen_s": reopen,
        "rss_mb": rss_mb() - base_rss,
        "p50_ms": percentile(times, 50),
        "p95_ms": percentile(times, 95),
        "recall": float(np.mean(recall)),
    }


def child(args: list[str]) -> None:
    action, engine, dist, n, folder = args
    fn = build if action == "build" else query
    print("RESULT " + json.dumps(fn(engine, dist, int(n), Path(folder))), flush=True)


def run_child(*args: str, timeout: float) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{args}: {proc.stderr[-1500:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=100_000)
    # The default (the embedded engine artsearch uses) runs in about 3 minutes here; add "local edge-hnsw"
    # for the full comparison (about 28 minutes on this 2-core machine).
    parser.add_argument("--engines", nargs="+", default=["edge-scan"], choices=ENGINES)
    parser.add_argument("--distributions", nargs="+", default=list(DISTRIBUTIONS), choices=DISTRIBUTIONS)
    parser.add_argument("--keep", action="store_true", help="keep the built folders (benchmarks/.cache/scale)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    root = CACHE / "scale"
    rows = []
    for engine in args.engines:
        for dist in args.distributions:
            if engine == "local" and dist != args.distributions[0]:
                continue  # brute force: the distribution changes nothing (module docstring)
            folder = root / f"{engine}-{dist}-{args.points}"
            shutil.rmtree(folder, ignore_errors=True)
            folder.parent.mkdir(parents=True, exist_ok=True)
            print(f"{engine} {dist} {args.points}: building", file=sys.stderr, flush=True)
            b = run_child("build", engine, dist, str(args.points), str(folder), timeout=3600)
            q = run_child("query", engine, dist, str(args.points), str(folder), timeout=1800)
            size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6
            label = "local (qdrant-client `path=`, today's default)" if engine == "local" else engine
            rows.append(
                [
                    label,
                    dist if engine != "local" else "any",
                    f"{args.points:,}",
                    f"{b['build_s']:.1f}" + (f" (optimize {b['optimize_s']:.1f})" if engine != "local" else ""),
                    f"{q['reopen_s']:.2f}",
                    f"{q['rss_mb']:.0f}",
                    f"{size:.0f}",
                    f"{q['p50_ms']:.2f}",
                    f"{q['p95_ms']:.2f}",
                    f"{q['recall']:.3f}",
                ]
            )
            print("  " + " | ".join(rows[-1]), file=sys.stderr, flush=True)  # partial results survive a kill
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)
    print(f"\nEmbedded vector search, {DIM}-d cosine, top {K} with payloads, {QUERIES} queries; {machine()}\n")
    headers = ["engine", "vectors", "points", "build s", "reopen s", "RSS MB", "disk MB", "p50 ms", "p95 ms"]
    print(markdown_table([*headers, "recall@10"], rows))
    print("\nTargets at 100k (embedded default): p95 <= 50 ms, reopen <= 2 s.")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
    main()
