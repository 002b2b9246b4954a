"""Fuzz artsearch.images: whatever the bytes, only ImageError or a valid RGB image comes out.

Inputs are random bytes (plain, and behind real format signatures so the
parsers go deeper) and mutations of small valid JPEG, PNG, GIF and WEBP files:
bit flips, byte overwrites, truncations, insertions, and deletions and
duplications of byte ranges and of whole PNG chunks / JPEG segments / RIFF
chunks. Runs are derandomized with no example database, so CI sees the same
examples every time.

The pixel limit is lowered to one megapixel so that a mutated header declaring
a large size cannot make the run slow or memory-hungry; the limit itself is
tested in ``test_images.py``.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import warnings
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from artsearch.errors import ImageError
from artsearch.images import image_size, load_image

logger = logging.getLogger(__name__)

#: 300 per format in CI; set ARTSEARCH_FUZZ_EXAMPLES for a longer local run.
EXAMPLES_PER_FORMAT = int(os.environ.get("ARTSEARCH_FUZZ_EXAMPLES", "300"))
FUZZ_MAX_PIXELS = 1_000_000
FUZZ = settings(
    max_examples=EXAMPLES_PER_FORMAT,
    derandomize=True,
    database=None,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Examples actually run (generation plus shrinking), per input kind; logged by each test.
TRIED: Counter[str] = Counter()


def _seed_image() -> Image.Image:
    """A small picture with edges, gradient and noise, so encoders use varied code paths."""
    img = Image.linear_gradient("L").resize((48, 40)).convert("RGB")
    img.paste((220, 30, 30), (5, 5, 20, 30))
    noise = Image.effect_noise((48, 40), 40).convert("RGB")
    return Image.blend(img, noise, 0.3)


def _encode(fmt: str, **params: object) -> bytes:
    img = _seed_image()
    if fmt == "PNG-RGBA":
        img = img.convert("RGBA")
        img.putalpha(Image.linear_gradient("L").resize(img.size))
        fmt = "PNG"
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


SEEDS: dict[str, bytes] = {
    "jpeg": _encode("JPEG", quality=85),
    "png": _encode("PNG-RGBA"),
    "gif": _encode("GIF"),
    "webp": _encode("WEBP", quality=80),
}

SIGNATURES = [
    b"\xff\xd8\xff\xe0",
    b"\x89PNG\r\n\x1a\n",
    b"GIF89a",
    b"GIF87a",
    b"RIFF\x00\x10\x00\x00WEBPVP8 ",
    b"RIFF\x00\x10\x00\x00WEBPVP8L",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
]


# ---------------------------------------------------------------- structure-aware splitting


def _spans(marks: list[int], end: int) -> list[tuple[int, int]]:
    """Consecutive (start, end) pairs from cut positions; the last runs to ``end``."""
    return [(a, b) for a, b in zip(marks, [*marks[1:], end], strict=False) if b > a]


def _png_chunks(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each chunk after the 8-byte signature."""
    spans, pos = [], 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        end = min(len(data), pos + 12 + length)
        spans.append((pos, end))
        pos = end
    return spans


def _jpeg_segments(data: bytes) -> list[tuple[int, int]]:
    """(start, end) between successive 0xFF marker bytes (rough, good enough to cut on)."""
    marks = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] not in (0x00, 0xFF)]
    return _spans(marks, len(data))


