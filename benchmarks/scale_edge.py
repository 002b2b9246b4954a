"""The embedded engines at scale, through artsearch's own index API: Qdrant Edge (and qdrant-client local mode).

For each size, every engine builds a collection with ``IndexBuilder`` (start_build, upsert batches skipping
ids already there, publish, close) in a child process, and a fresh child opens it with ``VectorIndex``, with
the CLIP model loaded first as the app has it, and queries it: reopen time (open plus the first query), RSS
of the serving process (total, with the model, and the index's share), query p50 / p95 for unfiltered queries
and for the fraction filtered on one artist (or genre), and recall@10 of each against exact search (numpy over the same
float32 vectors, filter applied).

    .venv/bin/python benchmarks/scale_edge.py                                   # 100k and 1M, Edge as configured
    .venv/bin/python benchmarks/scale_edge.py --sizes 100000 --engines edge,edge-exact,edge-hnsw,local
    .venv/bin/python benchmarks/scale_edge.py --sizes 1000000 --resume-at 0.5  # kill the build half way, resume it

Vectors: 512-d, clustered like CLIP embeddings: ``--centres`` (default 4,000) Gaussian clusters around random
centres plus one direction every vector shares (unrelated pairs score about 0.2, same-cluster pairs about 0.8);
queries are perturbed held-out points, like a text query landing near a group of paintings. Payloads: the
fields a real build stores (title, artist, genre list, nationality, year, keys, size, a 96-digit phash, the name
text, the map's x and y), 2,000 artists. ``--filtered`` of the queries (default 30%) keep only the artist of
their nearest neighbour (about N / 2,000 works): "more by this artist".

Engines: ``edge`` (EdgeClient as committed: an exact int8 scan at every size while ``HNSW_MIN_POINTS`` is None, its
default; with ``--set HNSW_MIN_POINTS=200000`` an HNSW graph from there on, as the 1M run in RESULTS.md measured),
``edge-exact`` (never a graph), ``edge-hnsw`` (always a graph), ``local`` (qdrant-client
``path=``, only up to ``--local-max``: its build takes minutes at 10k). ``--set NAME=VALUE`` changes a constant of
``artsearch.index.edge`` in the children (``--set HNSW_EF_CONSTRUCT=64``), for exploring.

Sweeping query-time settings on one build (a 1M graph takes a quarter of an hour to build here):
``--keep DIR`` builds into DIR and leaves it there (one size and engine per DIR); ``--reuse`` with the same DIR
skips the build and measures the collection already in it again (the build figures come from DIR/build.json).
``--sweep ef=64,128,256 --sweep oversampling=2,4,8`` measures every combination (hnsw_ef and the rescoring
oversampling of each query) on the same open index after the row with the collection's own settings, one row
each; reopen and RSS are those of the first row. The queries are split between the rows, so that no row
repeats queries whose pages an earlier one read (``--queries 1400`` gives each of 7 rows 200).

    .venv/bin/python benchmarks/scale_edge.py --sizes 1000000 --set HNSW_MIN_POINTS=200000 --keep /tmp/m1
    .venv/bin/python benchmarks/scale_edge.py --sizes 1000000 --set HNSW_MIN_POINTS=200000 --keep /tmp/m1 \
        --reuse --sweep ef=64,128,256 --sweep oversampling=2,4,8

``--page-cache warm`` reads the build's files once before the serving child starts (as a build that just finished
leaves them), ``cold`` drops the page cache (as after a reboot; needs root), ``as-is`` (the default) leaves it:
on this VM pages no process maps are reclaimed a minute or more after their last use, so a build measured long
after it finished is partly cold and its fresh queries read from disk.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
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
ARTISTS = 2000
BATCH = 1000
K = 10


# --- data ----------------------------------------------------------------------------------------------


def make_vectors(n: int, n_queries: int, centres: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(collection, queries): clustered, unit length, float32, the same for a given seed in every process."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, DIM), dtype=np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    common = rng.standard_normal(DIM, dtype=np.float32)
    common /= np.linalg.norm(common)
    total = n + n_queries
    x = np.empty((total, DIM), dtype=np.float32)
    for start in range(0, total, 100_000):  # in chunks: 1M x 512 floats of noise at once would double the memory
        stop = min(total, start + 100_000)
        labels = rng.integers(0, centres, stop - start)
        noise = rng.standard_normal((stop - start, DIM), dtype=np.float32) * (0.5 / np.sqrt(DIM))
        x[start:stop] = 0.6 * common + c[labels] + noise
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    data, queries = x[:n], x[n:]
    queries = queries + rng.standard_normal(queries.shape, dtype=np.float32) * (0.4 / np.sqrt(DIM))
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return np.ascontiguousarray(data), np.ascontiguousarray(queries)


def genres_of(i: int) -> list[str]:
    return [f"Genre {i % 30}"] + ([f"Genre {(i // 30) % 30}"] if i % 3 == 0 else [])


def point_id(i: int) -> str:
    return str(uuid.UUID(int=i + 1))


def artist_of(i: int) -> str:
    return f"Artist {i % ARTISTS}"


def payload(i: int) -> dict:
    artist = artist_of(i)
    return {
        "artwork_id": point_id(i),
        "title": f"Work {i}",
        "artist": artist,
        "artist_slug": artist.lower().replace(" ", "-"),
        "genre": genres_of(i),
        "nationality": f"Country {i % 40}",
        "year": 1400 + i % 600,
        "image_key": f"images/bench/{i % ARTISTS}/{i}.jpg",
        "source": "bench",
        "source_id": f"{i % ARTISTS}/{i}.jpg",
        "source_url": "",
        "width": 1000,
        "height": 800,
        "phash": f"{(i * 2654435761) % (1 << 384):096x}",
        "name_text": f"Work {i} {artist}",
        "fingerprint": f"{250_000 + i}:{1_700_000_000_000_000_000 + i}",
        "x": round((i % 997) / 997, 5),
        "y": round((i % 991) / 991, 5),
    }


# --- children ----------------------------------------------------------------------------------------------


def settings_for(root: Path, engine: str):
    from artsearch.config import load_settings

    return load_settings(
        secrets={},
        env={},
        qdrant_path=root / "qdrant",
        data_dir=root / "data",
        embedder_name="unused",
        embedded_engine="local" if engine == "local" else "edge",
    )


def number_or_text(value: str) -> int | float | str:
    """A constant whose default is None (HNSW_MIN_POINTS, say): a number when it reads as one."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def configure_engine(engine: str, overrides: list[str]) -> None:
    import artsearch.index.edge as edge

    if engine == "edge-exact":
        edge.HNSW_MIN_POINTS = 1 << 62
    elif engine == "edge-hnsw":
        edge.HNSW_MIN_POINTS = 0
    for item in overrides:
        name, value = item.split("=", 1)
        current = getattr(edge, name)
        if isinstance(current, bool):
            setattr(edge, name, value.lower() in ("1", "true", "yes"))
        else:
            setattr(edge, name, type(current)(value) if current is not None else number_or_text(value))


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def child_build(root: Path, engine: str, n: int, args: argparse.Namespace) -> dict:
    """Build (or resume) the collection: upsert what is not there yet, publish, close. Progress goes to a file."""
    import warnings

    from artsearch.index.write import IndexBuilder

    configure_engine(engine, args.set)
    warnings.simplefilter("ignore")
    settings = settings_for(root, engine)
    data, _ = make_vectors(n, args.queries, args.centres)
    start = time.perf_counter()
    builder = IndexBuilder.start_build(settings, DIM)
    kept = 0
    progress = root / "progress"
    for s in range(0, n, BATCH):
        ids = [point_id(i) for i in range(s, min(n, s + BATCH))]
        existing = builder.existing_ids(ids)  # a resumed build keeps what the killed one wrote
        kept += len(existing)
        todo = [i for i in range(s, min(n, s + BATCH)) if point_id(i) not in existing]
        if todo:
            builder.upsert([point_id(i) for i in todo], data[todo], [payload(i) for i in todo])
        progress.write_text(str(s + len(ids)))
    upserted = time.perf_counter()
    builder.publish()
    builder.close()
    end = time.perf_counter()
    return {"build_s": end - start, "upsert_s": upserted - start, "publish_s": end - upserted, "kept": kept}


