"""Pictures on the page: result images as small cached JPEGs, the visitor's upload as a preview.

Local originals can be megapixel JPEGs, 16-bit PNGs or CMYK: they are decoded safely once
(:func:`artsearch.images.load_image`) and kept as thumbnails; signed URLs go to the browser as they are.
"""

from __future__ import annotations

import base64
import functools
import io
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import streamlit as st
from PIL import Image
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from artsearch.config import Settings
from artsearch.errors import ImageError
from artsearch.images import image_size, load_image

EXIF_ORIENTATION = 0x0112

log = logging.getLogger(__name__)

CARD_PX = 480  # longest side of a result image: a card's frame is at most about 370 px wide (a phone) and 220 high
THUMB_PX = 160  # the artist panel's small pictures
SLACK = 1.25  # a picture decoded at most this much over its size is not resized again
DETAIL_PX = 1600  # longest side of the detail view's picture (a smaller original is shown at its own size)


def jpeg(data: bytes, size: int, max_pixels: int, max_decode_bytes: int, name: str) -> bytes:
    """An image as an RGB JPEG of at most ``size`` pixels on its longest side (never enlarged), decoded safely.

    A JPEG is decoded at the smallest DCT scale that still covers the thumbnail (asking for a square would keep
    a 1000x800 picture at full scale for a 480-pixel thumbnail: four times the pixels, three times the time).
    """
    width, height = image_size(data)
    scale = min(1.0, size / max(width, height, 1))
    box = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = load_image(data, max_pixels=max_pixels, draft_size=box, max_decode_bytes=max_decode_bytes, name=name)
    if max(image.size) > size * SLACK:  # a draft a little over the size is kept: resampling it costs more than it shows
        image.thumbnail((size, size))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def preview(data: bytes, settings: Settings, size: int = CARD_PX) -> bytes | None:
    """The visitor's upload as a small RGB JPEG (16-bit PNGs and CMYK JPEGs included), or None."""
    try:
        return jpeg(data, size, settings.max_image_pixels, settings.max_decode_bytes, "the uploaded image")
    except ImageError:
        return None


def display_source(src: str | None, settings: Settings, size: int = CARD_PX) -> str | bytes | None:
    """What ``st.image`` gets for a result: a signed URL as is, a local file as a cached small JPEG, or None.

    Local originals can be megapixel JPEGs, 16-bit PNGs or CMYK: handing them to
    ``st.image`` re-encodes every one on every rerun and fails on modes JPEG
    cannot hold, so they are decoded safely once and kept as thumbnails.
    """
    if not src:
        return None
    if src.startswith(("http://", "https://")):
        return src
    try:
        mtime = os.stat(src).st_mtime_ns
        return _thumbnail(src, mtime, size, settings.max_image_pixels, settings.max_decode_bytes)
    except (OSError, ImageError) as exc:
        log.warning("cannot show %s: %s", src, exc)
        return None


@st.cache_data(max_entries=2000, show_spinner=False)
def _thumbnail(path: str, mtime_ns: int, size: int, max_pixels: int, max_decode_bytes: int) -> bytes:
    with open(path, "rb") as fh:
        return jpeg(fh.read(), size, max_pixels, max_decode_bytes, path)


def detail_source(src: str | None, settings: Settings) -> str | bytes | None:
    """The detail view's picture, loaded only when it opens: a signed URL as is (the original), a local file as
    a JPEG of at most :data:`DETAIL_PX` on its longest side (an original that fits is never enlarged, and an
    RGB or greyscale JPEG that fits is sent as it is, not decoded and encoded again)."""
    if not src or src.startswith(("http://", "https://")):
        return src or None
    try:
        return _large(src, os.stat(src).st_mtime_ns, settings.max_image_pixels, settings.max_decode_bytes)
    except (OSError, ImageError) as exc:
        log.warning("cannot show %s: %s", src, exc)
        return None


@st.cache_data(max_entries=64, show_spinner=False)
def _large(path: str, mtime_ns: int, max_pixels: int, max_decode_bytes: int) -> bytes:
    with open(path, "rb") as fh:
        data = fh.read()
    if shown_as_is(data):
        return data
    return jpeg(data, DETAIL_PX, max_pixels, max_decode_bytes, path)


def shown_as_is(data: bytes) -> bool:
    """A JPEG a browser shows as it is: RGB or greyscale, upright, at most DETAIL_PX (read from the header)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return (
                image.format == "JPEG"
                and image.mode in ("RGB", "L")
                and max(image.size) <= DETAIL_PX
                and image.getexif().get(EXIF_ORIENTATION, 1) == 1
            )
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def prefetch(srcs: Sequence[str | None], settings: Settings, size: int = CARD_PX) -> None:
    """Make the thumbnails a page is about to show on every core at once (Pillow lets go of the GIL while it
    decodes and encodes), so the cards then find them cached. Signed URLs need nothing."""
    local = [src for src in dict.fromkeys(srcs) if src and not src.startswith(("http://", "https://"))]
    if len(local) < 2:
        return
    ctx = get_script_run_ctx()

    def make(src: str) -> None:
        if ctx is not None:
            add_script_run_ctx(ctx=ctx)  # Streamlit's caches belong to the session's run
        display_source(src, settings, size)

    list(_pool().map(make, local))


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """One small pool per process, made on first use."""
    return ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="artsearch-pictures")


def data_uri(src: str | bytes | None) -> str:
    if isinstance(src, bytes):
        return "data:image/jpeg;base64," + base64.b64encode(src).decode()
    return src or ""
