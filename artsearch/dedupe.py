"""Near-duplicate collapse: the same picture shown once, with "N copies".

Collections repeat themselves: the same painting scanned twice, a detail
cropped from it, a smaller re-compressed copy from another source. Two
signals find them among a page of results:

* a colour **difference hash** (:func:`dhash`) of the picture, computed at
  ingest and kept in the payload as ``phash`` (96 hex digits). It only depends on the pixels, so
  it means the same whatever the model; two hashes within
  :data:`HASH_DISTANCE` bits are the same picture;
* the **cosine** of the stored CLIP vectors, at or above
  :data:`COSINE_THRESHOLD`.

Tuning (``tests/test_dedupe.py::test_tuned_thresholds_separate_copies_from_distinct_images``):
resized (50 % and 25 %), re-compressed (JPEG quality 30 and 60) and slightly
cropped (4 % off each side) copies of 60 distinct pictures (smooth colour
fields and synthetic shapes) against every pair of distinct pictures. Copies
stayed within 21 of the 384 bits of their original's hash (the crops; resizing
and JPEG moved at most a few bits); distinct pictures were at least 30 bits
apart (two shapes on the same background; the next closest pair 65). 25 bits
sits in that gap. A grey 64-bit dHash could not separate them (copies up to 12
bits, distinct pictures down to 4). The cosine threshold of 0.95 is a common choice for CLIP ViT-B/32
near-duplicates but is *not* measured here (no real CLIP weights are
available offline); the test model is a random-weight
tiny CLIP that puts *distinct* pictures at cosine 0.997 to 0.9999 (and copies
at 0.996 and above), so no cosine threshold can be tuned on it and none of the
tests rely on one: when both results have a hash, the hash decides alone;
the cosine only judges points indexed without one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFilter

HASH_BITS = 384
#: Two dHashes at most this many bits apart are the same picture (tuned, see the module docstring).
HASH_DISTANCE = 25
#: Two results whose vectors have at least this cosine are the same picture.
COSINE_THRESHOLD = 0.95


def dhash(image: Image.Image, size: int = 8) -> str:
    """A colour difference hash: 384 bits as 96 hex digits.

    The picture is shrunk to 64 px, blurred and shrunk to ``(size + 1)`` square;
    each bit says whether a colour channel gets brighter from a cell to its
    right (and, separately, its lower) neighbour. Shrinking and blurring first
    make resizing, re-compression and a small crop flip only a few bits; the
    three channels and both directions tell apart pictures that a grey,
    horizontal-only dHash confuses (flat backgrounds, same layout in different
    colours).
    """
    small = image.convert("RGB").resize((64, 64), Image.Resampling.LANCZOS).filter(ImageFilter.GaussianBlur(3))
    cells = np.asarray(small.resize((size + 1, size + 1), Image.Resampling.BILINEAR), dtype=np.int16)
    bits = np.concatenate(
        [(cells[:-1, 1:, c] > cells[:-1, :-1, c]).ravel() for c in range(3)]
        + [(cells[1:, :-1, c] > cells[:-1, :-1, c]).ravel() for c in range(3)]
    )
    value = int("".join("1" if b else "0" for b in bits), 2)
    return f"{value:0{len(bits) // 4}x}"


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hex hashes; a missing or unreadable hash is as far as can be."""
    try:
        return (int(a, 16) ^ int(b, 16)).bit_count()
    except (TypeError, ValueError):
        return HASH_BITS + 1


@dataclass
class Group:
    """One picture among the results: the best-ranked copy and the positions of the others."""

    first: int
    others: list[int] = field(default_factory=list)

    @property
    def copies(self) -> int:
        return 1 + len(self.others)


def same_picture(
    vector_a: np.ndarray | None,
    vector_b: np.ndarray | None,
    hash_a: str | None,
    hash_b: str | None,
    *,
    threshold: float = COSINE_THRESHOLD,
    hash_distance: int = HASH_DISTANCE,
) -> bool:
    """Same picture? By the hashes when both results have one, else by the cosine of their vectors.

    The hash decides alone when it can: it depends only on the pixels, while
    what a cosine means depends on the model (a random-weight test CLIP puts
    any two pictures above 0.99).
    """
    if hash_a and hash_b:
        return hamming(hash_a, hash_b) <= hash_distance
    if vector_a is None or vector_b is None:
        return False
    a, b = np.asarray(vector_a, dtype=np.float64), np.asarray(vector_b, dtype=np.float64)
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    return denominator > 0 and float(a @ b) / denominator >= threshold


def collapse(
    vectors: Sequence[np.ndarray | None],
    hashes: Sequence[str | None],
    *,
    threshold: float = COSINE_THRESHOLD,
    hash_distance: int = HASH_DISTANCE,
) -> list[Group]:
    """Group results that are the same picture, keeping rank order.

    Greedy in rank order: each result joins the first earlier group whose
    *first* member it duplicates, else starts a group. Comparing with the
    group's first member only (not every member) keeps chains of small
    differences from merging different pictures.
    """
    if len(vectors) != len(hashes):
        raise ValueError("collapse needs one vector and one hash per result")
    groups: list[Group] = []
    for i in range(len(vectors)):
        for group in groups:
            j = group.first
            if same_picture(
                vectors[i], vectors[j], hashes[i], hashes[j], threshold=threshold, hash_distance=hash_distance
            ):
                group.others.append(i)
                break
        else:
            groups.append(Group(i))
    return groups
