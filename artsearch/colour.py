"""Colour: each picture's palette in CIELAB, the cell keys that make "works with a lot of this colour" a Qdrant
filter, and the exact match that decides.

At ingest (:data:`artsearch.pixels.PIXEL_FIELDS`) the already decoded image is shrunk to 64 px and quantised
(Pillow's median cut, 8 colours); colours closer than :data:`MERGE_DELTA_E` merge, and the :data:`PALETTE_SIZE`
largest with at least :data:`MIN_ENTRY_SHARE` of the picture are kept as ``palette``:
``[{"hex": "#1f3a93", "lab": [L, a, b], "share": 0.62}, ...]``.

**The rule.** A work *has* a colour when a palette entry with at least :data:`MIN_SHARE` of the picture lies
within :data:`DELTA_E` (CIE76 ΔE, the Euclidean distance in Lab) of it; *how much* of it is the sum of the
shares of the entries within that distance.

**In Qdrant.** Lab space is cut into cubes of :data:`CELL` units; each palette entry adds a keyword
``"<tier>:<L>:<a>:<b>"`` (its cube) for every share tier it reaches (:data:`TIERS`: 5, 20 and 40 % of the picture)
to ``colour_keys``, a keyword-indexed payload field. A query colour becomes the keys of every cube that comes
within ``DELTA_E`` of it (about 120): ``MatchAny`` on them keeps every work that has the colour, inside Qdrant,
plus a few whose entry is up to one cube's diagonal farther; :func:`has_colours` drops those exactly. A colour
alone is ranked by tiers (works with 40 % of it first, then 20 %, then 5 %), and by how much of it within a tier;
with words or an image the CLIP ranking orders the works that have it.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

#: Two colours closer than this (ΔE76) are "the same colour" for the colour search.
DELTA_E = 20.0
#: A work has a colour when an entry of at least this share of the picture is within DELTA_E of it.
MIN_SHARE = 0.05
#: The share tiers stored as keys; the colour-only ranking goes from the highest down.
TIERS = (0.40, 0.20, MIN_SHARE)
CELL = 10.0  #: the Lab cube's side
PALETTE_SIZE = 5
MIN_ENTRY_SHARE = 0.02
MERGE_DELTA_E = 12.0
QUANTISE_COLOURS = 8
MAX_COLOURS = 2  #: colours one search may ask for
PAYLOAD_KEY = "colour_keys"
#: What the page's two pickers start at: a blue and an ochre.
DEFAULT_COLOURS = ("#1f3a93", "#cc7722")

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


# --- CIELAB ------------------------------------------------------------------------------------------------


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (0-255, shape (..., 3)) to CIELAB (D65)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array(
        [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
    )
    xyz = linear @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def parse_hex(value: str) -> str | None:
    """``"#1F3A93"`` or ``"1f3a93"`` as ``"#1f3a93"``; None for anything else."""
    match = _HEX.match(str(value).strip())
    return f"#{match.group(1).lower()}" if match else None


def hex_lab(value: str) -> np.ndarray:
    return np.array(_hex_lab(value))


@functools.lru_cache(maxsize=1024)
def _hex_lab(value: str) -> tuple[float, float, float]:
    """The colour's Lab, worked out once per colour (the exact rule asks for it once per candidate work)."""
    hexed = parse_hex(value)
    if hexed is None:
        raise ValueError(f"not a colour: {value!r}")
    lab = rgb_to_lab(np.array([int(hexed[i : i + 2], 16) for i in (1, 3, 5)]))
    return (float(lab[0]), float(lab[1]), float(lab[2]))