def _riff_chunks(data: bytes) -> list[tuple[int, int]]:
    spans, pos = [], 12
    while pos + 8 <= len(data):
        (length,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        end = min(len(data), pos + 8 + length + (length & 1))
        spans.append((pos, end))
        pos = end
    return spans


def _gif_blocks(data: bytes) -> list[tuple[int, int]]:
    """Cut at GIF block introducers (extension 0x21, image 0x2C, trailer 0x3B) past the header."""
    marks = [i for i in range(13, len(data)) if data[i] in (0x21, 0x2C, 0x3B)]
    return _spans(marks, len(data))


SPLITTERS: dict[str, Callable[[bytes], list[tuple[int, int]]]] = {
    "png": _png_chunks,
    "jpeg": _jpeg_segments,
    "webp": _riff_chunks,
    "gif": _gif_blocks,
}


# ---------------------------------------------------------------- mutations


@st.composite
def mutation(draw: st.DrawFn, kind: str) -> Callable[[bytes], bytes]:
    """One mutation of a byte string, chosen and parametrised by hypothesis."""
    op = draw(
        st.sampled_from(
            ["flip", "overwrite", "truncate", "insert", "delete", "duplicate", "drop_unit", "dup_unit", "swap_units"]
        )
    )
    a = draw(st.integers(0, 1 << 16))
    b = draw(st.integers(0, 1 << 16))
    bit = draw(st.integers(0, 7))
    blob = draw(st.binary(min_size=1, max_size=16))

    def apply(data: bytes) -> bytes:
        if not data:
            return blob
        n = len(data)
        i, j = a % n, b % n
        if op == "flip":
            return data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1 :]
        if op == "overwrite":
            return data[:i] + blob + data[i + len(blob) :]
        if op == "truncate":
            return data[:i]
        if op == "insert":
            return data[:i] + blob + data[i:]
        if op == "delete":
            lo, hi = sorted((i, j))
            return data[:lo] + data[hi : hi + 1 + (hi - lo) % 64]
        if op == "duplicate":
            lo, hi = sorted((i, j))
            piece = data[lo : lo + 1 + (hi - lo) % 256]
            return data[:hi] + piece + data[hi:]
        units = SPLITTERS[kind](data)
        if not units:
            return data[:i]
        s, e = units[a % len(units)]
        if op == "drop_unit":
            return data[:s] + data[e:]
        if op == "dup_unit":
            return data[:e] + data[s:e] + data[e:]
        s2, e2 = units[b % len(units)]  # swap_units
        if (s, e) == (s2, e2) or not (e <= s2 or e2 <= s):
            return data
        (s, e), (s2, e2) = sorted(((s, e), (s2, e2)))
        return data[:s] + data[s2:e2] + data[e:s2] + data[s:e] + data[e2:]

    return apply


def check(data: bytes, draft: tuple[int, int] | None = None) -> str:
    """Decode ``data``; anything other than ImageError or a valid RGB image fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about damaged metadata; not what we test here
        try:
            img = load_image(data, max_pixels=FUZZ_MAX_PIXELS, draft_size=draft, name="fuzz.bin")
        except ImageError as exc:
            message = str(exc)
            assert message.startswith("fuzz.bin ") and "\n" not in message
            outcome = "refused"
        else:
            assert img.mode == "RGB"
            width, height = img.size
            assert width >= 1 and height >= 1 and width * height <= FUZZ_MAX_PIXELS
            assert len(img.tobytes()) == width * height * 3
            outcome = "decoded"
        try:
            size = image_size(data)
            assert isinstance(size, tuple) and len(size) == 2
        except ImageError:
            pass
    return outcome


def test_seeds_are_valid_images() -> None:
    for kind, data in SEEDS.items():
        assert check(data) == "decoded", kind


def _fuzz_format(kind: str) -> Callable[..., None]:
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(
        mutations=st.lists(mutation(kind), min_size=1, max_size=4),
        draft=st.sampled_from([None, (8, 8), (24, 20)]),
    )
    def run(mutations: list[Callable[[bytes], bytes]], draft: tuple[int, int] | None) -> None:
        data = SEEDS[kind]
        for mutate in mutations:
            data = mutate(data)
        outcomes[check(data, draft)] += 1
        TRIED[kind] += 1

    run.outcomes = outcomes  # type: ignore[attr-defined]
    return run


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_mutated_files_give_image_or_image_error(kind: str) -> None:
    run = _fuzz_format(kind)
    run()
    logger.info("fuzz %s: %d examples, %s", kind, TRIED[kind], dict(run.outcomes))  # type: ignore[attr-defined]
    assert TRIED[kind] >= EXAMPLES_PER_FORMAT // 2


@FUZZ
@given(prefix=st.sampled_from([b"", *SIGNATURES]), body=st.binary(max_size=2048))
def _fuzz_random(prefix: bytes, body: bytes) -> None:
    check(prefix + body)
    TRIED["random"] += 1


def test_random_bytes_give_image_or_image_error() -> None:
    _fuzz_random()
    logger.info("fuzz random bytes: %d examples", TRIED["random"])
    assert TRIED["random"] >= EXAMPLES_PER_FORMAT // 2
