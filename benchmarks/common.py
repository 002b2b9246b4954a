"""Shared benchmark helpers: the random ViT-B/32, synthetic JPEGs, timing and fidelity metrics.

Everything is built offline into ``benchmarks/.cache`` (git-ignored) on first use.
"""

from __future__ import annotations

import io
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("ARTSEARCH_BENCH_CACHE", ROOT / "benchmarks" / ".cache"))
TRAINED_TINY = ROOT / "models" / "tiny-clip-shapes"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def base_model() -> Path:
    """The random-weight clip-ViT-B-32 (exact architecture), built once."""
    out = CACHE / "clip-base"
    if not (out / "modules.json").is_file():
        from artsearch.testing.clip_factory import build_random_clip

        build_random_clip(out, size="base", seed=0)
    return out


def hub_model() -> str:
    """The random ViT-B/32 as users have the real one: ``sentence-transformers/clip-ViT-B-32`` in a Hugging Face
    cache (``benchmarks/.cache/hf``), in the hub repo's exact layout; returns the name users give, built once.

    ``SENTENCE_TRANSFORMERS_HOME`` points sentence-transformers (and artsearch) at that cache, in this process
    and its children.
    """
    from artsearch.testing.hub_cache import HUB_REPO, build_hub_clip, repo_folder_name

    home = CACHE / "hf"
    os.environ["SENTENCE_TRANSFORMERS_HOME"] = str(home / "hub")
    if not (home / "hub" / repo_folder_name(HUB_REPO) / "refs" / "main").is_file():
        build_hub_clip(home, size="base", seed=0)
    return "clip-ViT-B-32"


def synthetic_jpeg(i: int, size: tuple[int, int] = (1000, 800), quality: int = 90) -> bytes:
    """A painting-like JPEG: smooth colour fields, mid-scale texture and fine grain (about 250 KB)."""
    rng = np.random.default_rng(i)
    w, h = size
    layers = []
    for cells, amp in ((4, 90.0), (16, 40.0), (64, 18.0)):
        small = rng.normal(0, amp, (cells * h // w + 1, cells, 3)).astype(np.float32)
        layers.append(
            np.asarray(Image.fromarray(small[..., 0]).resize((w, h), Image.BICUBIC))[..., None]
            * np.array([1.0, 0.6, 0.3], np.float32)
            + np.stack([np.asarray(Image.fromarray(small[..., c]).resize((w, h), Image.BICUBIC)) for c in range(3)], -1)
            * 0.7
        )
    base = rng.uniform(60, 200, 3).astype(np.float32)
    arr = base + sum(layers) + rng.normal(0, 8, (h, w, 3)).astype(np.float32)
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def jpeg_folder(n: int, name: str = "jpegs", size: tuple[int, int] = (1000, 800)) -> Path:
    """A folder of ``n`` synthetic q90 JPEGs (1000x800 unless told) named ``img_<i>.jpg``, built once."""
    folder = CACHE / f"{name}-{n}"
    if len(list(folder.glob("*.jpg"))) != n:
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            path = folder / f"img_{i:05d}.jpg"
            if not path.exists():
                path.write_bytes(synthetic_jpeg(i, size))
    return folder


def median_time(fn: Callable[[], Any], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def rss_mb() -> float:
    """Current resident set size of this process in MB (Linux /proc)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {isa()}, torch {torch.__version__} ({torch.get_num_threads()} threads)"


# Instruction sets that decide CPU inference speed: int8 GEMMs run about 2x faster with VNNI
# (one vpdpbusd instead of vpmaddubsw + vpmaddwd), and bf16 needs avx512_bf16 or AMX to be fast.
SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8")


def isa() -> str:
    """The SPEED_FLAGS this CPU has and lacks, e.g. ``avx2 (no avx512f, avx512_vnni, ...)``."""
    try:
        flags: set[str] = set()
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        return "ISA unknown"
    have = [f for f in SPEED_FLAGS if f in flags]
    lack = [f for f in SPEED_FLAGS if f not in flags]
    return f"{' '.join(have) or 'no SIMD flags'}" + (f" (no {', '.join(lack)})" if lack else "")


# --- fidelity ---------------------------------------------------------------------------------------------


def topk(vectors: np.ndarray, queries: np.ndarray, k: int, exclude_self: bool) -> np.ndarray:
    scores = queries @ vectors.T
    if exclude_self:
        np.fill_diagonal(scores, -np.inf)
    return np.argsort(-scores, axis=1)[:, :k]


def overlap_at_k(reference: np.ndarray, candidate: np.ndarray, k: int = 10, queries: tuple | None = None) -> float:
    """Mean top-k neighbour overlap of candidate vs reference embeddings (each item a query, itself excluded).

    With ``queries=(ref_q, cand_q)``, those query vectors search the collection instead.
    """
    if queries is None:
        a = topk(reference, reference, k, True)
        b = topk(candidate, candidate, k, True)
    else:
        a = topk(reference, queries[0], k, False)
        b = topk(candidate, queries[1], k, False)
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(a, b, strict=True)]))


def centred_cosine(reference: np.ndarray, candidate: np.ndarray) -> tuple[float, float]:
    """(raw cosine, cosine after subtracting the reference mean embedding), means over rows."""

    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    raw = float(np.mean(np.sum(unit(reference) * unit(candidate), axis=1)))
    mean = reference.mean(axis=0, keepdims=True)
    centred = float(np.mean(np.sum(unit(reference - mean) * unit(candidate - mean), axis=1)))
    return raw, centred


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