def child_serve(root: Path, engine: str, n: int, args: argparse.Namespace) -> dict:
    """Load the model (as the app does), open the index, query it; times, RSS, recall against the truth file."""
    import warnings

    from artsearch.index.read import VectorIndex

    configure_engine(engine, args.set)
    warnings.simplefilter("ignore")
    settings = settings_for(root, engine)
    truth = np.load(root / "truth.npz")
    queries, plain_truth, filtered_truth = truth["queries"], truth["plain"], truth["filtered"]
    filter_value, is_filtered = truth["value"], truth["is_filtered"]
    model_mb = 0.0
    if args.model:
        from artsearch.model.encoder import Encoder

        before = rss_mb()
        encoder = Encoder(args.model, device="cpu", inference=args.inference)
        encoder.encode_texts(["a warm-up query"])
        model_mb = rss_mb() - before
    rss_before = rss_mb()
    read_before = disk_read_mb()
    start = time.perf_counter()
    index = VectorIndex(settings)
    index.query(queries[0], limit=K)
    reopen = time.perf_counter() - start
    reopen_read = disk_read_mb() - read_before

    combos = sweep_combinations(args.sweep)
    rows = np.array_split(np.arange(len(queries)), 1 + len(combos))  # fresh queries for every row

    def measure_row(at):
        return measure_queries(
            index, queries[at], plain_truth[at], filtered_truth[at], filter_value[at], is_filtered[at], args
        )

    first = measure_row(rows[0])
    out = {
        "reopen_s": reopen,
        "reopen_read_mb": reopen_read,
        "index_mb": rss_mb() - rss_before,
        "model_mb": model_mb,
        "rss_mb": rss_mb(),
        "peak_mb": _status_mb("VmHWM"),
        "anon_mb": _status_mb("RssAnon"),
        "file_mb": _status_mb("RssFile"),
        **first,
        "sweep": [],
    }
    for combo, at in zip(combos, rows[1:], strict=True):
        apply_query_settings(combo)
        out["sweep"].append({"settings": combo, **measure_row(at)})
    index.close()
    return out


