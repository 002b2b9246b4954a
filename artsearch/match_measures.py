"""How honest the match labels are (what ``eval`` reports): the precision of "strong match" and the share of
queries for what the collection does not hold that are told nothing matches.

* strong-match precision: over templated text queries that name an artist ("a painting by {artist}") and
  "more like this" on sampled artworks, the share of results labelled "strong match" by that artist;
* nothing-matches rate: over queries the collection has nothing of, the share whose page says "nothing
  in this collection looks much like that": words (``eval --absent FILE``, one query a line; by default a
  few things no art collection shows) and generated noise images.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from artsearch.calibration import STRONG
from artsearch.errors import ConfigError
from artsearch.files import read_at_most

DEFAULT_ABSENT = (
    "a screenshot of a spreadsheet",
    "a barcode",
    "a printed circuit board",
    "a smartphone lying on a desk",
    "a car engine",
    "a page of computer code",
)
NOISE_IMAGES = 10


def load_absent(path: Path) -> list[str]:
    """Queries the collection holds nothing of: one a line (``#`` comments)."""
    text = read_at_most(Path(path), 1024 * 1024, what="the absent queries file", error=ConfigError).decode("utf-8")
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return [line for line in lines if line]


def noise_images(n: int = NOISE_IMAGES, seed: int = 0) -> list[bytes]:
    """``n`` PNGs of uniform random pixels, at a few sizes and block scales (seeded)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        block = (1, 4, 16)[i % 3]
        small = rng.integers(0, 256, (224 // block, 224 // block, 3), dtype=np.uint8)
        image = Image.fromarray(small).resize((224, 224), Image.NEAREST)
        buf = io.BytesIO()
        image.save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def strong_precision(service, queries: Sequence[tuple[object, str]], k: int = 10) -> tuple[float | None, int]:
    """(share of "strong match" results whose artist is the query's, how many strong results) over ``queries``:
    (Query, expected artist) pairs, run through :meth:`SearchService.page`."""
    right = total = 0
    for query, artist in queries:
        for hit in service.page(query).hits[:k]:
            if hit.match == STRONG:
                total += 1
                right += hit.artist_name == artist
    return (right / total if total else None), total


def nothing_rate(service, queries: Sequence[object]) -> tuple[float | None, int]:
    """(share of ``queries`` whose page says nothing matches, how many had labels)."""
    told = labelled = 0
    for query in queries:
        page = service.page(query)
        if page.hits and page.hits[0].match is not None:
            labelled += 1
            told += page.nothing_matches
    return (told / labelled if labelled else None), labelled
