"""A synthetic captioned image dataset: coloured shapes on coloured backgrounds.

Each sample is a PIL image with a caption such as ``"a red circle on a blue background"``
and its attributes (shape, colour, background, size). Everything is deterministic in
``seed``: sample ``i`` depends only on ``(seed, i)``, so ``generate(100, seed)`` is a prefix
of ``generate(1000, seed)``. Colour x shape combinations are balanced: every block of
``len(colours) * len(shapes)`` consecutive samples holds each combination exactly once.

Uses only Pillow and numpy. Shapes are drawn at 4x and downsampled, so edges are smooth
at any size. Used to train the small CLIP in ``models/tiny-clip-shapes`` and, through
:func:`write_dataset`, as a folder of images the ingest pipeline can read.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross")
COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "orange")
#: Backgrounds: neutrals plus every shape colour (a shape never sits on its own colour).
BACKGROUNDS: tuple[str, ...] = ("white", "black", "gray", *COLOURS)

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (215, 35, 35),
    "green": (35, 165, 55),
    "blue": (35, 75, 215),
    "yellow": (245, 215, 30),
    "purple": (135, 50, 175),
    "orange": (245, 135, 20),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
    "gray": (128, 128, 128),
}

GroupBy = Literal["colour_shape", "shape", "colour", "background", "none"]

_SUPERSAMPLE = 4
_COLOUR_JITTER = 12  # +- per RGB channel, so colours are not one exact value


@dataclass(frozen=True)
class ShapeSample:
    """One synthetic image with its caption and attributes."""

    index: int
    image: Image.Image
    caption: str
    shape: str
    colour: str
    background: str
    size: str  # "small" or "large"

    @property
    def label(self) -> str:
        """``"red circle"``: the colour + shape class, what text queries ask for."""
        return f"{self.colour} {self.shape}"

    def attributes(self) -> dict[str, str]:
        return {"shape": self.shape, "colour": self.colour, "background": self.background, "size": self.size}


@dataclass(frozen=True)
class WrittenSample:
    """A sample written by :func:`write_dataset`: where it is and what it shows."""

    path: Path
    caption: str
    shape: str
    colour: str
    background: str
    size: str


def _a(word: str) -> str:
    """The indefinite article for ``word``: "an orange", "a red"."""
    return "an" if word[0] in "aeiou" else "a"


def make_caption(colour: str, shape: str, background: str) -> str:
    return f"{_a(colour)} {colour} {shape} on {_a(background)} {background} background"


def caption_variants(colour: str, shape: str, background: str, size: str | None = None) -> list[str]:
    """Other ways to say the same thing; training samples one at random for text augmentation."""
    variants = [
        make_caption(colour, shape, background),
        f"{_a(colour)} {colour} {shape}",
        f"{colour} {shape}",
        f"a picture of {_a(colour)} {colour} {shape}",
        f"{_a(colour)} {colour} {shape} on {background}",
        f"{colour} {shape} with {_a(background)} {background} background",
    ]
    if size is not None:
        variants.append(f"a {size} {colour} {shape} on {_a(background)} {background} background")
    return variants


def _polygon_points(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    """Vertices of a regular-ish polygon shape of circumradius ``r`` rotated by ``angle`` radians."""
    if shape == "square":
        base = [(math.pi / 4 + k * math.pi / 2, r) for k in range(4)]
    elif shape == "triangle":
        base = [(-math.pi / 2 + k * 2 * math.pi / 3, r) for k in range(3)]
    elif shape == "star":
        base = [(-math.pi / 2 + k * math.pi / 5, r if k % 2 == 0 else r * 0.42) for k in range(10)]
    elif shape == "cross":
        w = r * 0.36  # half arm width
        corners = [(w, r), (w, w), (r, w), (r, -w), (w, -w), (w, -r), (-w, -r), (-w, -w), (-r, -w), (-r, w), (-w, w)]
        corners.append((-w, r))
        base = [(math.atan2(y, x), math.hypot(x, y)) for x, y in corners]
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return [(cx + rad * math.cos(a + angle), cy + rad * math.sin(a + angle)) for a, rad in base]


def _jitter(rgb: tuple[int, int, int], rng: np.random.Generator) -> tuple[int, int, int]:
    noisy = np.clip(np.asarray(rgb) + rng.integers(-_COLOUR_JITTER, _COLOUR_JITTER + 1, 3), 0, 255)
    return (int(noisy[0]), int(noisy[1]), int(noisy[2]))


def render(
    shape: str,
    colour: str,
    background: str,
    *,
    image_size: int = 224,
    scale: float = 0.55,
    center: tuple[float, float] = (0.5, 0.5),
    angle: float = 0.0,
    rng: np.random.Generator | None = None,
) -> Image.Image:
    """Draw one shape. ``scale`` is the shape's diameter as a fraction of the side, ``center`` in [0, 1]."""
    rng = rng if rng is not None else np.random.default_rng(0)
    big = image_size * _SUPERSAMPLE
    img = Image.new("RGB", (big, big), _jitter(PALETTE[background], rng))
    draw = ImageDraw.Draw(img)
    fill = _jitter(PALETTE[colour], rng)
    r = scale * big / 2
    cx, cy = center[0] * big, center[1] * big
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    else:
        draw.polygon(_polygon_points(shape, cx, cy, r, angle), fill=fill)
    return img.resize((image_size, image_size), Image.Resampling.LANCZOS)


