"""A photo taken in a gallery: the painting found on the wall and its colour cast removed before it is searched,
and the synthetic gallery photos ``python -m artsearch eval`` measures that on.

A phone photo of a painting has a wall around it, a frame, perspective, glare and the room's colour cast. The
search (:func:`photo_views`) turns one such photo into a few views and searches with their mean embedding:

1. **grey-world white balance**: each channel scaled so the photo's mean is neutral (walls are near-neutral, so
   this takes out the room light's cast);
2. **the painting's box**: the wall's colour is the median of the photo's outer ring; pixels far from it mark the
   painting (with its frame); rows and columns where enough of them lie bound it;
3. the box, and the box inset by :data:`FRAME_INSET` on each side (the frame left out).

Why a mean of views and not the best view per artwork: one vector keeps the page's one search path (load more,
refine and "more like this" reuse it); measured against the full photo alone in ``eval`` (gallery recall).
"""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageFilter

#: Pixels at least this far (Euclidean, 0-255 RGB) from the wall's colour count as the painting.
WALL_DISTANCE = 40.0
#: A row or column belongs to the painting's box when at least this share of it is painting.
LINE_SHARE = 0.25
#: The inset view leaves out this share of the box on each side (the frame).
FRAME_INSET = 0.03
#: A box smaller than this share of the photo is not trusted (a photo of the painting alone, no wall): the whole
#: photo is used.
MIN_BOX = 0.05
SIDE = 128  #: the painting is looked for on a copy this many pixels square


def _wall(pixels: np.ndarray) -> np.ndarray:
    """The wall's colour: the median of the photo's outer ring (4 px of a 128 px copy)."""
    ring = [
        pixels[:4].reshape(-1, 3),
        pixels[-4:].reshape(-1, 3),
        pixels[:, :4].reshape(-1, 3),
        pixels[:, -4:].reshape(-1, 3),
    ]
    return np.median(np.concatenate(ring), axis=0)


def white_balanced(image: Image.Image, reference: np.ndarray | None = None) -> Image.Image:
    """The colour cast taken out: channels scaled so ``reference`` (the wall's colour, near-neutral in a gallery)
    becomes grey, or, without one, so the photo's mean does (grey world)."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
    means = reference if reference is not None else pixels.reshape(-1, 3).mean(axis=0)
    gains = float(np.mean(means)) / np.maximum(means, 1.0)
    return Image.fromarray(np.clip(pixels * gains, 0, 255).astype(np.uint8))


def painting_quad(image: Image.Image) -> list[tuple[float, float]] | None:
    """The painting's four corners on the wall (upper-left, lower-left, lower-right, upper-right, in the photo's
    pixels), or None when nothing stands out from the wall enough to be a painting."""
    small = image.convert("RGB").resize((SIDE, SIDE), Image.Resampling.BILINEAR).filter(ImageFilter.MedianFilter(5))
    pixels = np.asarray(small, dtype=np.float64)
    painted = np.linalg.norm(pixels - _wall(pixels), axis=2) > WALL_DISTANCE
    rows = painted.mean(axis=1) >= LINE_SHARE
    cols = painted.mean(axis=0) >= LINE_SHARE
    painted &= rows[:, None] & cols[None, :]  # stray marks on the wall (a label, a shadow) are left out
    if painted.sum() < MIN_BOX * SIDE * SIDE:
        return None
    ys, xs = np.nonzero(painted)
    corners = [
        (xs + ys).argmin(),  # upper-left: smallest x + y
        (xs - ys).argmin(),  # lower-left: smallest x - y
        (xs + ys).argmax(),  # lower-right
        (xs - ys).argmax(),  # upper-right
    ]
    sx, sy = image.width / SIDE, image.height / SIDE
    return [(float(xs[i] + 0.5) * sx, float(ys[i] + 0.5) * sy) for i in corners]


def rectified(image: Image.Image, quad: list[tuple[float, float]]) -> Image.Image:
    """The quadrilateral ``quad`` straightened into a rectangle of its mean side lengths."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = quad
    width = int(max(8, (np.hypot(x3 - x0, y3 - y0) + np.hypot(x2 - x1, y2 - y1)) / 2))
    height = int(max(8, (np.hypot(x1 - x0, y1 - y0) + np.hypot(x2 - x3, y2 - y3)) / 2))
    data = [c for point in quad for c in point]
    return image.transform((width, height), Image.Transform.QUAD, data, Image.Resampling.BILINEAR)


def photo_views(image: Image.Image) -> list[Image.Image]:
    """The views a gallery photo is searched with: the painting, found on the wall, straightened and without its
    frame, with the room's colour cast taken out; the whole photo (balanced) when no painting stands out."""
    rgb = image.convert("RGB")
    wall = _wall(np.asarray(rgb.resize((SIDE, SIDE), Image.Resampling.BILINEAR), dtype=np.float64))
    balanced = white_balanced(rgb, wall)
    quad = painting_quad(rgb)
    if quad is None:
        return [white_balanced(rgb)]
    straight = without_frame(rectified(balanced, quad))
    w, h = straight.size
    dx, dy = int(w * FRAME_INSET), int(h * FRAME_INSET)
    return [straight.crop((dx, dy, w - dx, h - dy))]


