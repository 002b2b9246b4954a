"""Builders of small on-disk datasets for tests: a Kaggle-layout folder with broken files in it."""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
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


# --- the Kaggle archive exactly as it ships: all 50 artists, the real CSV columns, the resized copies ---------

# (artists.csv name, years, genre, nationality) for the archive's 50 artists, as the real CSV spells them.
KAGGLE_ARCHIVE_ARTISTS = [
    ("Amedeo Modigliani", "1884 - 1920", "Expressionism", "Italian"),
    ("Vasiliy Kandinskiy", "1866 - 1944", "Expressionism,Abstractionism", "Russian"),
    ("Diego Rivera", "1886 - 1957", "Social Realism,Muralism", "Mexican"),
    ("Claude Monet", "1840 - 1926", "Impressionism", "French"),
    ("Rene Magritte", "1898 - 1967", "Surrealism", "Belgian"),
    ("Salvador Dali", "1904 - 1989", "Surrealism", "Spanish"),
    ("Edouard Manet", "1832 - 1883", "Realism,Impressionism", "French"),
    ("Andrei Rublev", "1360 - 1430", "Byzantine Art", "Russian"),
    ("Vincent van Gogh", "1853 - 1890", "Post-Impressionism", "Dutch"),
    ("Gustav Klimt", "1862 - 1918", "Symbolism,Art Nouveau", "Austrian"),
    ("Hieronymus Bosch", "1450 - 1516", "Northern Renaissance", "Dutch"),
    ("Kazimir Malevich", "1879 - 1935", "Suprematism", "Russian"),
    ("Mikhail Vrubel", "1856 - 1910", "Symbolism", "Russian"),
    ("Pablo Picasso", "1881 - 1973", "Cubism", "Spanish"),
    ("Peter Paul Rubens", "1577 - 1640", "Baroque", "Flemish"),
    ("Pierre-Auguste Renoir", "1841 - 1919", "Impressionism", "French"),
    ("Francisco Goya", "1746 - 1828", "Romanticism", "Spanish"),
    ("Frida Kahlo", "1907 - 1954", "Primitivism,Surrealism", "Mexican"),
    ("El Greco", "1541 - 1614", "Mannerism", "Spanish,Greek"),
    ("Albrecht Dürer", "1471 - 1528", "Northern Renaissance", "German"),
    ("Alfred Sisley", "1839 - 1899", "Impressionism", "French,British"),
    ("Pieter Bruegel", "1525 - 1569", "Northern Renaissance", "Flemish"),
    ("Marc Chagall", "1887 - 1985", "Primitivism", "French,Jewish,Belarusian"),
    ("Giotto di Bondone", "1267 - 1337", "Proto Renaissance", "Italian"),
    ("Sandro Botticelli", "1445 - 1510", "Early Renaissance", "Italian"),
    ("Caravaggio", "1571 - 1610", "Baroque", "Italian"),
    ("Leonardo da Vinci", "1452 - 1519", "High Renaissance", "Italian"),
    ("Diego Velazquez", "1599 - 1660", "Baroque", "Spanish"),
    ("Henri Matisse", "1869 - 1954", "Impressionism,Post-Impressionism", "French"),
    ("Jan van Eyck", "1390 - 1441", "Northern Renaissance", "Flemish"),
    ("Edgar Degas", "1834 - 1917", "Impressionism", "French"),
    ("Rembrandt", "1606 - 1669", "Baroque", "Dutch"),
    ("Titian", "1488 - 1576", "High Renaissance,Mannerism", "Italian"),
    ("Henri de Toulouse-Lautrec", "1864 - 1901", "Post-Impressionism", "French"),
    ("Gustave Courbet", "1819 - 1877", "Realism", "French"),
    ("Camille Pissarro", "1830 - 1903", "Impressionism,Post-Impressionism", "French"),
    ("William Turner", "1775 - 1851", "Romanticism", "British"),
    ("Edvard Munch", "1863 - 1944", "Symbolism,Expressionism", "Norwegian"),
    ("Paul Cezanne", "1839 - 1906", "Post-Impressionism", "French"),
    ("Eugene Delacroix", "1798 - 1863", "Romanticism", "French"),
    ("Henri Rousseau", "1844 - 1910", "Naïve Art,Primitivism", "French"),
    ("Georges Seurat", "1859 - 1891", "Post-Impressionism", "French"),
    ("Paul Klee", "1879 - 1940", "Expressionism,Abstractionism,Surrealism", "German,Swiss"),
    ("Piet Mondrian", "1872 - 1944", "Neoplasticism", "Dutch"),
    ("Joan Miro", "1893 - 1983", "Surrealism", "Spanish"),
    ("Andy Warhol", "1928 - 1987", "Pop Art", "American"),
    ("Paul Gauguin", "1848 - 1903", "Symbolism,Post-Impressionism", "French"),
    ("Raphael", "1483 - 1520", "High Renaissance", "Italian"),
    ("Michelangelo", "1475 - 1564", "High Renaissance", "Italian"),
    ("Jackson Pollock", "1912 - 1956", "Abstract Expressionism", "American"),
]
# The archive's folder for each artist: the name with underscores, and Dürer's UTF-8 (u + combining diaeresis)
# mis-read as cp437, as the zip ships it.
DURER_AS_SHIPPED = "Albrecht_Du╠êrer"
DURER_CORRECT = "Albrecht_Dürer"


