"""The colour search at 10,000 artworks: query latency of a plain vector search, the same with one and two colours
(the Lab-cube keyword filter inside Qdrant), and the colours alone (tiered filtered scrolls), side by side; and the
alternative that needs no index structure: the vector's top N without a filter, the exact colour rule applied
after (``post-filter top N``), with how many of the filter's 12 results it finds.

    .venv/bin/python benchmarks/colour.py                 # 10k points, 512-d, embedded Qdrant Edge
    .venv/bin/python benchmarks/colour.py --points 2000

Every point gets a random unit vector and the palette of a random picture of 2-4 flat colour bands
(artsearch.colour.palette on a 64 px image), so ``colour_keys`` are what an ingest stores. Queries go through
SearchService.page with a fixed random query vector (no encoder), as the page runs them; p50/p95 over the rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from artsearch import colour  # noqa: E402
from artsearch.config import load_settings  # noqa: E402
from artsearch.index.filters import Filters  # noqa: E402
from artsearch.index.write import IndexBuilder  # noqa: E402
from artsearch.search import PageOptions, Query, SearchService  # noqa: E402


def random_palette(rng: np.random.Generator) -> list[dict]:
    bands = int(rng.integers(2, 5))
    shares = rng.dirichlet(np.ones(bands))
    pixels = np.zeros((64, 64, 3), dtype=np.uint8)
    top = 0
    for n, share in enumerate(shares):
        rows = 64 - top if n == bands - 1 else int(round(64 * share))
        pixels[top : top + rows] = rng.integers(0, 256, 3)
        top += rows
    return colour.palette(Image.fromarray(pixels))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    root = Path(tempfile.mkdtemp(prefix="colour-bench-"))
    settings = load_settings(secrets={}, env={}, qdrant_path=root / "qdrant", data_dir=root / "data")
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"c/{i}")) for i in range(args.points)]
    vectors = rng.normal(size=(args.points, args.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    start = time.perf_counter()
    payloads = []
    for i in range(args.points):
        entries = random_palette(rng)
        payloads.append(
            {
                "title": f"Work {i}",
                "artist": f"A{i % 50}",
                "palette": entries,
                "colour_keys": colour.colour_keys(entries),
            }
        )
    built = time.perf_counter() - start
    builder = IndexBuilder.start_build(settings, args.dim, resume=False)
    try:
        for s in range(0, args.points, 500):
            builder.upsert(ids[s : s + 500], vectors[s : s + 500], payloads[s : s + 500])
        builder.publish()
    finally:
        builder.close()
    service = SearchService(settings)
    query = rng.normal(size=args.dim).astype(np.float32)
    query /= np.linalg.norm(query)
    cases = {
        "vector only": (Query(text="x", k=12), query),
        "vector + one colour": (Query(text="x", k=12, filters=Filters(colour=[colour.DEFAULT_COLOURS[0]])), query),
        "vector + two colours": (Query(text="x", k=12, filters=Filters(colour=list(colour.DEFAULT_COLOURS))), query),
        "one colour alone": (Query(k=12, filters=Filters(colour=[colour.DEFAULT_COLOURS[0]])), None),
        "two colours alone": (Query(k=12, filters=Filters(colour=list(colour.DEFAULT_COLOURS))), None),
    }
    timings: dict[str, list[float]] = {name: [] for name in cases}
    found: dict[str, int] = {}
    options = PageOptions(collapse=False)
    for q, vector in cases.values():  # one untimed round: what a service does once (open, look for its models)
        service.page(q, options, vector=vector) if vector is not None else service.page(q, options)
    for _ in range(args.rounds):  # round robin, so load changes hit every case alike
        for name, (q, vector) in cases.items():
            start = time.perf_counter()
            page = service.page(q, options, vector=vector) if vector is not None else service.page(q, options)
            timings[name].append((time.perf_counter() - start) * 1000)
            found[name] = len(page.hits)
    # The alternative: no index structure, the exact rule on the vector's unfiltered top N.
    post: dict[str, list[float]] = {}
    post_found: dict[str, float] = {}
    for colours in ([colour.DEFAULT_COLOURS[0]], list(colour.DEFAULT_COLOURS)):
        truth = {
            h.artwork_id
            for h in service.page(Query(text="x", k=12, filters=Filters(colour=colours)), options, vector=query).hits
        }
        for top in (100, 1000):
            name = f"post-filter top {top}, {len(colours)} colour{'s' if len(colours) > 1 else ''}"
            post[name] = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                points = service.index.query(query.tolist(), limit=top, with_vectors=False)
                kept = [str(p.id) for p in points if colour.has_colours(p.payload or {}, colours)][:12]
                post[name].append((time.perf_counter() - start) * 1000)
            post_found[name] = len(set(kept) & truth) / max(1, len(truth))
            found[name] = len(kept)
    timings.update(post)
    service.index.close()
    print(
        f"load: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores; {args.points} points, {args.dim}-d, "
        f"palettes made in {built:.1f} s"
    )
    base = statistics.median(timings["vector only"])
    print("| query | p50 ms | p95 ms | x vector only | results | of the filter's results |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, values in timings.items():
        values.sort()
        p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
        print(
            f"| {name} | {statistics.median(values):.1f} | {p95:.1f} | {statistics.median(values) / base:.2f} | "
            f"{found[name]} | {f'{post_found[name]:.2f}' if name in post_found else '-'} |"
        )


if __name__ == "__main__":
    main()
