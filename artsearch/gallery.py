"""A photo taken in a gallery: the painting found on the wall, straightened, its frame, the room's colour cast and
the glare taken out before it is searched; and the synthetic gallery photos ``python -m artsearch eval`` measures
that on.

A phone photo of a painting has a wall around it, a frame, perspective, glare and the room's colour cast. The
search (:func:`photo_views`) turns one such photo into the painting alone:

1. :func:`painting_quad`: the wall is what a flood fill from the photo's edge reaches through wall-coloured
   pixels; the painting is the convex hull of the rest, its sides lines fitted to the outline;
2. :func:`rectified`, white-balanced on the wall's colour (walls are near-neutral: this takes out the cast);
3. :func:`without_frame`: the lines of the frame's colour cut from each side;
4. :func:`without_glare`: the wash toward white that glare adds, found by Horn's retinex, divided out.

One view, one vector: the page's one search path (load more, refine, "more like this") reuses it. Measured
against the whole photo in ``eval`` (gallery recall; README, "A photo taken in a gallery").
"""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

#: The wall: pixels whose chroma (colour less its grey level, 0-255 RGB) is this close to the wall's ...
WALL_CHROMA = 24.0
#: ... and whose grey level is at most this much darker than the wall's (its shading) or this much lighter (glare
#: on the wall) are wall, when they are reached from the photo's edge through wall.
WALL_DARKER, WALL_LIGHTER = 40.0, 70.0
#: Parts of the painting smaller than this share of the photo are specks (noise, a label) and left out.
SPECK = 0.002
#: A frame is looked for in at most this share of each side of the straightened painting; a side where the frame's
#: colour runs on (the painting's edge is the frame's colour) takes the other sides' width.
FRAME_MAX = 0.15
#: Pixels this close (Euclidean, 0-255 RGB) to the frame's colour are frame; a line more than half frame is frame.
FRAME_DISTANCE = 40.0
#: The frame's colour is read this share of the side in from the edge (where the wall's blur has ended).
FRAME_EDGE = 0.01
#: After the frame, this share of each side is cut too (the frame's blurred inner edge).
FRAME_INSET = 0.01
#: A painting smaller than this share of the photo is not trusted (a photo of the painting alone, no wall): the
#: whole photo is used.
MIN_BOX = 0.05
SIDE = 160  #: the painting is looked for on a copy this many pixels square
#: A larger photo is scaled down to this longest side first (the painting, 30% of it or more, stays far larger than
#: the model's 224 px).
WORK_SIDE = 1024
#: Glare is measured on a copy this many pixels square.
GLARE_SIDE = 192
#: A step of log darkness (255 less a pixel's lowest channel: :func:`glare_field`) steeper than this per pixel of
#: that copy is the painting's own edge; gentler ones are the light's.
GLARE_EDGE = 0.05
#: Glare is taken out only where it washes some pixel at least this much toward white (0-1): a photo without glare
#: measures at most about 0.2 (the painting's own gentle shading), one with a glare spot 0.4-0.7.
GLARE_MIN = 0.3
#: At most this much wash is undone (the painting under a burnt-out highlight is not there to recover).
GLARE_MAX = 0.85


def _ring(pixels: np.ndarray, width: int) -> np.ndarray:
    """The pixels of the outer ``width`` lines of an image, as rows of RGB."""
    ring = [pixels[:width], pixels[-width:], pixels[:, :width], pixels[:, -width:]]
    return np.concatenate([part.reshape(-1, 3) for part in ring])


def _wall(pixels: np.ndarray) -> np.ndarray:
    """The wall's colour: the median of the photo's outer ring (3 px of a 160 px copy)."""
    return np.median(_ring(pixels, 3), axis=0)


