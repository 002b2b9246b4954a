"""Ingest throughput (the seed's naive loop, the bare model forward, run_ingest per inference path), and
incremental rebuilds (full, unchanged, 1% new).

    .venv/bin/python benchmarks/ingest.py                       # 256 JPEGs, 3 repeats, every path
    .venv/bin/python benchmarks/ingest.py --images 128 --repeats 2 --paths torch onnx-int8
    .venv/bin/python benchmarks/ingest.py --profile             # plus where the time goes
    .venv/bin/python benchmarks/ingest.py --table rebuild       # the rebuild table, 256 JPEGs
    .venv/bin/python benchmarks/ingest.py --table rebuild --images 10000 --size 500x400 --repeats 1

Builds (once, into benchmarks/.cache) the random-weight clip-ViT-B-32 and N synthetic 1000x800
q90 JPEGs, exports the ONNX paths, then measures, round-robin within each repeat so that every
ratio compares figures taken under the same machine load:

* ``naive``: the seed's loop, ``Image.open`` + ``model.encode`` one image at a time (on 64 images);
* ``forward <path>``: the vision tower alone on the pre-decoded, preprocessed images, batch 32,
  ``torch.inference_mode`` (the ceiling for ingest on that path);
* ``ingest <path>``: ``run_ingest`` end to end (folder source, decode threads, encode, upsert
  into embedded Qdrant in a fresh folder), fp32 torch and each fast path.

Prints one markdown table: images/s (median of repeats), ingest/forward of the same path
(target 1: >= 0.85 for torch fp32) and ingest/naive (target 2: >= 4x on a fast path).

``--table rebuild`` runs ``artsearch.rebuild.rebuild`` itself on a folder of N JPEGs lying in the data
folder (as Kaggle's do), each repeat in a fresh index and vector cache, in this order: a full rebuild (empty
cache), an unchanged one, one after adding 1% new images, and an unchanged one that loads no model (the
command line's path: no encoder passed in). The first three get the loaded encoder of ``--paths``' first
path, so the model's load time is in none of them (it is measured on its own: the unchanged rebuild
without an encoder skips it). Targets: unchanged >= 30x faster than full; the 1% rebuild <= 1.5x
(embedding the 1% + the unchanged rebuild), where embedding n images costs n / (the full rebuild's
images/s); reused vectors bit-identical to the full build's. ``--profile`` adds where the unchanged
rebuild's time goes.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.common import CACHE, base_model, jpeg_folder, machine, markdown_table  # noqa: E402

PATHS = ("torch", "onnx", "onnx-int8", "torch-bf16", "torch-int8")


def naive_rate(model_path: Path, files: list[Path], encoder_cache: dict) -> float:
    """The seed: open one image, ``model.encode`` it alone, next."""
    from PIL import Image

    model = encoder_cache["torch"].model
    start = time.perf_counter()
    for path in files:
        model.encode(Image.open(path), convert_to_numpy=True, show_progress_bar=False)
    return len(files) / (time.perf_counter() - start)


def forward_rate(encoder, batches) -> float:
    start = time.perf_counter()
    n = 0
    for features in batches:
        encoder.encode_features(features)
        n += len(features["pixel_values"])
    return n / (time.perf_counter() - start)


def ingest_rate(encoder, folder: Path, batch_size: int, workers: int) -> float:
    from artsearch.index.write import IndexBuilder
    from artsearch.ingest import run_ingest
    from artsearch.sources.folder import FolderSource
    from artsearch.storage.local import LocalStorage
    from tests.support.indexes import test_settings

    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        settings = test_settings(tmp, str(encoder.name), batch_size=batch_size, decode_workers=workers)
        storage = LocalStorage(folder.parent)  # the images already lie in storage: nothing is copied
        source = FolderSource(folder, storage_root=folder.parent)
        builder = IndexBuilder.start_build(settings, encoder.dim)
        try:
            report = run_ingest(
                source, settings=settings, encoder=encoder, storage=storage, builder=builder, progress=False
            )
        finally:
            builder.close()
    if report.skipped:
        raise RuntimeError(f"benchmark images were skipped: {report.skipped[:3]}")
    return report.images_per_second


def per_image_ms(files: list[Path], encoder) -> tuple[float, float]:
    """Median ms per image for decode (Pillow with ``draft``) and CLIP preprocessing, one image at a time."""
    from artsearch.images import load_image
    from artsearch.ingest import DRAFT_SIZE

    decode, prep = [], []
    for path in files:
        data = path.read_bytes()
        t0 = time.perf_counter()
        image = load_image(data, draft_size=DRAFT_SIZE)
        t1 = time.perf_counter()
        encoder.preprocess_images([image])
        decode.append(t1 - t0)
        prep.append(time.perf_counter() - t1)
    return 1000 * statistics.median(decode), 1000 * statistics.median(prep)


def onnx_profile(model_path: Path, inference: str, batch, runs: int = 3) -> list[list[str]]:
    """ONNX Runtime's own per-operator profile of the vision tower: ms per batch and share, top 8."""
    import json
    from collections import Counter

    import onnxruntime as ort

    from artsearch.model.backends import session_options
    from artsearch.model.export import check_cache, export_folder
    from artsearch.model.locate import locate

    model = locate(str(model_path))
    files = check_cache(export_folder(model), inference, model.fingerprint)
    opts = session_options()
    with tempfile.TemporaryDirectory(prefix="bench_profile_") as tmp:
        opts.enable_profiling = True
        opts.profile_file_prefix = str(Path(tmp) / "ort")
        session = ort.InferenceSession(str(files["vision"]), opts, providers=["CPUExecutionProvider"])
        pixels = batch["pixel_values"].numpy()
        for _ in range(runs + 1):  # the first run is warm-up, left out below
            session.run(None, {"pixel_values": pixels})
        events = json.loads(Path(session.end_profiling()).read_text())
    per_op: Counter[str] = Counter()
    seen: Counter[str] = Counter()  # the n-th event of a node belongs to run n
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            seen[event["name"]] += 1
            if seen[event["name"]] > 1:
                per_op[event["args"]["op_name"]] += event["dur"]
    total = sum(per_op.values())
    scale = 1000 * runs  # microseconds over the timed runs -> ms per batch
    rows = [[op, f"{us / scale:.0f}", f"{100 * us / total:.1f}%"] for op, us in per_op.most_common(8)]
    rows.append(["all operators", f"{total / scale:.0f}", "100%"])
    return rows