def _combo_for(index: int, seed: int, n_colours: int, n_shapes: int) -> tuple[int, int]:
    """Balanced assignment: each block of n_colours*n_shapes samples is a permutation of all combos."""
    n_combos = n_colours * n_shapes
    block, offset = divmod(index, n_combos)
    perm = np.random.default_rng([seed, 1, block]).permutation(n_combos)
    combo = int(perm[offset])
    return combo // n_shapes, combo % n_shapes


def sample(
    index: int,
    seed: int = 0,
    *,
    image_size: int = 224,
    shapes: Sequence[str] = SHAPES,
    colours: Sequence[str] = COLOURS,
    backgrounds: Sequence[str] = BACKGROUNDS,
) -> ShapeSample:
    """Sample ``index`` of the dataset with ``seed``."""
    ci, si = _combo_for(index, seed, len(colours), len(shapes))
    colour, shape = colours[ci], shapes[si]
    rng = np.random.default_rng([seed, 2, index])
    allowed = [b for b in backgrounds if b != colour]
    background = allowed[int(rng.integers(len(allowed)))]
    scale = float(rng.uniform(0.35, 0.8))
    margin = scale / 2 + 0.03
    center = (float(rng.uniform(margin, 1 - margin)), float(rng.uniform(margin, 1 - margin)))
    angle = 0.0 if shape == "circle" else math.radians(float(rng.uniform(-20, 20)))
    image = render(shape, colour, background, image_size=image_size, scale=scale, center=center, angle=angle, rng=rng)
    return ShapeSample(
        index=index,
        image=image,
        caption=make_caption(colour, shape, background),
        shape=shape,
        colour=colour,
        background=background,
        size="small" if scale < 0.55 else "large",
    )


def iter_samples(n: int, seed: int = 0, *, start: int = 0, **kwargs: object) -> Iterator[ShapeSample]:
    """Samples ``start .. start + n - 1``; keyword arguments as for :func:`sample`."""
    for i in range(start, start + n):
        yield sample(i, seed, **kwargs)  # type: ignore[arg-type]


def generate(n: int, seed: int = 0, **kwargs: object) -> list[ShapeSample]:
    """``n`` samples as a list; keyword arguments as for :func:`sample`."""
    return list(iter_samples(n, seed, **kwargs))


def _group_name(s: ShapeSample, group_by: GroupBy) -> str | None:
    if group_by == "colour_shape":
        return f"{s.colour}_{s.shape}"
    if group_by == "shape":
        return s.shape
    if group_by == "colour":
        return s.colour
    if group_by == "background":
        return f"on_{s.background}"
    if group_by == "none":
        return None
    raise ValueError(f"unknown group_by {group_by!r}")


def write_dataset(
    root: Path,
    n: int,
    seed: int = 0,
    *,
    group_by: GroupBy = "colour_shape",
    image_size: int = 224,
    image_format: Literal["png", "jpg"] = "png",
) -> list[WrittenSample]:
    """Write ``n`` samples as image files under ``root`` and return what was written.

    Layout: ``<root>/<group>/<index>_<colour>_<shape>_on_<background>.<ext>``, where the
    group folder is e.g. ``red_circle`` (``group_by="colour_shape"``), ``circle``,
    ``red``, ``on_blue``; with ``group_by="none"`` files go straight into ``root``.
    A folder source that takes the artist from the sub-folder then sees one "artist"
    per group. Existing files with the same names are overwritten.
    """
    root = Path(root)
    written: list[WrittenSample] = []
    for s in iter_samples(n, seed, image_size=image_size):
        group = _group_name(s, group_by)
        folder = root / group if group else root
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{s.index:05d}_{s.colour}_{s.shape}_on_{s.background}.{image_format}"
        if image_format == "jpg":
            s.image.save(path, format="JPEG", quality=92)
        else:
            s.image.save(path, format="PNG")
        written.append(WrittenSample(path, s.caption, s.shape, s.colour, s.background, s.size))
    return written