def white_balanced(image: Image.Image, reference: np.ndarray | None = None) -> Image.Image:
    """The colour cast taken out: channels scaled so ``reference`` (the wall's colour, near-neutral in a gallery)
    becomes grey, or, without one, so the photo's mean does (grey world)."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
    means = reference if reference is not None else pixels.reshape(-1, 3).mean(axis=0)
    gains = float(np.mean(means)) / np.maximum(means, 1.0)
    return Image.fromarray(np.clip(pixels * gains, 0, 255).astype(np.uint8))


def _grown(seed: np.ndarray, within: np.ndarray) -> np.ndarray:
    """The pixels of ``within`` 4-connected to ``seed`` through ``within`` (a flood fill, by repeated dilation; 4-
    and not 8-connected, so the wall does not leak into the painting through a frame's corner pixels)."""
    reached = seed & within
    while True:
        grown = reached.copy()
        grown[1:] |= reached[:-1]
        grown[:-1] |= reached[1:]
        grown[:, 1:] |= reached[:, :-1]
        grown[:, :-1] |= reached[:, 1:]
        grown &= within
        if np.array_equal(grown, reached):
            return reached
        reached = grown


def _components(mask: np.ndarray, min_size: float) -> list[np.ndarray]:
    """The connected parts of ``mask`` of at least ``min_size`` pixels."""
    left, parts = mask.copy(), []
    while left.any():
        seed = np.zeros_like(mask)
        seed[tuple(np.argwhere(left)[0])] = True
        part = _grown(seed, left)
        left &= ~part
        if part.sum() >= min_size:
            parts.append(part)
    return parts


def _hull(points: np.ndarray) -> list[tuple[int, int]]:
    """The convex hull of integer points (Andrew's monotone chain), counter-clockwise."""
    pts = sorted({(int(x), int(y)) for x, y in points})

    def turn(o: tuple[int, int], a: tuple[int, int], b: tuple[int, int]) -> int:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    chains: list[list[tuple[int, int]]] = []
    for ordered in (pts, pts[::-1]):
        chain: list[tuple[int, int]] = []
        for p in ordered:
            while len(chain) >= 2 and turn(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
        chains.append(chain[:-1])
    return chains[0] + chains[1]


def painting_mask(image: Image.Image) -> np.ndarray | None:
    """The painting (with its frame) on a :data:`SIDE` px square copy of the photo, or None when all is wall.

    The wall is what a flood fill from the photo's edge reaches through wall-coloured pixels, so a painting whose
    colours are the wall's (a white ground) is kept whole inside its frame; the painting is the convex hull of
    what is left, less specks, so a frame cut through by glare (which makes it wall-grey) still bounds it."""
    small = image.convert("RGB").resize((SIDE, SIDE), Image.Resampling.BILINEAR).filter(ImageFilter.MedianFilter(3))
    pixels = np.asarray(small, dtype=np.float64)
    wall = _wall(pixels)
    grey = pixels.mean(axis=2)
    chroma_off = np.linalg.norm(pixels - grey[..., None] - (wall - wall.mean()), axis=2)
    walllike = (chroma_off < WALL_CHROMA) & (grey > wall.mean() - WALL_DARKER) & (grey < wall.mean() + WALL_LIGHTER)
    edge = np.zeros_like(walllike)
    edge[[0, -1], :] = edge[:, [0, -1]] = True
    rest = Image.fromarray((~_grown(edge, walllike)).astype(np.uint8) * 255)
    rest_mask = np.asarray(rest.filter(ImageFilter.MinFilter(3)).filter(ImageFilter.MaxFilter(3))) > 0
    parts = _components(rest_mask, SPECK * SIDE * SIDE)
    if not parts:
        return None
    biggest = max(int(p.sum()) for p in parts)
    kept = np.any([p for p in parts if p.sum() >= 0.1 * biggest], axis=0)
    hull = Image.new("L", (SIDE, SIDE))
    rows = np.flatnonzero(kept.any(axis=1))
    first, last = kept[rows].argmax(axis=1), SIDE - 1 - kept[rows, ::-1].argmax(axis=1)
    ends = np.concatenate([np.stack([first, rows], axis=1), np.stack([last, rows], axis=1)])  # hull's candidates
    ImageDraw.Draw(hull).polygon(_hull(ends), fill=255, outline=255)
    return np.asarray(hull) > 0


def _side_line(points: np.ndarray) -> tuple[np.ndarray, float]:
    """The line through ``points`` (total least squares) as a unit normal ``n`` and ``d`` with n . p = d."""
    centre = points.mean(axis=0)
    normal = np.linalg.svd(points - centre)[2][1]
    return normal, float(normal @ centre)


def _corners(mask: np.ndarray) -> np.ndarray:
    """The mask's four corners (upper-left, lower-left, lower-right, upper-right): first the extreme points along
    both diagonals, then each side's line fitted to the outline between them and the corners where they meet."""
    ys, xs = np.nonzero(mask)
    extremes = [(xs + ys).argmin(), (xs - ys).argmin(), (xs + ys).argmax(), (xs - ys).argmax()]
    corners = np.array([[xs[i] + 0.5, ys[i] + 0.5] for i in extremes])
    padded = np.pad(mask, 1)
    inside = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    outline = np.argwhere(mask & ~inside)[:, ::-1] + 0.5
    along, away = [], []
    for a, b in zip(corners, np.roll(corners, -1, axis=0), strict=True):
        t = np.clip((outline - a) @ (b - a) / max(float((b - a) @ (b - a)), 1e-9), 0, 1)
        along.append(t)
        away.append(np.linalg.norm(outline - (a + t[:, None] * (b - a)), axis=1))
    nearest = np.argmin(away, axis=0)
    lines = []
    for i in range(4):
        chosen = (nearest == i) & (along[i] > 0.1) & (along[i] < 0.9) & (away[i] < 4)
        if chosen.sum() < 5:
            return corners
        lines.append(_side_line(outline[chosen]))
    fitted = []
    for i in range(4):
        (n1, d1), (n2, d2) = lines[i - 1], lines[i]
        normals = np.array([n1, n2])
        if abs(np.linalg.det(normals)) < 1e-6:
            return corners
        point = np.linalg.solve(normals, [d1, d2])
        if np.linalg.norm(point - corners[i]) > 0.1 * SIDE:  # a side bent out of line: keep the extreme point
            return corners
        fitted.append(point)
    return np.array(fitted)


def painting_quad(image: Image.Image) -> list[tuple[float, float]] | None:
    """The painting's four corners on the wall (upper-left, lower-left, lower-right, upper-right, in the photo's
    pixels), or None when nothing stands out from the wall enough to be a painting."""
    mask = painting_mask(image)
    if mask is None or mask.sum() < MIN_BOX * SIDE * SIDE:
        return None
    sx, sy = image.width / SIDE, image.height / SIDE
    return [(float(x * sx), float(y * sy)) for x, y in _corners(mask)]


def rectified(image: Image.Image, quad: list[tuple[float, float]]) -> Image.Image:
    """The quadrilateral ``quad`` straightened into a rectangle of its mean side lengths."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = quad
    width = int(max(8, (np.hypot(x3 - x0, y3 - y0) + np.hypot(x2 - x1, y2 - y1)) / 2))
    height = int(max(8, (np.hypot(x1 - x0, y1 - y0) + np.hypot(x2 - x3, y2 - y3)) / 2))
    data = [c for point in quad for c in point]
    return image.transform((width, height), Image.Transform.QUAD, data, Image.Resampling.BILINEAR)


def photo_views(image: Image.Image) -> list[Image.Image]:
    """The views a gallery photo is searched with: the painting, found on the wall, straightened and without its
    frame, with the room's colour cast and the glare taken out; the whole photo (balanced) when no painting stands
    out."""
    rgb = image.convert("RGB")
    if max(rgb.size) > WORK_SIDE:  # a phone's 12 Mpx: the painting needs far fewer pixels than that for CLIP
        rgb = rgb.copy()
        rgb.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BILINEAR)
    quad = painting_quad(rgb)
    if quad is None:
        return [white_balanced(rgb)]
    wall = _wall(np.asarray(rgb.resize((SIDE, SIDE), Image.Resampling.BILINEAR), dtype=np.float64))
    return [without_glare(without_frame(rectified(white_balanced(rgb, wall), quad)))]


def _frame_depth(side: np.ndarray) -> int | None:
    """How many lines from this edge of the straightened painting (lines first) are its frame: the frame's colour
    is the median of 3 lines past the edge's blur (:data:`FRAME_EDGE`; the middle 80%, corners left out); None when it runs past :data:`FRAME_MAX`."""
    middle = side[:, int(side.shape[1] * 0.1) : int(side.shape[1] * 0.9)]
    start = max(1, int(len(side) * FRAME_EDGE))
    colour = np.median(middle[start : start + 3].reshape(-1, 3), axis=0)
    framed = np.linalg.norm(middle[: int(len(side) * FRAME_MAX)] - colour, axis=2) < FRAME_DISTANCE
    painted = np.flatnonzero(framed[start:].mean(axis=1) < 0.5)  # the lines before start: the wall's blur
    return start + int(painted[0]) if len(painted) else None


def without_frame(image: Image.Image) -> Image.Image:
    """The straightened painting with its frame cut off, and :data:`FRAME_INSET` more. A side whose frame is not
    told from the painting takes the median width of the others (a frame is about as wide all round); with none
    told, nothing is cut."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
    h, w = pixels.shape[:2]
    sides = (pixels, pixels[::-1], pixels.transpose(1, 0, 2), pixels.transpose(1, 0, 2)[::-1])
    lengths = (h, h, w, w)  # top, bottom, left, right
    depths = [_frame_depth(side) for side in sides]
    shares = [d / n for d, n in zip(depths, lengths, strict=True) if d is not None]
    if not shares:
        return image
    usual = float(np.median(shares))
    top, bottom, left, right = (
        (d if d is not None else usual * n) + FRAME_INSET * n for d, n in zip(depths, lengths, strict=True)
    )
    return image.crop((int(left), int(top), int(w - right), int(h - bottom)))


def _integrated(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """The field whose forward differences best match ``gx``, ``gy`` (least squares: a Poisson equation with
    the image's edges as mirrors, solved by FFT of the mirrored divergence). Its mean is 0."""
    div = np.zeros_like(gx)
    div[:, :-1] += gx[:, :-1]
    div[:, 1:] -= gx[:, :-1]
    div[:-1, :] += gy[:-1, :]
    div[1:, :] -= gy[:-1, :]
    mirrored = np.concatenate([div, div[:, ::-1]], axis=1)
    mirrored = np.concatenate([mirrored, mirrored[::-1]], axis=0)
    rows, cols = mirrored.shape
    laplacian = 2 * np.cos(2 * np.pi * np.arange(rows) / rows)[:, None] + 2 * np.cos(2 * np.pi * np.arange(cols) / cols)
    laplacian -= 4
    laplacian[0, 0] = 1.0
    spectrum = np.fft.fft2(mirrored) / laplacian
    spectrum[0, 0] = 0.0
    return np.real(np.fft.ifft2(spectrum))[: gx.shape[0], : gx.shape[1]]


def glare_field(image: Image.Image) -> np.ndarray:
    """How much each pixel of a :data:`GLARE_SIDE` px copy was washed toward white, 0 to :data:`GLARE_MAX`.

    Glare mixes white into the painting: 255 - pixel (its darkness) is multiplied by 1 - wash in every channel, so
    the log of the darkness (of its darkest channel) is the painting's plus log(1 - wash), a smooth hill. Horn's retinex splits the two: the
    gentle steps of the log darkness are the light's, the steep ones (> :data:`GLARE_EDGE`) the painting's edges;
    the gentle ones integrated give the wash up to a constant, set so the least washed tenth of the painting has
    none."""
    small = image.convert("RGB").resize((GLARE_SIDE, GLARE_SIDE), Image.Resampling.BOX)
    darkness = np.log(255.0 - np.asarray(small, dtype=np.float64).min(axis=2) + 12.0)  # 12: JPEG noise near white
    gx, gy = np.zeros_like(darkness), np.zeros_like(darkness)
    gx[:, :-1] = np.diff(darkness, axis=1)
    gy[:-1, :] = np.diff(darkness, axis=0)
    light = _integrated(np.where(np.abs(gx) < GLARE_EDGE, gx, 0.0), np.where(np.abs(gy) < GLARE_EDGE, gy, 0.0))
    light -= np.quantile(light, 0.9)
    return np.clip(1 - np.exp(np.minimum(light, 0.0)), 0.0, GLARE_MAX)


def without_glare(image: Image.Image) -> Image.Image:
    """The painting with its glare undone (the wash of :func:`glare_field` divided out of each pixel's darkness),
    or as it is when nothing is washed more than :data:`GLARE_MIN`."""
    wash = glare_field(image)
    if wash.max() < GLARE_MIN:
        return image
    smooth = Image.fromarray(np.round(wash * 255).astype(np.uint8)).resize(image.size, Image.Resampling.BILINEAR)
    keep = 1 - np.asarray(smooth, dtype=np.float64)[..., None] / 255
    darkness = 255.0 - np.asarray(image.convert("RGB"), dtype=np.float64)
    return Image.fromarray(np.clip(255.0 - darkness / keep, 0, 255).astype(np.uint8))


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


def gallery_photo(
    painting: Image.Image,
    rng: random.Random,
    size: tuple[int, int] = (640, 480),
    *,
    warp: bool = True,
    glare: bool = True,
    cast: bool = True,
    noise: bool = True,
) -> Image.Image:
    """A phone photo of ``painting`` hanging in a gallery: framed, on a wall, in perspective, with a glare spot, a
    colour cast and JPEG noise; the painting covers 30-80% of the photo.

    ``warp``, ``glare``, ``cast`` and ``noise`` (JPEG quality 40-70) turn one factor off to measure its cost; the
    random draws are made either way, so the other factors of each photo stay the same."""
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
    moved = moved if warp else corners
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
    glare_map = rng.uniform(0.4, 0.7) * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * radius**2))
    if glare:
        pixels = pixels * (1 - glare_map[..., None]) + 255 * glare_map[..., None]
    # The room's colour cast.
    gains = np.array([1 + rng.uniform(-0.15, 0.15) for _ in range(3)])
    pixels *= gains if cast else 1.0
    photo_image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    quality = rng.randint(40, 70)
    photo_image.save(buf, "JPEG", quality=quality if noise else 95)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
