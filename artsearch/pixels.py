"""Payload fields computed from an image's pixels: the one registry whose values travel with a reused vector.

A rebuild reuses the vector of every image whose bytes and model are unchanged (see
:mod:`artsearch.vector_cache`) and never decodes that image again, so everything else the payload holds that
comes from the pixels must be reused with it. Each such field is a :class:`PixelField` in
:data:`PIXEL_FIELDS`: its value is computed when an image is decoded, kept in the vector cache beside the
vector, and copied into the payload of every later build. A feature that stores something new derived from
the pixels (a colour palette, say) adds one entry here and gets reuse for free: the first rebuild after
that decodes each image once more to compute the new field, without embedding it again.

A field's ``version`` is cached with its value; bump it when the computation changes, and the next rebuild
recomputes that field (again without re-embedding). Fields computed from the vector alone need no entry:
the reused vector is bit-identical, so they can be recomputed from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image

from artsearch import colour
from artsearch.colour import colour_keys, palette
from artsearch.dedupe import dhash
from artsearch.images import LIBRARY_FORMATS, image_size


@dataclass(frozen=True)
class PixelField:
    """One payload field derived from the image: ``compute(file bytes, decoded image) -> JSON value``.

    The decoded image is the one the model sees before preprocessing: RGB, upright, and for JPEGs decoded
    at a reduced scale (``ingest.DRAFT_SIZE``), so sizes in pixels come from the file's header instead.
    ``source_first``: a value the source already gives (the museum API's image size) is kept.
    """

    name: str
    version: int
    compute: Callable[[bytes, Image.Image], Any]
    source_first: bool = False


PIXEL_FIELDS: tuple[PixelField, ...] = (
    # A colour difference hash: near-duplicate results collapse on it (artsearch.dedupe).
    PixelField("phash", 1, lambda data, image: dhash(image)),
    # The stored size from the header, without decoding (the image has decoded already: its format is allowed).
    PixelField("width", 1, lambda data, image: image_size(data, LIBRARY_FORMATS)[0], source_first=True),
    PixelField("height", 1, lambda data, image: image_size(data, LIBRARY_FORMATS)[1], source_first=True),
    # The dominant colours in CIELAB with their shares, and the Lab-cube keys the colour search filters on.
    PixelField("palette", 1, lambda data, image: palette(image)),
    PixelField(colour.PAYLOAD_KEY, 1, lambda data, image: colour_keys(palette(image))),
)

#: What the cache keeps per image: field name -> [version, value].
Derived = dict[str, list[Any]]


def missing(derived: Mapping[str, Any]) -> list[PixelField]:
    """The registry's fields that ``derived`` lacks, or holds from an older version of their computation."""
    out = []
    for f in PIXEL_FIELDS:
        entry = derived.get(f.name)
        if not (isinstance(entry, list) and len(entry) == 2 and entry[0] == f.version):
            out.append(f)
    return out


def derive(data: bytes, image: Image.Image, known: Mapping[str, Any] | None = None) -> Derived:
    """Every registry field for one decoded image; fields already in ``known`` (current versions) are kept."""
    out: Derived = {f.name: list(known[f.name]) for f in PIXEL_FIELDS if known and f not in missing(known)}
    for f in missing(out):
        out[f.name] = [f.version, f.compute(data, image)]
    return out


def apply(payload: dict[str, Any], derived: Mapping[str, Any]) -> dict[str, Any]:
    """``payload`` with the pixel fields set from ``derived`` (a source's own value wins where it may)."""
    for f in PIXEL_FIELDS:
        if f.name not in derived or (f.source_first and payload.get(f.name) is not None):
            continue
        payload[f.name] = derived[f.name][1]
    return payload
