"""Builders of small on-disk datasets for tests: a Kaggle-layout folder with broken files in it."""

from __future__ import annotations

import csv
import hashlib
import io
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

# Artist folder names as the Kaggle archive ships them, including a mis-encoded one.
KAGGLE_ARTISTS = {
    "Claude_Monet": ("Claude Monet", "1840 - 1926", "Impressionism", "French"),
    "Albrecht_Du╠êrer": ("Albrecht Dürer", "1471 - 1528", "Northern Renaissance", "German"),
    "Vincent_van_Gogh": ("Vincent van Gogh", "1853 - 1890", "Post-Impressionism", "Dutch"),
}
UNMATCHED_ARTIST = "Mystery_Painter"  # has images but no artists.csv row


@dataclass
class KaggleLayout:
    root: Path
    valid: list[Path] = field(default_factory=list)
    broken: list[Path] = field(default_factory=list)

    @property
    def images_dir(self) -> Path:
        return self.root / "images" / "images"


def painting(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A distinct, smooth picture: random blobs of colour (different seeds look different)."""
    rng = np.random.default_rng(seed)
    w, h = size
    small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)


def jpeg_bytes(img: Image.Image, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, **kwargs)
    return buf.getvalue()


def jpeg_like(n: object, size: int = 2048) -> bytes:
    """Distinct bytes per n that start like a JPEG (for storage, which never decodes images)."""
    return b"\xff\xd8\xff\xe0" + hashlib.sha256(str(n).encode()).digest() * (size // 32)


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header declares a huge image (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def make_kaggle_layout(root: Path, per_artist: int = 4) -> KaggleLayout:
    """Kaggle's folder layout and artists.csv, with every kind of awkward and broken file in it."""
    layout = KaggleLayout(root)
    images = layout.images_dir
    seed = 0
    for folder in [*KAGGLE_ARTISTS, UNMATCHED_ARTIST]:
        (images / folder).mkdir(parents=True, exist_ok=True)
        for n in range(1, per_artist + 1):
            seed += 1
            path = images / folder / f"{folder}_{n}.jpg"
            path.write_bytes(jpeg_bytes(painting(seed)))
            layout.valid.append(path)
    monet = images / "Claude_Monet"
    # Awkward but valid: PNG with alpha, WEBP, animated GIF, CMYK JPEG, 16-bit PNG, EXIF-rotated photo.
    seed += 1
    rgba = painting(seed).convert("RGBA")
    rgba.putalpha(128)
    rgba.save(monet / "Claude_Monet_alpha.png")
    painting(seed + 1).save(monet / "Claude_Monet_webp.webp", "WEBP")
    frames = [painting(seed + 2).convert("P"), painting(seed + 3).convert("P")]
    frames[0].save(monet / "Claude_Monet_anim.gif", save_all=True, append_images=frames[1:])
    painting(seed + 4).convert("CMYK").save(monet / "Claude_Monet_cmyk.jpg", "JPEG")
    gray16 = (np.linspace(0, 65535, 200 * 150).reshape(150, 200)).astype(np.uint16)
    Image.fromarray(gray16).save(monet / "Claude_Monet_16bit.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees when shown
    (monet / "Claude_Monet_rotated.jpg").write_bytes(jpeg_bytes(painting(seed + 5), exif=exif))
    layout.valid += [
        monet / n
        for n in (
            "Claude_Monet_alpha.png",
            "Claude_Monet_webp.webp",
            "Claude_Monet_anim.gif",
            "Claude_Monet_cmyk.jpg",
            "Claude_Monet_16bit.png",
            "Claude_Monet_rotated.jpg",
        )
    ]
    # Broken: truncated JPEG, zero bytes, text named .jpg, a decompression bomb, a stray file.
    van_gogh = images / "Vincent_van_Gogh"
    whole = jpeg_bytes(painting(999))
    broken = {
        van_gogh / "Vincent_van_Gogh_truncated.jpg": whole[: len(whole) // 2],
        van_gogh / "Vincent_van_Gogh_empty.jpg": b"",
        van_gogh / "Vincent_van_Gogh_text.jpg": b"this is not an image at all\n",
        van_gogh / "Vincent_van_Gogh_bomb.png": bomb_png(),
        van_gogh / "notes.bin": b"\x00\x01binary junk",
    }
    for path, data in broken.items():
        path.write_bytes(data)
    layout.broken = list(broken)
    with (root / "artists.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "name", "years", "genre", "nationality", "bio", "wikipedia", "paintings"])
        for i, (name, years, genre, nationality) in enumerate(KAGGLE_ARTISTS.values()):
            writer.writerow(
                [
                    i,
                    name,
                    years,
                    genre,
                    nationality,
                    f"{name} was a painter.",
                    f"http://en.wikipedia.org/wiki/{name}",
                    4,
                ]
            )
    return layout