def print_profile(args, model_path: Path, files: list[Path], encoders, batches, med: dict[str, float]) -> None:
    """Per-image decode and preprocessing cost, the best ingest rate these cores allow per path, and where the
    ONNX paths' forward time goes (ONNX Runtime's per-operator profile)."""
    from artsearch.model.backends import cpu_threads

    decode_ms, prep_ms = per_image_ms(files[:64], encoders["torch"])
    cores = cpu_threads()
    print(f"\nPer image, one at a time: decode with draft {decode_ms:.1f} ms, CLIP preprocessing {prep_ms:.1f} ms\n")
    rows = []
    for p in encoders:
        fwd = med[f"forward {p}"]
        model_ms = 1000 * cores / fwd  # core-ms per image while every core runs the forward
        ceiling = 1000 * cores / (model_ms + decode_ms + prep_ms)
        rows.append(
            [p, f"{model_ms:.0f}", f"{decode_ms + prep_ms:.1f}", f"{ceiling:.1f}", f"{ceiling / med['naive']:.2f}x"]
        )
    print(f"Core budget ({cores} cores): the most ingest can reach if decode overlaps perfectly\n")
    print(markdown_table(["path", "forward core-ms/img", "decode+prep core-ms/img", "ceiling img/s", "vs naive"], rows))
    for p in (p for p in encoders if p.startswith("onnx")):
        print(f"\nONNX Runtime profile, {p} vision tower, batch {args.batch_size} (ms per batch)\n")
        print(markdown_table(["operator", "ms", "share"], onnx_profile(model_path, p, batches[0])))


# --- incremental rebuilds ---------------------------------------------------------------------------------


