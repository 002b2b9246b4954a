"""Embedded engines at scale: qdrant-client local mode vs Qdrant Edge, through artsearch's own index API.

For each vector kind (uniform random unit vectors, the worst case for HNSW;
clustered ones, which resemble CLIP embeddings) and each size, every engine
builds a collection with ``IndexBuilder`` (start_build, upsert batches,
publish, close) and then a fresh process opens it with ``VectorIndex`` and
queries it: reopen time (open plus the first query), RSS, query p50/p95 with
and without a payload filter, and recall@10 against exact numpy search.

Each build and each serving run is its own subprocess, so RSS and reopen times
are not polluted by the other engine.

    .venv/bin/python benchmarks/scale_edge.py              # 10k and 100k, both kinds; local only at 10k
    .venv/bin/python benchmarks/scale_edge.py --sizes 100000 --engines edge,edge-exact,edge-hnsw
    .venv/bin/python benchmarks/scale_edge.py --local-max 100000   # local at 100k too (20+ minutes)

Engines: ``local`` (qdrant-client, ``path=``); ``edge`` (EdgeClient's
defaults: no graph, int8 copies rescored with float32 originals kept on disk);
variants of it named by what they switch on: ``edge-exact`` (float32 only, no
graph), ``edge-int8`` (int8, originals in RAM), ``edge-int8-cold`` (= the
defaults), ``edge-hnsw`` (float32 with an m=16 HNSW graph, ef 128).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DIM = 512
ARTISTS = 2000  # about 50 works each at 100k, like a big museum collection
BATCH = 256


# --- data ----------------------------------------------------------------------------------------------


def make_vectors(kind: str, n: int, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(collection, queries), unit length, float32.

    Clustered: 1,000 Gaussian clusters around random centres plus one shared
    direction (CLIP embeddings share a common component, so unrelated images
    still score above zero): unrelated pairs score about 0.2, pairs within a
    cluster about 0.8.
    Queries are perturbed held-out points, like a text query landing near a
    group of paintings. Uniform: isotropic Gaussian directions, the case where
    nearest neighbours are barely nearer than anything else.
    """
    rng = np.random.default_rng(seed)
    total = n + n_queries
    if kind == "uniform":
        x = rng.standard_normal((total, DIM), dtype=np.float32)
    else:
        centres = rng.standard_normal((1000, DIM), dtype=np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        common = rng.standard_normal(DIM, dtype=np.float32)
        common /= np.linalg.norm(common)
        labels = rng.integers(0, len(centres), total)
        noise = rng.standard_normal((total, DIM), dtype=np.float32) * (0.5 / np.sqrt(DIM))
        x = 0.6 * common + centres[labels] + noise
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    data, queries = x[:n], x[n:]
    if kind != "uniform":
        queries = queries + rng.standard_normal(queries.shape, dtype=np.float32) * (0.4 / np.sqrt(DIM))
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return np.ascontiguousarray(data), np.ascontiguousarray(queries)


def point_ids(n: int) -> list[str]:
    return [str(uuid.UUID(int=i + 1)) for i in range(n)]


def payload(i: int) -> dict:
    return {
        "artwork_id": str(uuid.UUID(int=i + 1)),
        "title": f"Work {i}",
        "artist": f"Artist {i % ARTISTS}",
        "artist_slug": f"artist-{i % ARTISTS}",
        "genre": [f"Genre {i % 30}"] + ([f"Genre {(i // 30) % 30}"] if i % 3 == 0 else []),
        "nationality": f"Country {i % 40}",
        "year": 1400 + i % 600,
        "source": "bench",
    }


FILTER_ARTISTS = ["Artist 7", "Artist 1234"]


# --- one engine in a subprocess ------------------------------------------------------------------------------


def settings_for(root: Path, engine: str):
    from artsearch.config import Settings, load_settings

    os.environ["ARTSEARCH_EMBEDDED_ENGINE"] = "local" if engine == "local" else "edge"
    overrides = {}
    if "embedded_engine" in Settings.__dataclass_fields__:
        overrides["embedded_engine"] = os.environ["ARTSEARCH_EMBEDDED_ENGINE"]
    return load_settings(
        secrets={}, env={}, qdrant_path=root / "qdrant", data_dir=root / "data", embedder_name="unused", **overrides
    )


def configure_engine(engine: str) -> None:
    import artsearch.index.edge as ec

    # Variants of the Edge engine; plain "edge" is EdgeClient's defaults.
    if engine.startswith("edge-"):
        ec.HNSW_M = 16 if "hnsw" in engine else 0  # 0: optimised segments without a graph, searched exactly
        ec.DEFAULT_QUANTIZATION = "int8" if "int8" in engine else None
        ec.VECTORS_ON_DISK = "cold" in engine


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def child_build(root: Path, engine: str, kind: str, n: int, n_queries: int) -> dict:
    import warnings

    from artsearch.index.write import IndexBuilder

    configure_engine(engine)
    warnings.simplefilter("ignore")
    settings = settings_for(root, engine)
    data, _ = make_vectors(kind, n, n_queries)
    ids = point_ids(n)
    start = time.perf_counter()
    builder = IndexBuilder.start_build(settings, DIM, resume=False)
    for s in range(0, n, BATCH):
        builder.upsert(ids[s : s + BATCH], data[s : s + BATCH], [payload(i) for i in range(s, min(n, s + BATCH))])
    upserted = time.perf_counter()
    builder.publish()
    builder.close()
    end = time.perf_counter()
    return {"build_s": end - start, "upsert_s": upserted - start, "publish_s": end - upserted}


def child_serve(root: Path, engine: str, kind: str, n: int, n_queries: int) -> dict:
    import warnings

    from artsearch.index.filters import Filters
    from artsearch.index.read import VectorIndex

    configure_engine(engine)
    warnings.simplefilter("ignore")
    settings = settings_for(root, engine)
    data, queries = make_vectors(kind, n, n_queries)
    ids = point_ids(n)
    position = {u: i for i, u in enumerate(ids)}
    truth = np.argsort(-(queries @ data.T), axis=1)[:, :10]
    mask = np.isin(np.arange(n) % ARTISTS, [int(a.split()[1]) for a in FILTER_ARTISTS])
    scores = queries @ data.T
    scores[:, ~mask] = -np.inf
    truth_filtered = np.argsort(-scores, axis=1)[:, :10]
    del scores
    rss_before = rss_mb()

    start = time.perf_counter()
    index = VectorIndex(settings)
    index.query(queries[0], limit=10)
    reopen = time.perf_counter() - start

    def run(filters) -> tuple[list[float], float]:
        lat, recall = [], []
        wanted = truth if filters is None else truth_filtered
        for qi, q in enumerate(queries):
            t = time.perf_counter()
            points = index.query(q, filters=filters, limit=10)
            lat.append(time.perf_counter() - t)
            got = {position[str(p.id)] for p in points}
            recall.append(len(got & set(wanted[qi].tolist())) / 10)
        return lat, float(np.mean(recall))

    plain, recall = run(None)
    filtered, recall_f = run(Filters(artist=FILTER_ARTISTS))
    out = {
        "reopen_s": reopen,
        "rss_mb": rss_mb() - rss_before,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3,
        "p50_ms": 1000 * float(np.percentile(plain, 50)),
        "p95_ms": 1000 * float(np.percentile(plain, 95)),
        "p50_f_ms": 1000 * float(np.percentile(filtered, 50)),
        "p95_f_ms": 1000 * float(np.percentile(filtered, 95)),
        "recall": recall,
        "recall_f": recall_f,
    }
    index.close()
    return out


def in_child(mode: str, root: Path, engine: str, kind: str, n: int, n_queries: int, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, str(root), engine, kind, str(n), str(n_queries)]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"{mode} timed out after {timeout:.0f} s"}
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"rc {result.returncode}"}
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- the table ------------------------------------------------------------------------------------------