def kaggle_folder(name: str) -> str:
    return DURER_AS_SHIPPED if name == "Albrecht Dürer" else name.replace(" ", "_")


@dataclass
class KaggleArchive:
    root: Path
    pictures: dict[str, list[Path]] = field(default_factory=dict)  # artist name -> original pictures (once each)


def make_kaggle_archive(root: Path, per_artist: int = 2, *, durer_twice: bool = True) -> KaggleArchive:
    """The archive as unzipped from the website: artists.csv (the real columns, bios with commas and quotes),
    ``images/images/<Folder>/<Folder>_<n>.jpg`` for all 50 artists, ``resized/resized/<Folder>_<n>.jpg`` (smaller
    copies, flat) and, with ``durer_twice``, a correctly named Albrecht_Dürer folder holding copies of the same
    pictures as the mis-encoded one (as some copies of the archive do)."""
    archive = KaggleArchive(root)
    images, resized = root / "images" / "images", root / "resized" / "resized"
    resized.mkdir(parents=True)
    seed = 10_000
    for name, *_ in KAGGLE_ARCHIVE_ARTISTS:
        folder = kaggle_folder(name)
        (images / folder).mkdir(parents=True)
        archive.pictures[name] = []
        for n in range(1, per_artist + 1):
            seed += 1
            picture = painting(seed, (96, 72))
            path = images / folder / f"{folder}_{n}.jpg"
            path.write_bytes(jpeg_bytes(picture))
            (resized / f"{folder}_{n}.jpg").write_bytes(jpeg_bytes(picture.resize((48, 36))))
            archive.pictures[name].append(path)
    if durer_twice:
        shutil.copytree(images / DURER_AS_SHIPPED, images / DURER_CORRECT)
        for path in (images / DURER_CORRECT).iterdir():
            path.rename(path.with_name(path.name.replace(DURER_AS_SHIPPED, DURER_CORRECT)))
    with (root / "artists.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "name", "years", "genre", "nationality", "bio", "wikipedia", "paintings"])
        for i, (name, years, genre, nationality) in enumerate(KAGGLE_ARCHIVE_ARTISTS):
            bio = f'{name} ({years}) was a painter of the "{genre}" school, born {nationality}; a master, by all accounts.'
            wiki = f"http://en.wikipedia.org/wiki/{name.replace(' ', '_')}"
            writer.writerow([i, name, years, genre, nationality, bio, wiki, per_artist])
    return archive


# --- formats an owner's folder may hold beyond the web's ---------------------------------------------------------


def psd_bytes(img: Image.Image) -> bytes:
    """A flat Photoshop file (RGB, 8 bits, raw planes, no layers): Pillow reads PSD but cannot write it."""
    pixels = np.asarray(img.convert("RGB"))
    height, width, _ = pixels.shape
    header = b"8BPS" + struct.pack(">H6sHIIHH", 1, b"\0" * 6, 3, height, width, 8, 3)
    sections = struct.pack(">III", 0, 0, 0)  # colour mode data, image resources, layers: all empty
    return header + sections + struct.pack(">H", 0) + b"".join(pixels[:, :, c].tobytes() for c in range(3))


def library_format_files(size: tuple[int, int] = (64, 48), seed: int = 900) -> dict[str, bytes]:
    """One distinct picture per format an owner may have and the web does not make: {file name: bytes}.
    AVIF only where this Pillow can write it."""
    from PIL import features

    files = {"painting.psd": psd_bytes(painting(seed, size))}
    wanted = [("painting.tga", "TGA", {}), ("painting.ppm", "PPM", {}), ("painting.ico", "ICO", {"sizes": [size]})]
    wanted.append(("painting.jp2", "JPEG2000", {}))
    if features.check("avif"):
        wanted.append(("painting.avif", "AVIF", {}))
    for n, (name, fmt, kwargs) in enumerate(wanted, 1):
        buf = io.BytesIO()
        painting(seed + n, size).save(buf, fmt, **kwargs)
        files[name] = buf.getvalue()
    return files
