"""The duplicates report at scale: hash bands (artsearch.duplicates) against comparing every pair in numpy.

    .venv/bin/python benchmarks/duplicates.py                  # 10k, 30k and 100k hashes
    .venv/bin/python benchmarks/duplicates.py --sizes 100000

N random 384-bit hashes, one in ten with a planted copy 0-25 bits away (what a resize, a re-compression or a
crop moves, see artsearch/dedupe.py). ``bands``: :func:`artsearch.duplicates.close_pairs` (candidates sharing a
band, checked in numpy) plus the grouping. ``all pairs``: every pair compared in numpy blocks (popcount of the
XOR of six 64-bit words), measured on the first ``--brute-max`` hashes and scaled by the pair count (n^2/2) for
bigger N. Both are checked to find the same pairs where both run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from artsearch import duplicates  # noqa: E402
from artsearch.dedupe import HASH_BITS, HASH_DISTANCE  # noqa: E402


def planted_hashes(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, (n, HASH_BITS), dtype=np.uint8)
    for i in range(0, n - 1, 10):  # the next hash is a copy of this one
        flips = rng.choice(HASH_BITS, int(rng.integers(0, HASH_DISTANCE + 1)), replace=False)
        bits[i + 1] = bits[i]
        bits[i + 1, flips] ^= 1
    return [row.tobytes().hex() for row in np.packbits(bits, axis=1)]


def all_pairs(hashes: list[str], block: int = 1024) -> set[tuple[int, int]]:
    words = np.packbits(duplicates.hash_bits(hashes), axis=1).view(">u8").astype(np.uint64)
    out = set()
    for start in range(0, len(words), block):
        part = words[start : start + block]
        distance = np.bitwise_count(part[:, None, :] ^ words[None, :, :]).sum(axis=2)
        for a, b in zip(*np.nonzero(distance <= HASH_DISTANCE), strict=True):
            i, j = start + int(a), int(b)
            if i < j:
                out.add((i, j))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--brute-max", type=int, default=10_000)
    args = parser.parse_args()
    print(f"load: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    print("| hashes | bands (s) | pairs found | all pairs (s) | bands faster |")
    print("|---:|---:|---:|---:|---:|")
    brute_rate = None
    for n in args.sizes:
        hashes = planted_hashes(n)
        start = time.perf_counter()
        pairs = duplicates.close_pairs(hashes)
        members = [duplicates.Member(str(i), phash=h) for i, h in enumerate(hashes)]
        duplicates.group_members(members, pairs.tolist())
        banded = time.perf_counter() - start
        if n <= args.brute_max:
            start = time.perf_counter()
            exact = all_pairs(hashes)
            brute = time.perf_counter() - start
            brute_rate = brute / (n * n / 2)
            assert exact == {tuple(p) for p in pairs.tolist()}, "the bands missed or added a pair"
            brute_text = f"{brute:.1f}"
        else:
            brute = (brute_rate or 0) * n * n / 2
            brute_text = f"~{brute:.0f} (scaled)"
        print(f"| {n} | {banded:.2f} | {len(pairs)} | {brute_text} | {brute / banded:.0f}x |")


if __name__ == "__main__":
    main()