def delta_e(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """CIE76 ΔE: the Euclidean distance in Lab."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


# --- the palette, at ingest ---------------------------------------------------------------------------------


def palette(image: Image.Image) -> list[dict[str, Any]]:
    """The picture's dominant colours, largest share first (see the module docstring)."""
    small = image.convert("RGB").resize((64, 64), Image.Resampling.BILINEAR)
    quantised = small.quantize(colors=QUANTISE_COLOURS, method=Image.Quantize.MEDIANCUT)
    flat = quantised.getpalette() or []
    counts = quantised.getcolors() or []
    total = float(sum(n for n, _ in counts)) or 1.0
    entries = []
    for n, index in sorted(counts, key=lambda c: -c[0]):
        rgb = np.array(flat[3 * index : 3 * index + 3], dtype=np.float64)
        entries.append({"rgb": rgb, "lab": rgb_to_lab(rgb), "share": n / total})
    merged: list[dict[str, Any]] = []
    for e in entries:  # greedy, largest first: a colour joins the first kept colour it is close to
        for m in merged:
            if delta_e(m["lab"], e["lab"]) < MERGE_DELTA_E:
                share = m["share"] + e["share"]
                m["lab"] = (m["lab"] * m["share"] + e["lab"] * e["share"]) / share
                m["share"] = share
                break
        else:
            merged.append(dict(e))
    merged.sort(key=lambda m: -m["share"])
    return [
        {
            "hex": "#" + "".join(f"{int(v):02x}" for v in m["rgb"]),
            "lab": [round(float(v), 1) for v in m["lab"]],
            "share": round(float(m["share"]), 3),
        }
        for m in merged[:PALETTE_SIZE]
        if m["share"] >= MIN_ENTRY_SHARE
    ]


def _cell(lab: Sequence[float]) -> tuple[int, int, int]:
    return tuple(int(math.floor(float(v) / CELL)) for v in lab)  # type: ignore[return-value]


def _key(tier: float, cell: tuple[int, int, int]) -> str:
    return f"{round(tier * 100)}:{cell[0]}:{cell[1]}:{cell[2]}"


def colour_keys(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """The ``colour_keys`` of a palette: each entry's cube once per share tier it reaches."""
    keys = []
    for e in entries:
        for tier in TIERS:
            if float(e.get("share", 0)) >= tier:
                keys.append(_key(tier, _cell(e["lab"])))
    return sorted(set(keys))


# --- a query colour -----------------------------------------------------------------------------------------


def query_keys(hex_colour: str, tier: float = MIN_SHARE, radius: float = DELTA_E) -> list[str]:
    """The keys of every cube that comes within ``radius`` of the colour, at one share tier."""
    return list(_query_keys(hex_colour, tier, radius))


@functools.lru_cache(maxsize=256)
def _query_keys(hex_colour: str, tier: float, radius: float) -> tuple[str, ...]:
    """:func:`query_keys`, worked out once per colour and tier (a page asks for them again for each batch)."""
    lab = hex_lab(hex_colour)
    ranges = [range(int(math.floor((v - radius) / CELL)), int(math.floor((v + radius) / CELL)) + 1) for v in lab]
    keys = []
    for i in ranges[0]:
        for j in ranges[1]:
            for k in ranges[2]:
                low = np.array([i, j, k], dtype=np.float64) * CELL
                nearest = np.clip(lab, low, low + CELL)
                if np.linalg.norm(nearest - lab) < radius:
                    keys.append(_key(tier, (i, j, k)))
    return tuple(keys)


def share_of(payload: Mapping[str, Any], hex_colour: str, radius: float = DELTA_E) -> float:
    """How much of the colour a work has: the shares of its palette entries within ``radius``; 0 when it does not
    have it (no entry of at least MIN_SHARE that close)."""
    lab = _hex_lab(hex_colour)
    entries = [e for e in payload.get("palette") or [] if isinstance(e, Mapping) and "lab" in e]
    near = [float(e.get("share", 0)) for e in entries if math.dist(tuple(map(float, e["lab"])), lab) < radius]
    return float(sum(near)) if near and max(near) >= MIN_SHARE else 0.0


def has_colours(payload: Mapping[str, Any], colours: Sequence[str]) -> bool:
    """Whether a work has every one of ``colours`` (the rule in the module docstring)."""
    return all(share_of(payload, c) > 0 for c in colours)


def amount(payload: Mapping[str, Any], colours: Sequence[str]) -> float:
    """How much of the asked colours a work has: the smallest share among them (both must be there)."""
    return min((share_of(payload, c) for c in colours), default=0.0)