def without_frame(image: Image.Image) -> Image.Image:
    """The straightened painting with its frame cut off: from each side, lines that are mostly the frame's colour
    (the median of the outer ring) are dropped, at most a quarter of the side."""
    pixels = np.asarray(image, dtype=np.float64)
    h, w = pixels.shape[:2]
    ring = np.concatenate(
        [
            pixels[:2].reshape(-1, 3),
            pixels[-2:].reshape(-1, 3),
            pixels[:, :2].reshape(-1, 3),
            pixels[:, -2:].reshape(-1, 3),
        ]
    )
    framed = np.linalg.norm(pixels - np.median(ring, axis=0), axis=2) < WALL_DISTANCE

    def depth(lines: np.ndarray) -> int:
        inside = np.flatnonzero(lines.mean(axis=1) < 0.6)
        return int(inside[0]) if len(inside) else 0

    top, bottom = depth(framed), depth(framed[::-1])
    left, right = depth(framed.T), depth(framed.T[::-1])
    top, bottom, left, right = (min(v, lim // 4) for v, lim in ((top, h), (bottom, h), (left, w), (right, w)))
    return image.crop((left, top, w - right, h - bottom))


# --- synthetic gallery photos, for eval ----------------------------------------------------------------------


def _perspective_coefficients(source: list[tuple[float, float]], target: list[tuple[float, float]]) -> list[float]:
    """Pillow's PERSPECTIVE data mapping ``target`` corners back to ``source`` corners."""
    rows = []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    a = np.asarray(rows, dtype=np.float64)
    b = np.asarray([c for point in source for c in point], dtype=np.float64)
    return [float(v) for v in np.linalg.solve(a, b)]


def gallery_photo(painting: Image.Image, rng: random.Random, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A phone photo of ``painting`` hanging in a gallery: framed, on a wall, in perspective, with a glare spot, a
    colour cast and JPEG noise; the painting covers 30-80% of the photo."""
    w, h = size
    art = painting.convert("RGB")
    frame = max(4, int(min(art.size) * rng.uniform(0.04, 0.08)))
    framed = Image.new(
        "RGB", (art.width + 2 * frame, art.height + 2 * frame), rng.choice([(96, 64, 24), (20, 20, 20), (170, 130, 50)])
    )
    framed.paste(art, (frame, frame))
    cover = rng.uniform(0.3, 0.8)
    scale = min(
        np.sqrt(cover * w * h / (framed.width * framed.height)), 0.95 * w / framed.width, 0.95 * h / framed.height
    )
    framed = framed.resize(
        (max(8, int(framed.width * scale)), max(8, int(framed.height * scale))), Image.Resampling.LANCZOS
    )
    fw, fh = framed.size
    x0, y0 = rng.randint(0, w - fw), rng.randint(0, h - fh)
    wall_colour = np.array([rng.randint(180, 240)] * 3) + np.array([rng.randint(-12, 12) for _ in range(3)])
    gradient = np.linspace(-15, 15, w)[None, :, None]
    photo = np.clip(np.broadcast_to(wall_colour, (h, w, 3)) + gradient, 0, 255).astype(np.uint8)
    wall = Image.fromarray(photo)
    # Perspective: each corner moved by up to 8% of the painting's size.
    corners = [(x0, y0), (x0 + fw, y0), (x0 + fw, y0 + fh), (x0, y0 + fh)]
    moved = [(x + rng.uniform(-0.08, 0.08) * fw, y + rng.uniform(-0.08, 0.08) * fh) for x, y in corners]
    layer = Image.new("RGB", size)
    layer.paste(framed, (x0, y0))
    mask = Image.new("L", size)
    mask.paste(255, (x0, y0, x0 + fw, y0 + fh))
    data = _perspective_coefficients(corners, moved)
    layer = layer.transform(size, Image.Transform.PERSPECTIVE, data, Image.Resampling.BILINEAR)
    mask = mask.transform(size, Image.Transform.PERSPECTIVE, data, Image.Resampling.BILINEAR)
    wall.paste(layer, (0, 0), mask)
    pixels = np.asarray(wall, dtype=np.float64)
    # Glare: a soft white spot somewhere on the painting.
    gx, gy = rng.uniform(x0, x0 + fw), rng.uniform(y0, y0 + fh)
    radius = rng.uniform(0.08, 0.2) * max(fw, fh)
    yy, xx = np.mgrid[0:h, 0:w]
    glare = rng.uniform(0.4, 0.7) * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * radius**2))
    pixels = pixels * (1 - glare[..., None]) + 255 * glare[..., None]
    # The room's colour cast.
    pixels *= np.array([1 + rng.uniform(-0.15, 0.15) for _ in range(3)])
    photo_image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    photo_image.save(buf, "JPEG", quality=rng.randint(40, 70))
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
