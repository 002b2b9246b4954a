"""Safe image loading for ingest (thousands of files) and for visitor uploads.

Everything here works on bytes and returns a fully decoded RGB ``PIL.Image``;
any problem with the bytes becomes an :class:`~artsearch.errors.ImageError`
whose message names the image and says what to do.

Safety rules, and why:

* The pixel count is checked from the header, before any pixel is decoded, so
  a small file declaring 30000x30000 pixels never allocates gigabytes.
  ``max_pixels`` is our own limit; Pillow's global ``Image.MAX_IMAGE_PIXELS``
  is never read for the decision and never changed (it is process-wide and
  the ingest pipeline decodes in threads). Pillow still applies it inside
  ``Image.open``: a header over twice that limit (about 179 megapixels) raises
  ``DecompressionBombError``, which we turn into the same refusal. So a
  ``max_pixels`` above about 179 million is effectively capped by Pillow.
* ``ImageFile.LOAD_TRUNCATED_IMAGES`` stays False: a truncated file is an
  error, not a grey half-picture in the index.
* The memory one decode may take is bounded too, from the header: width x
  height x the bytes Pillow keeps per pixel for the mode (4 for RGB, 1 for
  grey), per frame. A small file can declare a huge, highly compressible
  picture (an 87 KB PNG of 9480 x 9480 grey pixels): JPEGs decode at a reduced
  scale (``draft``) when a smaller picture will do, and what is still over
  ``max_decode_bytes`` is refused with one line before any pixel is decoded.
  A decoded picture larger than needed is reduced in its own mode at once,
  before any conversion to RGB.
* Only an allow-list of formats is opened, chosen by the caller. Pillow can read
  many more, some of which run external programs (EPS calls Ghostscript) or are
  containers that need handlers of their own (FITS, HDF5, GRIB, BUFR); nothing
  ever reaches those. Visitor uploads and image URLs get :data:`WEB_FORMATS`,
  what browsers and cameras make; a collection's own folder (the folder and
  Kaggle sources) also gets :data:`LIBRARY_FORMATS`, raster formats Pillow
  decodes itself, in this process, that an owner may have (TGA, PPM, ICO, PSD,
  JPEG 2000, AVIF where this Pillow has it). The pixel and byte limits are the
  same for every format.
* Pillow raises many exception types for damaged files (``SyntaxError``,
  ``struct.error``, ``zlib.error``, ``IndexError``, ``AssertionError``...), so
  the decoding steps catch ``Exception`` and re-raise ``ImageError``. Only
  ``ImageError`` leaves this module for any input bytes (the fuzz tests in
  ``tests/test_images_fuzz.py`` check this).
"""

from __future__ import annotations

import functools
import io
import logging
import re

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from artsearch.errors import ImageError

__all__ = ["LIBRARY_FORMATS", "SUPPORTED_UPLOAD_TYPES", "WEB_FORMATS", "image_format", "image_size", "load_image"]

logger = logging.getLogger(__name__)

#: File extensions offered by the upload widget (``st.file_uploader(type=...)``).
SUPPORTED_UPLOAD_TYPES = ("png", "jpg", "jpeg", "webp")

#: Pillow format names an upload or an image URL may be: what browsers and cameras make, and what a browser
#: can show. (Camera JPEGs that Pillow reports as "MPO" come in through the JPEG opener.)
WEB_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
#: What a collection's own folder may hold besides: raster formats Pillow decodes in this process. AVIF is
#: used where this Pillow was built with it. Never EPS, PDF, WMF or the scientific containers.
LIBRARY_FORMATS: tuple[str, ...] = (*WEB_FORMATS, "TGA", "PPM", "ICO", "PSD", "JPEG2000", "AVIF")
_FORMAT_NAMES = {"JPEG2000": "JPEG 2000"}

_EXIF_ORIENTATION = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_WHITE = (255, 255, 255, 255)