def fmt_row(engine: str, kind: str, n: int, r: dict) -> str:
    if "error" in r:
        return f"| {engine} | {kind} | {n // 1000}k | {r['error']} |||||||"
    build = f"{r['build_s']:.1f} s ({r['upsert_s']:.1f} + {r['publish_s']:.1f})"
    return (
        f"| {engine} | {kind} | {n // 1000}k | {build} | {r['reopen_s']:.2f} s | {r['rss_mb']:.0f} MB | "
        f"{r['p50_ms']:.1f} / {r['p95_ms']:.1f} ms | {r['p50_f_ms']:.1f} / {r['p95_f_ms']:.1f} ms | "
        f"{r['recall']:.3f} / {r['recall_f']:.3f} |"
    )


HEADER = (
    "| engine | vectors | N | build (upsert + publish) | reopen | RSS | query p50 / p95 | filtered p50 / p95 "
    "| recall@10 / filtered |\n|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--kinds", default="clustered,uniform")
    # Edge alone fits in 10 minutes here; "--engines local,edge" adds qdrant-client local mode for comparison.
    parser.add_argument("--engines", default="edge")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument(
        "--local-max", type=int, default=10_000, help="largest N for the local engine (its 100k build takes 20+ min)"
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds per build or serving run")
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, root, engine, kind, n, nq = args.child
        fn = child_build if mode == "build" else child_serve
        print(json.dumps(fn(Path(root), engine, kind, int(n), int(nq))))
        return

    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.queries} queries, top 10, {DIM}-d cosine"
    )
    print(HEADER, flush=True)
    started = time.perf_counter()
    for n in [int(s) for s in args.sizes.split(",")]:
        for kind in args.kinds.split(","):
            for engine in args.engines.split(","):
                if engine == "local" and n > args.local_max:
                    print(f"| local | {kind} | {n // 1000}k | skipped (--local-max {args.local_max}) |||||||")
                    continue
                root = Path(tempfile.mkdtemp(prefix=f"scale-{engine}-{kind}-{n}-"))
                try:
                    result = in_child("build", root, engine, kind, n, args.queries, args.timeout)
                    if "error" not in result:
                        result |= in_child("serve", root, engine, kind, n, args.queries, args.timeout)
                finally:
                    shutil.rmtree(root, ignore_errors=True)
                print(fmt_row(engine, kind, n, result), flush=True)
    print(f"total {time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