def sweep_combinations(items: list[str]) -> list[dict[str, float]]:
    """``["ef=64,128", "oversampling=2,4"]`` as every combination: [{"ef": 64, "oversampling": 2}, ...]."""
    combos: list[dict[str, float]] = [{}]
    for item in items:
        name, values = item.split("=", 1)
        if name not in ("ef", "oversampling", "rescore"):
            raise SystemExit(f"--sweep {name}: only ef, oversampling and rescore (0 or 1) can be swept")
        combos = [c | {name: float(v)} for c in combos for v in values.split(",")]
    return combos if items else []


def apply_query_settings(combo: dict[str, float]) -> None:
    """hnsw_ef, rescoring and its oversampling for the queries that follow (EdgeClient reads them per query)."""
    import artsearch.index.edge as edge

    if "ef" in combo:
        edge.DEFAULT_HNSW_EF = int(combo["ef"])
    if "oversampling" in combo or "rescore" in combo:
        own = edge.EdgeClient._rescoring  # the collection's own, from its metadata

        def rescoring(self, own=own):
            oversampling, rescore = own(self)
            return combo.get("oversampling", oversampling), bool(combo.get("rescore", rescore))

        edge.EdgeClient._rescoring = rescoring


def measure_queries(index, queries, plain_truth, filtered_truth, filter_value, is_filtered, args) -> dict:
    """p50 / p95 and recall@10 of every query, unfiltered and filtered apart."""
    from artsearch.index.filters import Filters

    plain_lat, plain_rec, filt_lat, filt_rec = [], [], [], []
    read_before = disk_read_mb()
    for qi, q in enumerate(queries):
        filters = Filters({args.filter: [str(filter_value[qi])]}) if is_filtered[qi] else None
        t = time.perf_counter()
        points = index.query(q, filters=filters, limit=K)
        elapsed = time.perf_counter() - t
        got = {int(uuid.UUID(str(p.id))) - 1 for p in points}
        wanted = filtered_truth[qi] if is_filtered[qi] else plain_truth[qi]
        recall = len(got & set(wanted.tolist())) / K
        (filt_lat if is_filtered[qi] else plain_lat).append(elapsed)
        (filt_rec if is_filtered[qi] else plain_rec).append(recall)
    return {
        "read_kb_per_query": 1000 * (disk_read_mb() - read_before) / max(1, len(queries)),
        "p50_ms": 1000 * float(np.percentile(plain_lat, 50)),
        "p95_ms": 1000 * float(np.percentile(plain_lat, 95)),
        "p50_f_ms": 1000 * float(np.percentile(filt_lat, 50)) if filt_lat else float("nan"),
        "p95_f_ms": 1000 * float(np.percentile(filt_lat, 95)) if filt_lat else float("nan"),
        "recall": float(np.mean(plain_rec)),
        "recall_f": float(np.mean(filt_rec)) if filt_rec else float("nan"),
        "queries": len(plain_lat),
        "queries_f": len(filt_lat),
    }


