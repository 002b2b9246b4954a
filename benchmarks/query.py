"""Query latency and memory on a 10,000-artwork embedded collection.

    .venv/bin/python benchmarks/query.py                        # torch and onnx-int8, 3 rounds
    .venv/bin/python benchmarks/query.py --paths torch onnx onnx-int8 torch-bf16 torch-int8 --rounds 2
    .venv/bin/python benchmarks/query.py --no-memory            # skip the Streamlit process measurement
    ARTSEARCH_TEST_ENGINE=local .venv/bin/python benchmarks/query.py   # qdrant-client local mode instead of Edge
    .venv/bin/python benchmarks/query.py --hub --no-memory      # the model by its hub name, from a hub cache

Builds once (into benchmarks/.cache/query-10k) an embedded collection of N random unit vectors
with realistic payloads (50 artists, genres, years, image keys that exist in storage), then
measures through ``SearchService.page``, the call the page and the CLI make, end to end (encode,
Qdrant query, payloads, image URL, artist record, copies folded):

* text query (target p50 <= 40 ms, p95 <= 80 ms), per inference path;
* image query, a 1000x800 JPEG upload (target p50 <= 150 ms), per inference path;
* "more like this" on a stored id, no encode (target p50 <= 10 ms);
* for the breakdown: text encode alone, image encode alone, ``VectorIndex.query`` alone and
  numpy brute force over the same vectors.

Rounds interleave every measurement, so the table's figures share the machine's load. With ``--hub`` the
model is loaded the way users load the real one, by the name ``clip-ViT-B-32`` from a Hugging Face cache
(the same random weights, in the hub repo's layout); a path that fell back (no export found) is measured as
what it ran, and the table says so.
Memory (target 5): a child process runs ``app.py`` through Streamlit's ``AppTest`` (the same
script, imports and cached resources as the server), searches by text and by an uploaded image,
and reports its RSS; once per inference path (``ARTSEARCH_INFERENCE``).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.common import (  # noqa: E402
    CACHE,
    ROOT,
    base_model,
    hub_model,
    machine,
    markdown_table,
    percentile,
    rss_mb,
    synthetic_jpeg,
)

ARTISTS = [f"Painter Number {i}" for i in range(50)]
GENRES = ["Impressionism", "Baroque", "Romanticism", "Realism", "Cubism", "Expressionism", "Surrealism"]
NATIONS = ["French", "Dutch", "Spanish", "Italian", "German", "Russian", "American"]
TEXTS = [
    f"a {a} {b}"
    for a in ("gloomy", "sunlit", "stormy", "quiet", "crowded", "golden", "frozen", "misty")
    for b in ("winter landscape", "harbour at dawn", "portrait of a woman", "still life with fruit", "city street")
]


def settings_for(root: Path, model: str, **kw):
    from tests.support.indexes import test_settings

    return test_settings(root, model, batch_size=32, **kw)


def build_collection(root: Path, n: int, dim: int, model: str) -> None:
    """N random unit vectors with realistic payloads, published under the alias (skipped if already built)."""
    from artsearch.catalog import Artist, slugify
    from artsearch.index.read import VectorIndex
    from artsearch.index.write import IndexBuilder
    from artsearch.storage.local import LocalStorage

    settings = settings_for(root, model)
    try:
        index = VectorIndex(settings)
        count = index.count()
        index.close()
        if count == n:
            return
    except Exception:  # not built yet  # noqa: BLE001
        pass
    print(f"building a {n}-point collection in {root} (once)", file=sys.stderr, flush=True)
    storage = LocalStorage(settings.data_dir)
    images = settings.data_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    for i in range(64):
        path = images / f"art_{i:03d}.jpg"
        if not path.is_file():
            from PIL import Image

            buf = io.BytesIO()
            Image.open(io.BytesIO(synthetic_jpeg(i))).resize((300, 240)).save(buf, "JPEG", quality=85)
            path.write_bytes(buf.getvalue())
    storage.write_artists({slugify(a): Artist(name=a, slug=slugify(a), bio=f"{a} painted things.") for a in ARTISTS})
    rng = np.random.default_rng(0)
    builder = IndexBuilder.start_build(settings, dim, resume=False)
    try:
        for start in range(0, n, 500):
            ids, vectors, payloads = [], [], []
            for i in range(start, min(n, start + 500)):
                artist = ARTISTS[i % len(ARTISTS)]
                ids.append(f"00000000-0000-4000-8000-{i:012d}")
                payloads.append(
                    {
                        "artwork_id": ids[-1],
                        "title": f"Study number {i}",
                        "artist": artist,
                        "artist_slug": slugify(artist),
                        "genre": [GENRES[i % len(GENRES)]],
                        "nationality": NATIONS[i % len(NATIONS)],
                        "year": 1500 + i % 500,
                        "image_key": f"images/art_{i % 64:03d}.jpg",
                        "source": "bench",
                        "source_url": f"https://example.org/art/{i}",
                        "width": 1000,
                        "height": 800,
                    }
                )
            v = rng.normal(size=(len(ids), dim)).astype(np.float32)
            vectors = v / np.linalg.norm(v, axis=1, keepdims=True)
            builder.upsert(ids, vectors, payloads)
        builder.publish()
    finally:
        builder.close()


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - start) * 1000


def memory_child() -> None:
    """Run app.py in AppTest (environment already set), search by text and image, print RSS as JSON."""
    from streamlit.testing.v1 import AppTest

    from artsearch.config import load_settings
    from artsearch.web import resources

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.text_input(key="q").input("a gloomy winter landscape")
    at.run()
    searched = not at.exception
    at.radio(key="mode").set_value("image").run()
    at.file_uploader(key="upload").set_value(("upload.jpg", synthetic_jpeg(7), "image/jpeg"))
    at.run()
    service = resources.get_service(load_settings(secrets={}, env=os.environ))
    encoder = service._encoder
    out = {
        "rss_mb": rss_mb(),
        "peak_mb": peak_mb(),
        "ok": searched and not at.exception,
        "inference": getattr(encoder, "inference", "torch") if encoder is not None else "not loaded",
        "errors": [e.value for e in at.exception][:2],
    }
    print("MEMORY " + json.dumps(out))


def peak_mb() -> float:
    """This process's peak RSS (VmHWM; ru_maxrss would include the parent's, inherited across fork + exec)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1e3
    return float("nan")


