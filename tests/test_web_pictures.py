"""The page's pictures: small RGB JPEG thumbnails of local images, signed URLs passed on, upload previews."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from artsearch.config import load_settings
from artsearch.web import pictures
from tests.support.datasets import jpeg_bytes, painting


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_local_images_become_small_rgb_jpegs(tmp_path: Path):
    settings = load_settings(secrets={}, env={})
    big = tmp_path / "big.jpg"
    big.write_bytes(jpeg_bytes(painting(1, size=(2000, 1000))))
    out = decoded(pictures.display_source(str(big), settings))
    # Decoded at the JPEG scale that covers 480 pixels (1/4 here: 500x250), and not resampled again for 4%.
    assert out.format == "JPEG" and out.mode == "RGB" and out.size == (500, 250)
    deep = tmp_path / "deep.png"  # 16-bit greyscale: st.image cannot re-encode it as is
    Image.fromarray(np.linspace(0, 65535, 300 * 200).reshape(200, 300).astype(np.uint16)).save(deep)
    assert decoded(pictures.display_source(str(deep), settings, 100)).size == (100, 67)


def test_image_sources_that_cannot_be_shown_are_none(tmp_path: Path):
    settings = load_settings(secrets={}, env={})
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    assert pictures.display_source(str(broken), settings) is None
    assert pictures.display_source(str(tmp_path / "missing.jpg"), settings) is None
    assert pictures.display_source(None, settings) is None
    signed = "https://storage.googleapis.com/bucket/a.jpg?X-Goog-Signature=abc"
    assert pictures.display_source(signed, settings) == signed  # the browser fetches signed URLs itself


def test_upload_preview():
    settings = load_settings(secrets={}, env={})
    assert decoded(pictures.preview(jpeg_bytes(painting(2, size=(640, 480))), settings)).size == (480, 360)
    assert pictures.preview(b"GIF89a broken", settings) is None


def test_the_detail_picture_is_the_original_when_a_browser_can_show_it_as_it_is(tmp_path: Path):
    settings = load_settings(secrets={}, env={})
    fits = tmp_path / "fits.jpg"
    fits.write_bytes(jpeg_bytes(painting(3, size=(1000, 800))))
    assert pictures.detail_source(str(fits), settings) == fits.read_bytes()  # not decoded and encoded again
    huge = tmp_path / "huge.jpg"
    huge.write_bytes(jpeg_bytes(painting(4, size=(3200, 1600))))
    assert decoded(pictures.detail_source(str(huge), settings)).size == (pictures.DETAIL_PX, 800)
    cmyk = tmp_path / "cmyk.jpg"
    painting(5, size=(300, 200)).convert("CMYK").save(cmyk, "JPEG")
    assert decoded(pictures.detail_source(str(cmyk), settings)).mode == "RGB"  # a browser may not show CMYK
    exif = Image.Exif()
    exif[0x0112] = 6
    turned = tmp_path / "turned.jpg"
    turned.write_bytes(jpeg_bytes(painting(6, size=(300, 200)), exif=exif))
    assert decoded(pictures.detail_source(str(turned), settings)).size == (200, 300)  # shown upright