def _proc_number(path: str, field: str) -> float:
    """The number on the ``field:`` line of a /proc file (nan when it has none)."""
    for line in open(path):
        if line.startswith(field + ":"):
            return float(line.split()[1])
    return float("nan")


def disk_read_mb() -> float:
    """MB this process has had read from the disk so far (page-cache hits do not count): /proc/self/io."""
    return _proc_number("/proc/self/io", "read_bytes") / 1e6


def _status_mb(field: str) -> float:
    """A memory line of /proc/self/status (VmHWM: peak RSS; RssAnon, RssFile: RSS by kind, in kB), in MB."""
    return _proc_number("/proc/self/status", field) / 1e3


def top_k(scores: np.ndarray) -> np.ndarray:
    """Indices of each row's K highest scores, best first (a partition, then a sort of K: not a sort of 1M)."""
    part = np.argpartition(-scores, K - 1, axis=1)[:, :K]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def write_truth(root: Path, n: int, args: argparse.Namespace) -> None:
    """Exact top-10 of every query (and, for the filtered ones, among the works matching the filter), in truth.npz.

    A filtered query keeps the artist (``--filter artist``: about N / 2,000 works) or the first genre (``--filter
    genre``: about N / 20) of its nearest work: "more by this artist", "more in this genre"."""
    data, queries = make_vectors(n, args.queries, args.centres)
    rng = np.random.default_rng(1)
    is_filtered = rng.random(len(queries)) < args.filtered
    plain = np.empty((len(queries), K), dtype=np.int64)
    filtered = np.full((len(queries), K), -1, dtype=np.int64)
    value = np.full(len(queries), "", dtype=object)
    index = np.arange(n)
    for start in range(0, len(queries), 25):
        scores = queries[start : start + 25] @ data.T
        plain[start : start + 25] = top_k(scores)
        for j in range(scores.shape[0]):
            qi = start + j
            if not is_filtered[qi]:
                continue
            nearest = int(plain[qi, 0])
            if args.filter == "artist":
                value[qi] = artist_of(nearest)
                members = index[index % ARTISTS == nearest % ARTISTS]
            else:
                value[qi] = genres_of(nearest)[0]
                g = nearest % 30
                members = index[(index % 30 == g) | ((index % 3 == 0) & ((index // 30) % 30 == g))]
            filtered[qi] = members[top_k(scores[j, members][None])[0]]
    np.savez(
        root / "truth.npz",
        queries=queries,
        plain=plain,
        filtered=filtered,
        value=value.astype(str),
        is_filtered=is_filtered,
    )


def child_command(mode: str, root: Path, engine: str, n: int, args: argparse.Namespace) -> list[str]:
    cmd = [sys.executable, __file__, "--child", mode, str(root), engine, str(n)]
    cmd += ["--queries", str(args.queries), "--centres", str(args.centres), "--filtered", str(args.filtered)]
    cmd += ["--filter", args.filter]
    cmd += ["--inference", args.inference, "--model", args.model]
    for item in args.set:
        cmd += ["--set", item]
    for item in args.sweep:
        cmd += ["--sweep", item]
    return cmd


def in_child(mode: str, root: Path, engine: str, n: int, args: argparse.Namespace) -> dict:
    try:
        result = subprocess.run(
            child_command(mode, root, engine, n, args), capture_output=True, text=True, timeout=args.timeout, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        return {"error": f"{mode} timed out after {args.timeout:.0f} s"}
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()
        return {"error": tail[-1] if tail else f"rc {result.returncode}"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def killed_build(root: Path, engine: str, n: int, args: argparse.Namespace) -> dict:
    """Start a build, SIGKILL it once ``--resume-at`` of the points are upserted; what it had written stays."""
    proc = subprocess.Popen(
        child_command("build", root, engine, n, args), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    started = time.perf_counter()
    progress = root / "progress"
    while proc.poll() is None:
        done = int(progress.read_text() or 0) if progress.exists() else 0
        if done >= args.resume_at * n:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    return {"killed_after_s": time.perf_counter() - started, "killed_at": int(progress.read_text() or 0)}


def set_page_cache(root: Path, state: str) -> None:
    """Put the build's files in the state the serving child meets: ``warm`` reads each once (in the page cache, as
    a build that just finished leaves them on a host that keeps its page cache), ``cold`` drops the whole page cache
    (as after a reboot: every page a query touches comes from disk; root only), ``as-is`` leaves them (this VM
    reclaims page-cache pages no process maps, a minute or more after their last use, so a build measured long
    after it finished is partly cold)."""
    if state == "warm":
        for path in sorted(root.rglob("*")):
            if path.is_file():
                with open(path, "rb") as fh:
                    while fh.read(1 << 23):
                        pass
    elif state == "cold":
        os.sync()
        try:
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
        except OSError as exc:
            raise SystemExit(f"--page-cache cold drops the page cache, which needs root: {exc}") from None


def measure(engine: str, n: int, args: argparse.Namespace) -> dict:
    """Build (or, with --reuse, take the build in --keep), then serve: one row's figures."""
    if args.keep:
        root = args.keep
        root.mkdir(parents=True, exist_ok=True)
    else:
        root = Path(tempfile.mkdtemp(prefix=f"scale-{engine}-{n}-", dir=os.environ.get("ARTSEARCH_BENCH_TMP")))
    try:
        if args.reuse:
            result = json.loads((root / "build.json").read_text())
            if len(np.load(root / "truth.npz")["queries"]) != args.queries:
                if n % 100_000:
                    raise SystemExit("--reuse with another --queries needs N a multiple of 100,000")
                write_truth(root, n, args)  # drawn in chunks of 100,000: the collection is the same, the queries new
        else:
            write_truth(root, n, args)
            result = {}
            if args.resume_at:
                result |= killed_build(root, engine, n, args)
            build = in_child("build", root, engine, n, args)
            result = build if "error" in build else result | build
            if args.keep and "error" not in result:
                (root / "build.json").write_text(json.dumps(result))
        if "error" not in result:
            set_page_cache(root, args.page_cache)
            result |= in_child("serve", root, engine, n, args)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return result


# --- the table ------------------------------------------------------------------------------------------


HEADER = (
    "| engine | N | build (upsert + publish) | reopen | RSS: process (model + index) | query p50 / p95 "
    "| filtered p50 / p95 | recall@10 / filtered |\n|---|---|---|---|---|---|---|---|"
)


def reopen_read(r: dict) -> str:
    """How much of the reopen was read from the disk, when it was (a warm page cache reads next to nothing)."""
    mb = r.get("reopen_read_mb", 0.0)
    return f" ({mb:.0f} MB from disk)" if mb >= 1 else ""


def query_read(r: dict) -> str:
    """What a query of the row read from the disk on average (filtered and unfiltered together), when it did."""
    kb = r.get("read_kb_per_query", 0.0)
    return f" ({kb:.0f} KB from disk a query)" if kb >= 1 else ""


def fmt_row(engine: str, n: int, r: dict) -> str:
    label = f"{n // 1000}k" if n < 1_000_000 else f"{n / 1e6:g}M"
    if "error" in r:
        return f"| {engine} | {label} | {r['error']} ||||||"
    build = f"{r['build_s']:.1f} s ({r['upsert_s']:.1f} + {r['publish_s']:.1f})"
    if r.get("killed_at"):
        build += f"; killed at {r['killed_at']:,} points, resumed keeping {r['kept']:,}"
    rows = [
        f"| {engine} | {label} | {build} | {r['reopen_s']:.2f} s{reopen_read(r)} | {r['rss_mb']:.0f} MB ({r['model_mb']:.0f} + "
        f"{r['index_mb']:.0f}; {r['anon_mb']:.0f} anon + {r['file_mb']:.0f} file) | {r['p50_ms']:.1f} / {r['p95_ms']:.1f} ms{query_read(r)} | {r['p50_f_ms']:.1f} / {r['p95_f_ms']:.1f} ms "
        f"| {r['recall']:.3f} / {r['recall_f']:.3f} |"
    ]
    for run in r.get("sweep", []):
        settings = ", ".join(f"{k} {v:g}" for k, v in run["settings"].items())
        rows.append(
            f"| {engine} ({settings}) | {label} | same build | | | {run['p50_ms']:.1f} / {run['p95_ms']:.1f} ms{query_read(run)} "
            f"| {run['p50_f_ms']:.1f} / {run['p95_f_ms']:.1f} ms | {run['recall']:.3f} / {run['recall_f']:.3f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--engines", default="edge")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--filtered", type=float, default=0.3, help="share of queries filtered on one artist")
    parser.add_argument("--filter", choices=["artist", "genre"], default="artist", help="what filtered queries keep")
    parser.add_argument("--centres", type=int, default=4000)
    parser.add_argument("--local-max", type=int, default=10_000, help="largest N for local mode (slow to build)")
    parser.add_argument("--model", default=str(ROOT / "benchmarks" / ".cache" / "clip-base"), help="'' for none")
    parser.add_argument("--inference", default="onnx-int8")
    parser.add_argument("--resume-at", type=float, default=0.0, help="kill each build at this share, then resume")
    parser.add_argument("--set", action="append", default=[], help="NAME=VALUE: a constant of artsearch.index.edge")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per child")
    parser.add_argument("--sweep", action="append", default=[], help="ef=A,B, oversampling=A,B or rescore=0,1")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it (one size and engine)")
    parser.add_argument("--reuse", action="store_true", help="measure the build already in --keep again")
    parser.add_argument(
        "--page-cache",
        choices=["as-is", "warm", "cold"],
        default="as-is",
        help="the build's files before serving: left as they are, read once into the page cache, or dropped (root)",
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, root, engine, n = args.child
        fn = child_build if mode == "build" else child_serve
        print(json.dumps(fn(Path(root), engine, int(n), args)))
        return
    if args.model and not Path(args.model).is_dir():
        from benchmarks.common import base_model

        args.model = str(base_model())
    if args.model and args.inference.startswith("onnx"):
        from artsearch.model.encoder import export_model

        export_model(args.model, [args.inference])

    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.queries} queries ({args.filtered:.0%} "
        f"on one {args.filter}), top {K}, {DIM}-d cosine, {args.centres} clusters, {ARTISTS} artists; model "
        f"{Path(args.model).name if args.model else 'none'} ({args.inference}) loaded in the serving process"
        + (f"; edge overrides {args.set}" if args.set else "")
        + f"; page cache before serving: {args.page_cache}"
    )
    print(HEADER, flush=True)
    started = time.perf_counter()
    sizes, engines = [int(s) for s in args.sizes.split(",")], args.engines.split(",")
    if args.keep and len(sizes) * len(engines) != 1:
        raise SystemExit("--keep holds one build: give one size and one engine")
    if args.reuse and not (args.keep and (args.keep / "build.json").is_file()):
        raise SystemExit("--reuse needs a --keep folder that holds a finished build (build.json)")
    for n in sizes:
        for engine in engines:
            if engine == "local" and n > args.local_max:
                print(f"| local | {n // 1000}k | skipped (--local-max {args.local_max}) ||||||", flush=True)
                continue
            print(fmt_row(engine, n, measure(engine, n, args)), flush=True)
    print(f"total {time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