class PhaseTimer:
    """Wall time spent inside chosen functions (wrapped in place; summed over every thread that calls them)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._undo: list[tuple[object, str, object]] = []

    def wrap(self, owner: object, name: str, label: str) -> None:
        import functools

        original = getattr(owner, name)
        is_static = isinstance(owner.__dict__.get(name) if isinstance(owner, type) else None, staticmethod)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start

        raw = owner.__dict__[name] if isinstance(owner, type) else original
        self._undo.append((owner, name, raw))
        setattr(owner, name, staticmethod(timed) if is_static else timed)

    def restore(self) -> None:
        for owner, name, raw in reversed(self._undo):
            setattr(owner, name, raw)
        self._undo.clear()


def rebuild_profile_timer() -> PhaseTimer:
    """Timers on the phases of a rebuild: source scan, cache, storage checks, upsert, map, publish, clean-up."""
    import artsearch.ingest as ingest
    import artsearch.rebuild as rebuild
    import artsearch.sources.folder as folder
    from artsearch.index.write import IndexBuilder
    from artsearch.sources.folder import FolderSource
    from artsearch.storage.local import LocalStorage
    from artsearch.vector_cache import VectorCache

    timer = PhaseTimer()
    timer.wrap(rebuild, "model_on_demand", "is the model's record current? (fingerprint its files)")
    timer.wrap(rebuild, "run_ingest", "the ingest, from the first file to the last upsert")
    timer.wrap(rebuild, "open_source", "open the source (artists.json, CSV)")
    timer.wrap(folder, "walk_files", "source: list the files")
    timer.wrap(FolderSource, "artwork_for", "source: one record per file (metadata)")
    timer.wrap(ingest, "_prepare", "per image on decode threads: fingerprint -> hash -> cached vector (sum)")
    timer.wrap(VectorCache, "content_hash", "  of which: cache lookup of one content hash (not prefetched)")
    timer.wrap(VectorCache, "get", "  of which: cache lookup of one vector (not prefetched)")
    timer.wrap(LocalStorage, "has_image", "  of which: storage check (stat)")
    timer.wrap(VectorCache, "open", "open the vector cache (quick_check)")
    timer.wrap(VectorCache, "write_batch", "cache writes (what the build holds)")
    timer.wrap(VectorCache, "published", "cache clean-up after publishing")
    timer.wrap(ingest, "metadata_hash", "metadata hashes")
    timer.wrap(IndexBuilder, "start_build", "create the build collection")
    timer.wrap(
        IndexBuilder, "_create_payload_indexes", "  its payload indexes (a rebuild: on their thread, beside the ingest)"
    )
    timer.wrap(VectorCache, "content_hashes", "cache: a chunk's content hashes (one query)")
    timer.wrap(VectorCache, "get_many", "cache: a chunk's vectors, checked (one query)")
    timer.wrap(IndexBuilder, "upsert", "upsert into the build (writer thread)")
    timer.wrap(IndexBuilder, "prune", "prune (scroll every id)")
    timer.wrap(rebuild, "add_map", "map: read every vector, fit PCA, write x, y")
    timer.wrap(IndexBuilder, "set_payloads", "  of which: write x, y into every payload")
    timer.wrap(rebuild, "annotate_build", "annotate: read every vector back, terms, sample (not when carried over)")
    timer.wrap(IndexBuilder, "publish", "publish (Edge optimize + flush, alias, pointer)")
    timer.wrap(IndexBuilder, "close", "close (flush, remove the old build folder)")
    timer.wrap(ingest, "merge_artists", "artists.json")
    from artsearch.model.encoder import Encoder

    timer.wrap(Encoder, "encode_features", "the model's forward on new images (encode_features)")
    return timer


def _rebuild_once(settings, folder: Path, encoder):
    from artsearch.rebuild import rebuild
    from artsearch.sources import SourceOptions

    start = time.perf_counter()
    report = rebuild(settings, SourceOptions(source="folder", images_dir=folder), encoder=encoder, progress=False)
    seconds = time.perf_counter() - start
    if report.skipped:
        raise RuntimeError(f"benchmark images were skipped: {report.skipped[:3]}")
    return seconds, report


def _vectors(settings) -> dict[str, bytes]:
    from artsearch.index.read import VectorIndex

    index = VectorIndex(settings)
    out: dict[str, bytes] = {}
    try:
        offset = None
        while True:
            records, offset = index.scroll_page(limit=1000, offset=offset, fields=[], with_vectors=True)
            out.update((str(r.id), np.asarray(r.vector, dtype=np.float32).tobytes()) for r in records)
            if offset is None:
                return out
    finally:
        index.close()


def rebuild_table(args, model_path: Path, encoder, source_folder: Path, size: tuple[int, int]) -> None:
    """Full, unchanged and 1%-new rebuilds side by side, each repeat in a fresh index and cache."""
    import os
    import shutil

    from benchmarks.common import synthetic_jpeg
    from tests.support.indexes import test_settings

    files = sorted(source_folder.glob("*.jpg"))
    n_new = max(1, round(len(files) / 100))
    rows: dict[str, list[float]] = {}
    identical, compared = 0, 0
    carried: list[int] = []  # points of the unchanged rebuild written with the live build's annotations
    load_seconds: list[float] = []
    profile_rows: dict[str, float] = {}
    new_rows: dict[str, float] = {}
    profile_wall = new_wall = 0.0
    for r in range(args.repeats):
        print(f"rebuild repeat {r + 1}/{args.repeats}", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="bench_rebuild_", dir=CACHE) as tmp:
            root = Path(tmp)
            settings = test_settings(root, str(model_path), batch_size=args.batch_size, inference=encoder.inference)
            folder = settings.data_dir / "images"  # inside the data folder, as Kaggle's: nothing is copied
            folder.mkdir(parents=True)
            for f in files:
                os.link(f, folder / f.name)
            full, report = _rebuild_once(settings, folder, encoder)
            assert report.embedded == len(files), report.summary()
            reference = _vectors(settings)
            unchanged, report = _rebuild_once(settings, folder, encoder)
            assert report.embedded == 0 and report.reused == len(files), report.summary()
            carried.append(report.carried)
            after = _vectors(settings)
            compared += len(after)
            identical += sum(after[k] == reference.get(k) for k in after)
            for i in range(n_new):
                (folder / f"new_{r}_{i:04d}.jpg").write_bytes(synthetic_jpeg(10_000_000 + 1000 * r + i, size))
            timer = rebuild_profile_timer() if args.profile and r == args.repeats - 1 else None
            try:
                one_percent, report = _rebuild_once(settings, folder, encoder)
            finally:
                if timer is not None:
                    timer.restore()
                    new_rows, new_wall = timer.seconds, one_percent
            assert report.embedded == n_new, report.summary()
            timer = rebuild_profile_timer() if args.profile and r == args.repeats - 1 else None
            try:
                lazy, report = _rebuild_once(settings, folder, None)  # the CLI's path: no model loaded
            finally:
                if timer is not None:
                    timer.restore()
                    profile_rows, profile_wall = timer.seconds, lazy
            assert report.embedded == 0, report.summary()
            from artsearch.model.encoder import Encoder

            start = time.perf_counter()
            Encoder.from_settings(settings)
            load_seconds.append(time.perf_counter() - start)
            shutil.rmtree(root / "qdrant", ignore_errors=True)
        for name, value in (("full", full), ("unchanged", unchanged), ("one_percent", one_percent), ("lazy", lazy)):
            rows.setdefault(name, []).append(value)

    med = {k: statistics.median(v) for k, v in rows.items()}
    embed_rate = len(files) / med["full"]
    embed_new = n_new / embed_rate
    bound = 1.5 * (embed_new + med["unchanged"])
    table = [
        [
            "full rebuild, empty cache (model loaded beforehand)",
            f"{med['full']:.2f}",
            f"{len(files) / med['full']:.1f}",
            "1.00x",
            "",
        ],
        [
            "**unchanged rebuild**",
            f"**{med['unchanged']:.2f}**",
            "",
            f"**{med['full'] / med['unchanged']:.1f}x faster**",
            "target >= 30x",
        ],
        [
            f"**rebuild after adding {n_new} new images (1%)**",
            f"**{med['one_percent']:.2f}**",
            "",
            f"**{med['one_percent'] / (embed_new + med['unchanged']):.2f}x** (embed {embed_new:.2f} s + unchanged)",
            "target <= 1.5x",
        ],
        [
            "unchanged rebuild with no encoder passed in (the CLI's path: the model is not loaded)",
            f"{med['lazy']:.2f}",
            "",
            f"{med['full'] / med['lazy']:.1f}x faster",
            "",
        ],
        [
            "loading the model (paid by a rebuild only when it embeds)",
            f"{statistics.median(load_seconds):.2f}",
            "",
            "",
            "",
        ],
    ]
    print(
        f"\nRebuilds of {len(files)} JPEGs {size[0]}x{size[1]} in a folder ({encoder.inference}, batch {args.batch_size}); "
        f"median of {args.repeats} repeat(s), each in a fresh index and cache; {machine()}; "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    print(markdown_table(["rebuild", "seconds", "images/s", "ratio", "target"], table))
    print(
        f"\nReused vectors bit-identical to the ones they were copied from: {identical} of {compared}"
        f" ({'all' if identical == compared else 'NOT all'}); 1% bound {bound:.2f} s; annotations carried over by"
        f" the unchanged rebuild: {', '.join(f'{c} of {len(files)}' for c in carried)}"
    )
    if profile_rows:
        print(f"\nWhere the unchanged rebuild's {profile_wall:.2f} s go (no encoder; phases, wall time)\n")
        body = [[k, f"{v:.3f}", f"{100 * v / profile_wall:.0f}%"] for k, v in profile_rows.items()]
        print(markdown_table(["phase", "seconds", "share of the rebuild"], body))
    if new_rows:
        print(f"\nWhere the 1% rebuild's {new_wall:.2f} s go ({n_new} new images embedded; phases, wall time)\n")
        body = [[k, f"{v:.3f}", f"{100 * v / new_wall:.0f}%"] for k, v in new_rows.items()]
        print(markdown_table(["phase", "seconds", "share of the rebuild"], body))
    for k, v in rows.items():
        print(f"  {k}: " + ", ".join(f"{x:.2f}" for x in v), file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--naive-images", type=int, default=64)
    parser.add_argument("--forward-images", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="decode threads (Settings.decode_workers)")
    parser.add_argument("--paths", nargs="+", default=["torch", "onnx", "onnx-int8"], choices=PATHS)
    parser.add_argument("--profile", action="store_true", help="also print where the time goes (per op, per image)")
    parser.add_argument("--table", choices=["ingest", "rebuild"], default="ingest")
    parser.add_argument("--size", default="1000x800", help="--table rebuild: size of the JPEGs (WIDTHxHEIGHT)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.table == "rebuild":
        run_rebuild_table(args)
        return

    import torch

    from artsearch.images import load_image
    from artsearch.ingest import DRAFT_SIZE
    from artsearch.model.encoder import Encoder, export_model

    model_path = base_model()
    folder = jpeg_folder(args.images)
    files = sorted(folder.glob("*.jpg"))
    onnx_paths = [p for p in args.paths if p.startswith("onnx")]
    if onnx_paths:
        export_model(str(model_path), onnx_paths)  # no-op when the cache is valid
    paths = ["torch", *[p for p in args.paths if p != "torch"]]
    encoders = {p: Encoder(str(model_path), device="cpu", batch_size=args.batch_size, inference=p) for p in paths}
    for p, enc in encoders.items():
        assert enc.inference == p, f"{p} fell back to {enc.inference}"

    images = [load_image(f.read_bytes(), draft_size=DRAFT_SIZE) for f in files[: args.forward_images]]
    pre = encoders["torch"]
    batches = [pre.preprocess_images(images[i : i + args.batch_size]) for i in range(0, len(images), args.batch_size)]
    for enc in encoders.values():  # warm up every path once
        enc.encode_features(batches[0])

    rates: dict[str, list[float]] = {}
    for r in range(args.repeats):
        print(f"repeat {r + 1}/{args.repeats}", file=sys.stderr, flush=True)
        rates.setdefault("naive", []).append(naive_rate(model_path, files[: args.naive_images], encoders))
        for p, enc in encoders.items():
            rates.setdefault(f"forward {p}", []).append(forward_rate(enc, batches))
            rates.setdefault(f"ingest {p}", []).append(ingest_rate(enc, folder, args.batch_size, args.workers))

    med = {k: statistics.median(v) for k, v in rates.items()}
    rows = [["naive loop (seed): open + encode one image", f"{med['naive']:.1f}", "", "1.00x"]]
    for p in paths:
        fwd, ing = med[f"forward {p}"], med[f"ingest {p}"]
        rows.append(
            [f"vision forward only, {p}, batch {args.batch_size}", f"{fwd:.1f}", "", f"{fwd / med['naive']:.2f}x"]
        )
        rows.append(
            [f"**run_ingest, {p}**", f"**{ing:.1f}**", f"**{ing / fwd:.2f}**", f"**{ing / med['naive']:.2f}x**"]
        )
    print(
        f"\nIngest of {args.images} JPEGs 1000x800 q90 (forward on {len(images)}, naive on {args.naive_images}); "
        f"median of {args.repeats} interleaved repeats; {machine()}; decode threads {args.workers}\n"
    )
    print(markdown_table(["what", "images/s", "ingest / forward (same path)", "vs naive"], rows))
    if args.profile:
        print_profile(args, model_path, files, encoders, batches, med)
    print(f"\ntorch threads {torch.get_num_threads()}; cache {CACHE}")
    for k, v in rates.items():
        print(f"  {k}: " + ", ".join(f"{x:.1f}" for x in v), file=sys.stderr)


def run_rebuild_table(args) -> None:
    from artsearch.model.encoder import Encoder, export_model

    size = tuple(int(x) for x in args.size.lower().split("x"))
    model_path = base_model()
    path = args.paths[-1] if args.paths != ["torch", "onnx", "onnx-int8"] else "onnx-int8"
    if path.startswith("onnx"):
        export_model(str(model_path), [path])
    encoder = Encoder(str(model_path), device="cpu", batch_size=args.batch_size, inference=path)
    assert encoder.inference == path, f"{path} fell back to {encoder.inference}"
    name = "jpegs" if size == (1000, 800) else f"jpegs-{size[0]}x{size[1]}"
    rebuild_table(args, model_path, encoder, jpeg_folder(args.images, name=name, size=size), size)


if __name__ == "__main__":
    main()