#: The most memory one decode may take by default (``ARTSEARCH_MAX_DECODE_MB``): 192 MiB is a 50-megapixel
#: RGB picture or a 200-megapixel grey one.
MAX_DECODE_BYTES = 192 * 1024 * 1024
#: Bytes per pixel Pillow keeps for a mode: 1 for "1", "L" and "P", 2 for 16-bit grey, else 4 (RGB is stored as RGBX).
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
#: Modes ``Image.reduce`` cannot average; they are thinned with nearest-neighbour resampling instead.
_NO_REDUCE = ("1", "P", "I;16", "I;16B", "I;16L", "I;16N")


def _short(exc: BaseException) -> str:
    """A short, single-line description of a Pillow error for a message."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:.1f}".rstrip("0").rstrip(".")


def _as_bytes(data: bytes, name: str) -> bytes:
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise ImageError(f"{name} is not image data (got {type(data).__name__}); pass the file's bytes.")
    if not data:
        raise ImageError(f"{name} is empty (0 bytes); choose another image file.")
    return data


@functools.cache
def _available(formats: tuple[str, ...]) -> tuple[str, ...]:
    """The formats of ``formats`` this Pillow has (AVIF needs libavif); asked once, on first use."""
    Image.init()
    return tuple(f for f in formats if f in Image.OPEN)


def _formats_text(formats: tuple[str, ...]) -> str:
    names = [_FORMAT_NAMES.get(f, f) for f in formats]
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


def _open(data: bytes, name: str, max_pixels: int | None, formats: tuple[str, ...]) -> ImageFile.ImageFile:
    """Open the header only; refuse formats outside ``formats`` and (optionally) too many pixels."""
    allowed = _available(tuple(formats))
    try:
        img = Image.open(io.BytesIO(data), formats=allowed)
    except UnidentifiedImageError:
        raise ImageError(f"{name} is not an image artsearch can read; use a {_formats_text(allowed)} file.") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own, process-wide guard fired inside Image.open (the warning
        # only arrives as an exception when warnings are configured as errors).
        found = re.search(r"\((\d+) pixels\)", str(exc))
        declared = f"{_megapixels(int(found.group(1)))} megapixels" if found else "a huge number of pixels"
        raise ImageError(
            f"{name} declares {declared}, far more than artsearch will decode; resize it and try again."
        ) from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for damaged headers (module docstring)
        raise ImageError(
            f"{name} could not be read: the image header is damaged ({_short(exc)}); re-export or re-download it."
        ) from None
    width, height = img.size
    if width <= 0 or height <= 0:
        raise ImageError(f"{name} declares an empty size ({width}x{height} pixels); the file is damaged.")
    if max_pixels is not None and width * height > max_pixels:
        raise ImageError(
            f"{name} is {width}x{height} pixels ({_megapixels(width * height)} megapixels), over the limit of "
            f"{_megapixels(max_pixels)} megapixels; resize it and try again."
        )
    return img


def decoded_bytes(mode: str, size: tuple[int, int]) -> int:
    """What Pillow allocates for one decoded frame of ``size`` in ``mode``."""
    return size[0] * size[1] * _PIXEL_BYTES.get(mode, 4)


def progressive_jpeg_bytes(img: Image.Image, size: tuple[int, int]) -> int:
    """What libjpeg keeps while decoding a progressive JPEG of full ``size``: every DCT coefficient of every
    component (2 bytes each, at the component's sampling), at any draft scale. 0 for other images."""
    if img.format not in ("JPEG", "MPO") or not img.info.get("progressive"):
        return 0
    layers = getattr(img, "layer", None) or [(0, 1, 1, 0)] * len(img.getbands())
    h_max = max(h for _, h, _, _ in layers) or 1
    v_max = max(v for _, _, v, _ in layers) or 1
    return sum(2 * (size[0] * h // h_max) * (size[1] * v // v_max) for _, h, v, _ in layers)


def _check_memory(
    img: Image.Image, name: str, max_decode_bytes: int | None, to_rgb_at_full_size: bool, declared: tuple[int, int]
) -> None:
    """Refuse, before decoding, a frame whose pixels would take more than ``max_decode_bytes``."""
    if max_decode_bytes is None:
        return
    need = decoded_bytes(img.mode, img.size) + progressive_jpeg_bytes(img, declared)
    if to_rgb_at_full_size and img.mode != "RGB":
        need += decoded_bytes("RGB", img.size)  # the RGB copy made next to it
    if need > max_decode_bytes:
        width, height = declared
        progressive = bool(progressive_jpeg_bytes(img, declared))
        kind = f"mode {img.mode}" + (", a progressive JPEG" if progressive else "")
        fix = "save it as a baseline JPEG" if progressive else "save it as a JPEG"
        raise ImageError(
            f"{name} is {width}x{height} pixels ({kind}), which takes {need / 1_048_576:.0f} MB to decode, over the "
            f"{max_decode_bytes / 1_048_576:.0f} MB limit; resize it (or {fix}) and try again."
        )


def _stored_axes(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """A displayed (width, height) on the stored axes: swapped for pictures stored sideways (EXIF 5 to 8)."""
    width, height = int(size[0]), int(size[1])
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _reduced(img: Image.Image, target: tuple[int, int]) -> Image.Image:
    """``img`` shrunk by a whole factor, in its own mode, while still at least ``target`` (stored axes)."""
    factor = min(img.size[0] // target[0], img.size[1] // target[1])
    if factor < 2:
        return img
    if img.mode in _NO_REDUCE:
        size = (max(1, img.size[0] // factor), max(1, img.size[1] // factor))
        return img.resize(size, Image.Resampling.NEAREST)
    return img.reduce(factor)


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation (1 to 8), or 1 when absent or unreadable."""
    try:
        value = img.getexif().get(_EXIF_ORIENTATION, 1)
        return value if isinstance(value, int) and value in range(1, 9) else 1
    except Exception:  # noqa: BLE001 - broken EXIF must not make a readable picture unreadable
        return 1


def _exif_transpose(img: Image.Image, name: str) -> Image.Image:
    """Apply the EXIF orientation; damaged EXIF falls back to our own, metadata-free transpose.

    ``ImageOps.exif_transpose`` also rewrites the EXIF/XMP metadata, which can
    raise on damaged metadata; the pixels are all we need, so on failure the
    rotation is done directly from the orientation value, or skipped.
    """
    try:
        return ImageOps.exif_transpose(img)
    except Exception as exc:  # noqa: BLE001 - any metadata failure falls back to the plain transpose
        logger.warning("%s: EXIF could not be applied (%s); using the orientation value only", name, _short(exc))
    method = _TRANSPOSE.get(_orientation(img))
    return img.transpose(method) if method is not None else img


def _scale_to_8bit(img: Image.Image) -> Image.Image:
    """Map 16-bit, 32-bit integer and float grey images to "L" without clipping to white.

    Pillow's own conversion clips: an "I;16" value of 40000 becomes 255. 16-bit
    data is divided by 256 (faithful to the original brightness); other ranges
    are stretched linearly from their minimum and maximum.
    """
    if img.mode.startswith("I;16"):
        img = img.convert("I")
        low, high = 0, 65535
    else:
        extrema = img.getextrema()
        low, high = extrema if isinstance(extrema[0], (int, float)) else (0, 255)  # type: ignore[assignment]
        if img.mode == "I" and low >= 0 and high <= 255:
            return img.convert("L")
        if img.mode == "I" and low >= 0 and high <= 65535:
            low, high = 0, 65535
        elif img.mode == "F" and low >= 0 and high <= 1.0:
            low, high = 0, 1.0
    span = float(high - low) or 1.0
    scale = 255.0 / span
    offset = -low * scale
    if img.mode != "F":
        img = img.convert("F")
    return img.point(lambda v: v * scale + offset).convert("L")


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any decoded mode to RGB; transparent areas become white, not black."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode.startswith("I") or mode == "F":
        return _scale_to_8bit(img).convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if has_alpha:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, _WHITE)
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def load_image(
    data: bytes,
    *,
    max_pixels: int = 90_000_000,
    max_bytes: int | None = None,
    draft_size: tuple[int, int] | None = None,
    max_decode_bytes: int | None = MAX_DECODE_BYTES,
    name: str = "image",
    formats: tuple[str, ...] = WEB_FORMATS,
) -> Image.Image:
    """Decode ``data`` into a fully loaded RGB image, or raise ``ImageError``.

    ``max_pixels`` is checked against the declared width x height before
    decoding. ``max_bytes`` refuses larger inputs outright. ``draft_size``
    (width, height, as displayed) is the least size the caller needs: JPEGs
    decode at a reduced scale (1/2, 1/4 or 1/8) that is still at least that
    size in both dimensions, and any other picture is reduced by a whole
    factor to about that size right after decoding, in its own mode. Without
    it the picture comes back at full size. ``max_decode_bytes`` bounds the
    memory of the decode (after the JPEG draft), checked from the header. The
    first frame of animated images is used; EXIF orientation is applied; alpha
    is composited onto white. ``name`` appears in every error message (a file
    name or "the uploaded image"). ``formats`` is the allow-list
    (:data:`WEB_FORMATS` unless the bytes come from the collection's own folder).
    """
    data = _as_bytes(data, name)
    if max_bytes is not None and len(data) > max_bytes:
        raise ImageError(
            f"{name} is {len(data) / 1_048_576:.1f} MB, over the {max_bytes / 1_048_576:.1f} MB limit; "
            "upload a smaller or more compressed image."
        )
    if draft_size is not None and (len(draft_size) != 2 or min(draft_size) < 1):
        raise ValueError(f"draft_size must be two positive integers, not {draft_size!r}")

    img = _open(data, name, max_pixels, formats)
    try:
        with img:
            jpeg, declared = img.format in ("JPEG", "MPO"), img.size
            if draft_size is not None and jpeg:
                # A JPEG's EXIF is read without decoding (other formats' getexif() decodes: it waits for load()).
                img.draft("RGB", _stored_axes(draft_size, _orientation(img)))
            _check_memory(img, name, max_decode_bytes, to_rgb_at_full_size=draft_size is None, declared=declared)
            img.load()
            orientation = _orientation(img)
            target = _stored_axes(draft_size, orientation) if draft_size is not None else None
            if target is not None and (small := _reduced(img, target)) is not img:
                method = _TRANSPOSE.get(orientation)  # the reduced copy has no EXIF: rotate it by the value
                upright = small.transpose(method) if method is not None else small
            else:
                upright = _exif_transpose(img, name)
            rgb = _to_rgb(upright)
            if rgb is img:  # still tied to the open file; detach it before ``with`` closes it
                rgb = img.copy()
    except ImageError:
        raise
    except OSError as exc:
        if "truncated" in str(exc):
            raise ImageError(
                f"{name} is truncated (the file ends before the image does); re-download or re-export it."
            ) from None
        raise ImageError(f"{name} could not be decoded ({_short(exc)}); the file is damaged, re-export it.") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{name} has a frame or tile that is far too large; resize the image and try again.") from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for damaged data (module docstring)
        raise ImageError(f"{name} could not be decoded ({_short(exc)}); the file is damaged, re-export it.") from None
    return rgb


def image_size(data: bytes, formats: tuple[str, ...] = WEB_FORMATS) -> tuple[int, int]:
    """Declared (width, height) from the header, without decoding pixels.

    This is the stored size; EXIF orientation is not applied. Raises
    ``ImageError`` when the header is unreadable, the format is not in
    ``formats``, or Pillow's own decompression-bomb guard refuses the declared size.
    """
    width, height, _ = image_format(data, formats)
    return width, height


def image_format(data: bytes, formats: tuple[str, ...] = WEB_FORMATS) -> tuple[int, int, str]:
    """(width, height, Pillow's format name) from the header, as :func:`image_size`."""
    data = _as_bytes(data, "image")
    img = _open(data, "image", None, formats)
    with img:
        return img.size[0], img.size[1], str(img.format)
