"""Near-duplicate hashes and the collapse of copies into one result."""

from __future__ import annotations

import io
import itertools

import numpy as np
from PIL import Image

from artsearch import dedupe
from artsearch.testing import synthetic
from tests.support.datasets import painting


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def copies(img: Image.Image) -> list[Image.Image]:
    w, h = img.size
    cx, cy = int(w * 0.04), int(h * 0.04)
    return [
        img.resize((w // 2, h // 2)),
        img.resize((w // 4, h // 4)),
        _jpeg(img, 30),
        _jpeg(img, 60),
        img.crop((cx, cy, w - cx, h - cy)),
    ]


def distinct_pictures() -> list[Image.Image]:
    return (
        [painting(1000 + i) for i in range(20)]
        + [s.image for s in synthetic.generate(20, seed=7)]
        + [painting(i, (400, 300)) for i in range(3000, 3020)]
    )


def test_tuned_thresholds_separate_copies_from_distinct_images():
    """The evidence for HASH_DISTANCE: copies within 21 bits, distinct pictures 30 or more apart."""
    pictures = distinct_pictures()
    hashes = [dedupe.dhash(p) for p in pictures]
    copy_distances = [
        dedupe.hamming(h, dedupe.dhash(c)) for p, h in zip(pictures, hashes, strict=True) for c in copies(p)
    ]
    distinct_distances = [dedupe.hamming(a, b) for a, b in itertools.combinations(hashes, 2)]
    assert max(copy_distances) <= dedupe.HASH_DISTANCE < min(distinct_distances)
    assert max(copy_distances) <= 21 and min(distinct_distances) >= 30  # the measured margins, as documented


def test_hash_format_and_hamming():
    h = dedupe.dhash(painting(1))
    assert len(h) == 96 and int(h, 16) >= 0
    assert dedupe.hamming(h, h) == 0
    assert dedupe.hamming(h, "") == dedupe.HASH_BITS + 1 and dedupe.hamming("zz", h) == dedupe.HASH_BITS + 1


def test_collapse_groups_copies_under_the_best_ranked_and_keeps_order():
    a, b = painting(11, (300, 200)), painting(12, (300, 200))
    images = [a, b, *copies(a)[:2], copies(b)[4]]
    hashes = [dedupe.dhash(i) for i in images]
    groups = dedupe.collapse([None] * len(images), hashes)
    assert [(g.first, g.others, g.copies) for g in groups] == [(0, [2, 3], 3), (1, [4], 2)]


def test_without_hashes_the_cosine_decides():
    v = np.array([1.0, 0.0, 0.0])
    near = np.array([0.99, 0.05, 0.0])
    far = np.array([0.6, 0.8, 0.0])
    groups = dedupe.collapse([v, far, near, None], [None, None, None, None])
    assert [(g.first, g.others) for g in groups] == [(0, [2]), (1, []), (3, [])]
    # with hashes on both, the hash decides even when the vectors are identical
    assert not dedupe.same_picture(v, v, "0" * 96, "f" * 96)