def measure_memory(root: Path, model: str, inference: str) -> dict:
    settings = settings_for(root, model)
    env = dict(
        os.environ,
        QDRANT_URL="",
        QDRANT_PATH=str(settings.qdrant_path),
        ARTSEARCH_DATA_DIR=str(settings.data_dir),
        EMBEDDER_NAME=model,
        ARTSEARCH_DEVICE="cpu",
        ARTSEARCH_STORAGE_BACKEND="local",
        ARTSEARCH_INFERENCE=inference,
        ARTSEARCH_EMBEDDED_ENGINE=getattr(settings, "embedded_engine", "local"),
        ARTSEARCH_SECRETS=str(root / "no-secrets.toml"),
    )
    proc = subprocess.run(
        [sys.executable, __file__, "--memory-child"], env=env, capture_output=True, text=True, timeout=600
    )
    for line in proc.stdout.splitlines():
        if line.startswith("MEMORY "):
            return json.loads(line[7:])
    return {"rss_mb": float("nan"), "peak_mb": float("nan"), "ok": False, "errors": [proc.stderr[-500:]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--text-queries", type=int, default=15, help="per path per round")
    parser.add_argument("--image-queries", type=int, default=4, help="per path per round")
    parser.add_argument("--paths", nargs="+", default=["torch", "onnx-int8"])
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--hub", action="store_true", help="load the model by its hub name from a hub cache")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.memory_child:
        memory_child()
        return

    from artsearch.config import ONNX_PATHS
    from artsearch.index.read import VectorIndex
    from artsearch.model.encoder import Encoder, export_model
    from artsearch.search import Query, SearchService

    model = hub_model() if args.hub else str(base_model())
    onnx = [p for p in args.paths if p in ONNX_PATHS]
    if onnx:
        try:
            export_model(model, onnx)
        except Exception as exc:  # noqa: BLE001 - an older artsearch could not export a hub model: measure that
            print(f"export of {model} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    engine = getattr(settings_for(CACHE, model), "embedded_engine", "local")  # ARTSEARCH_EMBEDDED_ENGINE
    root = CACHE / f"query-{args.points}-{engine}"
    encoders = {p: Encoder(model, device="cpu", batch_size=32, inference=p) for p in args.paths}
    ran = {p: enc.inference for p, enc in encoders.items()}
    for p, actual in ran.items():
        if actual != p:
            print(f"ARTSEARCH_INFERENCE={p} fell back to {actual} for {model}", file=sys.stderr)
    dim = next(iter(encoders.values())).dim
    build_collection(root, args.points, dim, model)
    settings = settings_for(root, model)
    index = VectorIndex(settings)  # one client per embedded folder and process: shared by the services
    services = {p: SearchService(settings, encoder=enc, index=index) for p, enc in encoders.items()}
    first = next(iter(services.values()))
    records, offset = [], None
    with index.qdrant().call() as c:
        while True:
            batch, offset = c.scroll(index.alias, limit=2000, offset=offset, with_vectors=True, with_payload=False)
            records += batch
            if offset is None:
                break
    ids = [str(r.id) for r in records]
    vectors = np.asarray([r.vector for r in records], np.float32)
    uploads = [synthetic_jpeg(10_000 + i) for i in range(8)]
    rng = np.random.default_rng(1)

    samples: dict[str, list[float]] = {}

    def add(key: str, ms: float) -> None:
        samples.setdefault(key, []).append(ms)

    # warm-up: first calls load lazily (artists.json, the collection, ORT/torch kernels)
    for service in services.values():
        service.page(Query(text="warm up"))
        service.page(Query(image=uploads[0]))
        service.page(Query(like_id=ids[0]))
    for r in range(args.rounds):
        print(f"round {r + 1}/{args.rounds}", file=sys.stderr, flush=True)
        for p, service in services.items():
            enc = encoders[p]
            for i in range(args.text_queries):
                text = TEXTS[(r * args.text_queries + i) % len(TEXTS)]
                add(f"text {p}", timed(service.page, Query(text=text)))
                add(f"text encode {p}", timed(enc.encode_texts, [text + " again"]))
            for i in range(args.image_queries):
                data = uploads[(r + i) % len(uploads)]
                add(f"image {p}", timed(service.page, Query(image=data)))
                add(f"image encode {p}", timed(service.image_vector, data))
        for _i in range(args.text_queries):
            like = ids[int(rng.integers(len(ids)))]
            add("like", timed(first.page, Query(like_id=like)))
            q = vectors[int(rng.integers(len(ids)))]
            add("index.query", timed(index.query, q))
            add("numpy brute force", timed(lambda q=q: np.argpartition(-(vectors @ q), 12)[:12]))

    def row(label: str, key: str, target: str = "") -> list[str]:
        v = samples[key]
        return [label, f"{percentile(v, 50):.1f}", f"{percentile(v, 95):.1f}", str(len(v)), target]

    rows = []
    for p in args.paths:
        label = p if ran[p] == p else f"{p} (fell back: ran {ran[p]})"
        rows.append(row(f"**text query end to end, {label}**", f"text {p}", "p50 <= 40, p95 <= 80"))
        rows.append(row(f"  text encode only, {label}", f"text encode {p}"))
        rows.append(row(f"**image query end to end, {label}** (1000x800 JPEG upload)", f"image {p}", "p50 <= 150"))
        rows.append(row(f"  image decode + encode only, {label}", f"image encode {p}"))
    rows.append(row("**more like this** (stored id, no encode)", "like", "p50 <= 10"))
    rows.append(row("  VectorIndex.query alone (vector in, 12 hits + payloads)", "index.query"))
    rows.append(row("  numpy brute force over the same vectors", "numpy brute force"))
    print(
        f"\nQuery latency in ms, {len(ids)} points, embedded Qdrant (engine: {engine}), model {model}"
        f"{' from a hub cache' if args.hub else ''}, {args.rounds} interleaved rounds; {machine()}\n"
    )
    print(markdown_table(["query", "p50 ms", "p95 ms", "n", "target"], rows))

    if not args.no_memory:
        index.close()
        mem_rows = []
        for p in args.paths:
            m = measure_memory(root, model, p)
            mem_rows.append(
                [
                    f"app.py (AppTest) + model + {len(ids)} points, ARTSEARCH_INFERENCE={p}",
                    m.get("inference", "?"),
                    f"{m['rss_mb']:.0f}",
                    f"{m['peak_mb']:.0f}",
                    "yes" if m.get("ok") else f"no: {m.get('errors')}",
                ]
            )
        print("\nMemory of the Streamlit script process after a text and an image search (target < 1500 MB)\n")
        print(markdown_table(["process", "path in use", "RSS MB", "peak RSS MB", "searches ok"], mem_rows))


if __name__ == "__main__":
    main()
