"""artsearch.images: every accepted format comes out RGB and upright; every refusal is a clear ImageError.

Fixtures are real files built here with Pillow (or by hand, for headers Pillow
will not write), so nothing depends on files outside the test.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import textwrap
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from artsearch.errors import ImageError
from artsearch.images import SUPPORTED_UPLOAD_TYPES, image_size, load_image

RED = (220, 20, 20)
BLUE = (20, 20, 220)
REPO = Path(__file__).resolve().parents[1]


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def raw_png(width: int, height: int, bit_depth: int, color_type: int, rows: list[bytes]) -> bytes:
    """A PNG assembled by hand: for bit depths and sizes Pillow will not write."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    scanlines = b"".join(b"\x00" + row for row in rows)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(scanlines))
        + png_chunk(b"IEND", b"")
    )


def two_halves(size: tuple[int, int] = (40, 20), mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue."""
    img = Image.new("RGB", size, BLUE)
    img.paste(RED, (0, 0, size[0] // 2, size[1]))
    return img.convert(mode)


def is_reddish(pixel: tuple[int, int, int]) -> bool:
    r, g, b = pixel
    return r > 150 and g < 90 and b < 90


def is_bluish(pixel: tuple[int, int, int]) -> bool:
    r, g, b = pixel
    return b > 150 and r < 90 and g < 90


def assert_rgb(img: Image.Image, size: tuple[int, int]) -> None:
    assert img.mode == "RGB"
    assert img.size == size
    img.getpixel((0, 0))  # fully loaded, not tied to a closed file


# ---------------------------------------------------------------- accepted formats


@pytest.mark.parametrize(
    ("fmt", "params"),
    [
        ("JPEG", {"quality": 95}),
        ("PNG", {}),
        ("WEBP", {"quality": 95}),
        ("WEBP", {"lossless": True}),
        ("GIF", {}),
        ("BMP", {}),
        ("TIFF", {}),
        ("TIFF", {"compression": "tiff_lzw"}),
    ],
)
def test_each_format_decodes_to_rgb(fmt: str, params: dict[str, object]) -> None:
    img = load_image(encode(two_halves(), fmt, **params), name=f"halves.{fmt.lower()}")
    assert_rgb(img, (40, 20))
    assert is_reddish(img.getpixel((5, 10)))
    assert is_bluish(img.getpixel((35, 10)))


def test_input_can_be_bytearray_or_memoryview() -> None:
    data = encode(two_halves(), "PNG")
    assert_rgb(load_image(bytearray(data)), (40, 20))
    assert_rgb(load_image(memoryview(data)), (40, 20))


def test_png_alpha_is_composited_on_white() -> None:
    img = Image.new("RGBA", (20, 10), (0, 0, 0, 0))  # fully transparent *black*
    img.paste((200, 0, 0, 255), (0, 0, 10, 10))
    out = load_image(encode(img, "PNG"))
    assert_rgb(out, (20, 10))
    assert out.getpixel((15, 5)) == (255, 255, 255)
    assert out.getpixel((5, 5)) == (200, 0, 0)


def test_half_transparent_pixel_blends_with_white() -> None:
    out = load_image(encode(Image.new("RGBA", (4, 4), (0, 0, 0, 128)), "PNG"))
    r, g, b = out.getpixel((1, 1))
    assert 120 <= r <= 135 and r == g == b


def test_grey_with_alpha_is_composited_on_white() -> None:
    img = Image.new("LA", (8, 8), (0, 0))
    out = load_image(encode(img, "PNG"))
    assert out.getpixel((4, 4)) == (255, 255, 255)


def test_webp_with_alpha_is_composited_on_white() -> None:
    img = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    out = load_image(encode(img, "WEBP", lossless=True))
    assert out.getpixel((8, 8)) == (255, 255, 255)


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_transparency_is_white(fmt: str) -> None:
    img = Image.new("P", (10, 10), 0)
    img.putpalette([0, 0, 0, 200, 0, 0] + [0] * (256 * 3 - 6))
    img.paste(1, (0, 0, 5, 10))
    out = load_image(encode(img, fmt, transparency=0))
    assert_rgb(out, (10, 10))
    assert out.getpixel((8, 5)) == (255, 255, 255)  # index 0: transparent black
    assert out.getpixel((2, 5)) == (200, 0, 0)


def test_animated_gif_gives_first_frame() -> None:
    frames = [Image.new("RGB", (12, 12), color) for color in (RED, BLUE, (20, 220, 20))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    out = load_image(data)
    assert_rgb(out, (12, 12))
    assert is_reddish(out.getpixel((6, 6)))


def test_animated_webp_gives_first_frame() -> None:
    frames = [Image.new("RGB", (12, 12), color) for color in (RED, BLUE)]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True)
    out = load_image(data)
    assert_rgb(out, (12, 12))
    assert is_reddish(out.getpixel((6, 6)))


def test_cmyk_jpeg_red_stays_red() -> None:
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    data = encode(cmyk, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    out = load_image(data)
    assert_rgb(out, (16, 16))
    assert is_reddish(out.getpixel((8, 8)))


def _gradient_16bit(width: int = 256, height: int = 4) -> Image.Image:
    """A grey ramp over the whole 16-bit range, mode I;16."""
    img = Image.new("I;16", (width, height))
    img.putdata([x * 65535 // (width - 1) for _ in range(height) for x in range(width)])
    return img


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16bit_grey_is_a_ramp_not_white(fmt: str) -> None:
    data = encode(_gradient_16bit(), fmt)
    assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
    out = load_image(data)
    assert_rgb(out, (256, 4))
    left, middle, right = (out.getpixel((x, 1))[0] for x in (0, 128, 255))
    assert left < 10
    assert 100 < middle < 160  # Pillow's own conversion clips this to 255
    assert right > 245
    assert out.convert("L").histogram()[255] < 0.1 * 256 * 4


def test_16bit_rgb_png_decodes_to_8bit_colours() -> None:
    # 48-bit PNG: each sample 16 bits, big-endian. Pillow will not write one, so build it.
    red16 = struct.pack(">HHH", 60000, 2000, 2000)
    grey16 = struct.pack(">HHH", 32768, 32768, 32768)
    rows = [red16 * 4 + grey16 * 4 for _ in range(3)]
    out = load_image(raw_png(8, 3, 16, 2, rows))
    assert_rgb(out, (8, 3))
    assert is_reddish(out.getpixel((1, 1)))
    assert 120 <= out.getpixel((6, 1))[0] <= 135


def test_32bit_integer_and_float_tiffs_are_scaled() -> None:
    ramp = [x * 65535 // 63 for x in range(64)]
    as_int = Image.new("I", (64, 1))
    as_int.putdata(ramp)
    out = load_image(encode(as_int, "TIFF"))
    assert 100 < out.getpixel((32, 0))[0] < 160
    as_float = Image.new("F", (64, 1))
    as_float.putdata([x / 63 for x in range(64)])
    out = load_image(encode(as_float, "TIFF"))
    assert_rgb(out, (64, 1))
    assert out.getpixel((0, 0))[0] < 10 and 100 < out.getpixel((32, 0))[0] < 160 and out.getpixel((63, 0))[0] > 245


@pytest.mark.parametrize("mode", ["1", "L", "P", "LA", "I;16B"])
def test_other_modes_in_tiff(mode: str) -> None:
    img = two_halves().convert(mode) if mode != "I;16B" else Image.new(mode, (40, 20), 30000)
    assert_rgb(load_image(encode(img, "TIFF")), (40, 20))


def exif_jpeg(img: Image.Image, orientation: object) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(img, "JPEG", quality=95, exif=exif.tobytes())


def test_exif_orientation_6_is_rotated_upright() -> None:
    # Stored 40x20 with red on the left; orientation 6 means "rotate 90 degrees clockwise to view".
    out = load_image(exif_jpeg(two_halves(), 6), name="sideways.jpg")
    assert_rgb(out, (20, 40))
    assert is_reddish(out.getpixel((10, 5)))  # the left half is now on top
    assert is_bluish(out.getpixel((10, 35)))


@pytest.mark.parametrize(("orientation", "size"), [(3, (40, 20)), (8, (20, 40)), (2, (40, 20))])
def test_other_exif_orientations(orientation: int, size: tuple[int, int]) -> None:
    out = load_image(exif_jpeg(two_halves(), orientation))
    assert_rgb(out, size)
    if orientation == 8:  # rotate 90 counter-clockwise: left half goes to the bottom
        assert is_reddish(out.getpixel((10, 35)))
    else:  # 180 degrees, or a mirror: left half goes right
        assert is_reddish(out.getpixel((35, 10)))


def test_exif_orientation_in_png() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    out = load_image(encode(two_halves(), "PNG", exif=exif.tobytes()))
    assert_rgb(out, (20, 40))
    # Reduced after decoding (the reduced copy has no EXIF of its own): still turned upright.
    big = load_image(encode(two_halves((400, 200)), "PNG", exif=exif.tobytes()), draft_size=(50, 50))
    assert_rgb(big, (50, 100))
    assert is_reddish(big.getpixel((25, 10))) and not is_reddish(big.getpixel((25, 90)))


@pytest.mark.parametrize("orientation", [0, 9, 65535])
def test_nonsense_orientation_values_are_ignored(orientation: object) -> None:
    out = load_image(exif_jpeg(two_halves(), orientation))
    assert_rgb(out, (40, 20))


def test_orientation_stored_as_text_is_ignored() -> None:
    # Little-endian TIFF header, one IFD entry: tag 0x0112, type ASCII, 4 bytes "six\0" inline.
    exif = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x02\x00\x04\x00\x00\x00six\x00\x00\x00\x00\x00"
    out = load_image(_jpeg_with_app1(exif))
    assert_rgb(out, (40, 20))


def _jpeg_with_app1(payload: bytes) -> bytes:
    """Insert an APP1 segment with ``payload`` right after the SOI marker."""
    plain = encode(two_halves(), "JPEG", quality=95)
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return plain[:2] + segment + plain[2:]


@pytest.mark.parametrize(
    "payload",
    [
        b"Exif\x00\x00" + b"\x00" * 20,  # no byte-order mark
        b"Exif\x00\x00II*\x00\xff\xff\xff\x7f",  # first IFD offset far past the end
        b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x05\x01\x12\x00\x03",  # IFD cut off mid-entry
        b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\xff\xff\xff\x0f\x06\x00\x00\x00",  # huge count
    ],
)
def test_broken_exif_does_not_lose_the_picture(payload: bytes) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns "Corrupt EXIF data"
        out = load_image(_jpeg_with_app1(payload), name="broken-exif.jpg")
    assert_rgb(out, (40, 20))
    assert is_reddish(out.getpixel((5, 10)))
    # Where warnings are turned into errors, Pillow's JPEG opener raises its EXIF
    # warning inside Image.open; that must still come out as ImageError only.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            load_image(_jpeg_with_app1(payload), name="broken-exif.jpg")
        except ImageError as exc:
            assert str(exc).startswith("broken-exif.jpg ")


def test_draft_decodes_jpeg_smaller_but_not_below_the_request() -> None:
    big = Image.new("RGB", (2000, 1500), RED)
    data = encode(big, "JPEG", quality=80)
    out = load_image(data, draft_size=(224, 224))
    assert_rgb(out, out.size)
    assert out.size == (500, 375)  # 1/4 scale: 1/8 would give 188 < 224 rows
    assert is_reddish(out.getpixel((100, 100)))
    assert load_image(data).size == (2000, 1500)


def test_draft_never_goes_below_the_request_when_original_is_smaller() -> None:
    data = encode(Image.new("RGB", (300, 200), RED), "JPEG")
    assert load_image(data, draft_size=(224, 224)).size == (300, 200)


def test_draft_size_is_in_display_orientation() -> None:
    # Stored 800x400, displayed 400x800. A request for 300 wide x 100 high must
    # keep at least 300 columns after rotation, so no reduction is possible.
    data = exif_jpeg(Image.new("RGB", (800, 400), RED), 6)
    out = load_image(data, draft_size=(300, 100))
    assert out.size[0] >= 300 and out.size[1] >= 100
    assert out.size == (400, 800)


def test_other_formats_are_reduced_to_about_the_draft_size_after_decoding() -> None:
    data = encode(Image.new("RGB", (1000, 800), RED), "PNG")
    assert load_image(data, draft_size=(100, 100)).size == (125, 100)  # a whole factor (8), still >= 100 x 100
    assert load_image(data, draft_size=(600, 600)).size == (1000, 800)  # no whole factor keeps 600: as it is
    assert load_image(data).size == (1000, 800)
    grey16 = encode(Image.new("I;16", (900, 400), 40000), "PNG")
    small = load_image(grey16, draft_size=(100, 100))
    assert small.size == (225, 100) and 155 <= small.getpixel((0, 0))[0] <= 157  # 40000 / 256, not white


def test_decoded_memory_is_bounded_from_the_header_by_mode_and_for_progressive_jpegs() -> None:
    mb = 1024 * 1024
    grey = encode(Image.new("L", (4000, 3000), 9), "PNG")  # 12 MB decoded, 48 MB more as RGB at full size
    assert load_image(grey, draft_size=(224, 224), max_decode_bytes=16 * mb).size == (308, 231)  # reduced by 13
    with pytest.raises(ImageError, match=r"^g\.png is 4000x3000 pixels \(mode L\), which takes 57 MB to decode, over"):
        load_image(grey, max_decode_bytes=16 * mb, name="g.png")  # full size: the RGB copy counts too
    colour = Image.new("RGB", (3000, 3000), (9, 9, 9))
    progressive, baseline = encode(colour, "JPEG", progressive=True), encode(colour, "JPEG")
    assert load_image(baseline, draft_size=(224, 224), max_decode_bytes=16 * mb).size == (375, 375)  # 1/8 scale
    with pytest.raises(ImageError, match=r"\(mode RGB, a progressive JPEG\).*save it as a baseline JPEG"):
        load_image(progressive, draft_size=(224, 224), max_decode_bytes=16 * mb)  # 27 MB of coefficients
    assert load_image(progressive, draft_size=(224, 224)).size == (375, 375)  # under the default 192 MB


def test_bad_draft_size_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        load_image(encode(two_halves(), "JPEG"), draft_size=(0, 10))


def test_image_size_reads_the_header() -> None:
    assert image_size(encode(two_halves((33, 17)), "JPEG")) == (33, 17)
    with pytest.raises(ImageError, match="not an image"):
        image_size(b"hello")
    with pytest.raises(ImageError, match="empty"):
        image_size(b"")


def test_supported_upload_types() -> None:
    assert SUPPORTED_UPLOAD_TYPES == ("png", "jpg", "jpeg", "webp")


# ---------------------------------------------------------------- refusals


def test_empty_data_is_refused() -> None:
    with pytest.raises(ImageError, match=r"^upload\.png is empty \(0 bytes\)"):
        load_image(b"", name="upload.png")


def test_non_bytes_are_refused() -> None:
    with pytest.raises(ImageError, match="not image data"):
        load_image("a string", name="upload.png")  # type: ignore[arg-type]


def test_more_than_max_bytes_is_refused_before_decoding() -> None:
    data = encode(Image.effect_noise((300, 300), 50).convert("RGB"), "PNG")
    with pytest.raises(ImageError, match=r"big\.png is .* MB, over the .* MB limit; upload a smaller"):
        load_image(data, max_bytes=len(data) - 1, name="big.png")
    assert_rgb(load_image(data, max_bytes=len(data)), (300, 300))


@pytest.mark.parametrize(
    "data",
    [
        b"just some text, not a picture",
        b"<!doctype html><html><body>404</body></html>",
        b"\x00" * 1000,
        b"%PDF-1.4\n%...",
    ],
)
def test_not_an_image_is_refused(data: bytes) -> None:
    with pytest.raises(ImageError, match=r"^notes\.txt is not an image artsearch can read; use a JPEG, PNG"):
        load_image(data, name="notes.txt")


def test_formats_outside_the_allow_list_are_refused() -> None:
    # Pillow reads these, but uploads never need them (EPS would even run Ghostscript).
    for fmt in ("PCX", "TGA", "ICO", "PPM"):
        with pytest.raises(ImageError, match="not an image artsearch can read"):
            load_image(encode(two_halves(), fmt), name=f"x.{fmt.lower()}")
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    with pytest.raises(ImageError, match="not an image artsearch can read"):
        load_image(eps, name="x.eps")


def test_a_collections_own_formats_open_only_when_the_caller_allows_them() -> None:
    from artsearch.images import LIBRARY_FORMATS, WEB_FORMATS
    from tests.support.datasets import library_format_files

    for name, data in library_format_files().items():
        with pytest.raises(ImageError, match="use a JPEG, PNG, WEBP, GIF, BMP or TIFF file"):
            load_image(data, name=name)  # an upload or a URL: the short list
        assert load_image(data, name=name, formats=LIBRARY_FORMATS).mode == "RGB"  # the owner's folder
    assert set(WEB_FORMATS) < set(LIBRARY_FORMATS)
    assert not {"EPS", "PDF", "WMF", "FITS", "HDF5", "GRIB", "BUFR", "MPEG"} & set(LIBRARY_FORMATS)
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    with pytest.raises(ImageError, match="not an image artsearch can read; use a JPEG, PNG, WEBP, GIF, BMP, TIFF, TGA"):
        load_image(eps, name="x.eps", formats=LIBRARY_FORMATS)  # never handed to Ghostscript


def _noisy_jpeg() -> bytes:
    """Seeded noise: whether a JPEG cut at its very end still decodes depends on the pixels, so fix them."""
    noise = np.random.default_rng(1234).normal(128, 64, (256, 256)).clip(0, 255).astype(np.uint8)
    return encode(Image.fromarray(noise).convert("RGB"), "JPEG", quality=90)


@pytest.mark.parametrize("keep", [0.25, 0.5, 0.9, 0.999])
def test_truncated_jpeg_is_refused(keep: float) -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    data = _noisy_jpeg()
    with pytest.raises(ImageError, match=r"^cut\.jpg is truncated .*re-download"):
        load_image(data[: int(len(data) * keep)], name="cut.jpg")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_jpeg_missing_only_its_end_marker_is_refused() -> None:
    data = _noisy_jpeg()
    assert data.endswith(b"\xff\xd9")
    with pytest.raises(ImageError, match="truncated"):
        load_image(data[:-2], name="cut.jpg")


def test_truncated_jpeg_is_refused_with_draft_too() -> None:
    data = encode(Image.effect_noise((1024, 1024), 64).convert("RGB"), "JPEG")
    with pytest.raises(ImageError, match="truncated"):
        load_image(data[: len(data) // 2], draft_size=(224, 224), name="cut.jpg")


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF", "TIFF", "BMP"])
def test_truncated_other_formats_are_refused(fmt: str) -> None:
    data = encode(Image.effect_noise((128, 128), 64).convert("RGB"), fmt)
    with pytest.raises(ImageError, match=r"^cut\.\w+ (is truncated|could not be (decoded|read))"):
        load_image(data[: len(data) // 2], name=f"cut.{fmt.lower()}")


def test_corrupt_png_data_is_refused() -> None:
    data = bytearray(encode(Image.effect_noise((64, 64), 64).convert("RGB"), "PNG"))
    start = data.index(b"IDAT") + 4
    data[start + 10 : start + 30] = b"\xff" * 20
    with pytest.raises(ImageError, match=r"^bad\.png could not be decoded \(.*\); the file is damaged"):
        load_image(bytes(data), name="bad.png")


def test_corrupt_header_is_refused() -> None:
    data = bytearray(encode(two_halves(), "PNG"))
    data[16:24] = b"\x00" * 8  # IHDR width and height zero (CRC now wrong as well)
    with pytest.raises(ImageError, match=r"^bad\.png "):
        load_image(bytes(data), name="bad.png")


def bomb_png(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose header declares width x height RGB pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + png_chunk(b"IEND", b"")
    )


def test_decompression_bomb_png_is_refused_from_the_header(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(self: object) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)  # refused before any pixel: counted, not timed
    data = bomb_png(30000, 30000)
    assert len(data) < 200
    with pytest.raises(ImageError, match=r"^bomb\.png declares 900 megapixels.*resize it"):
        load_image(data, name="bomb.png")
    with pytest.raises(ImageError, match="900 megapixels"):
        image_size(data)


def test_our_pixel_limit_applies_below_pillows(recwarn: pytest.WarningsRecorder) -> None:
    # 5000x4000 = 20 MP: far under Pillow's global limit, over ours.
    with pytest.raises(ImageError, match=r"^big\.png is 5000x4000 pixels \(20 megapixels\), over the limit of 10"):
        load_image(bomb_png(5000, 4000), max_pixels=10_000_000, name="big.png")
    assert image_size(bomb_png(5000, 4000)) == (5000, 4000)


def test_pixel_limit_is_declared_size_not_draft_size() -> None:
    data = encode(Image.new("RGB", (1000, 1000), RED), "JPEG")
    with pytest.raises(ImageError, match="over the limit"):
        load_image(data, max_pixels=999_999, draft_size=(100, 100))
    assert load_image(data, max_pixels=1_000_000).size == (1000, 1000)


def test_bomb_between_pillows_two_thresholds_is_refused(recwarn: pytest.WarningsRecorder) -> None:
    # 12000x12000 = 144 MP: Pillow only warns at this size; our 90 MP default refuses.
    with pytest.raises(ImageError, match=r"12000x12000 pixels \(144 megapixels\), over the limit of 90 megapixels"):
        load_image(bomb_png(12000, 12000), name="big.png")


def test_bomb_allocates_no_pixels() -> None:
    """Peak memory of a fresh interpreter stays small while refusing a 2.7 GB bomb."""
    script = textwrap.dedent(
        """
        import struct, sys, zlib
        from artsearch.errors import ImageError
        from artsearch.images import load_image
        def chunk(kind, payload):
            return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        for w, h, limit in ((30000, 30000, 90_000_000), (12000, 12000, 90_000_000), (9000, 9000, 10_000_000)):
            data = (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                    + chunk(b"IDAT", zlib.compress(b"\\x00" * 1000)) + chunk(b"IEND", b""))
            try:
                load_image(data, max_pixels=limit)
            except ImageError:
                pass
            else:
                sys.exit("not refused")
        # VmHWM belongs to this address space (reset at exec); ru_maxrss would include a forked parent's pages.
        print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")))
        """
    )
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    peak_kib = int(result.stdout.strip())
    assert peak_kib < 200 * 1024  # an allocated 30000x30000 RGB image alone would be 2.6 GB


def test_pillow_globals_are_untouched() -> None:
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
    load_image(encode(two_halves(), "JPEG"), max_pixels=10**10)
    with pytest.raises(ImageError):
        load_image(_noisy_jpeg()[:500])
    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES) == before
