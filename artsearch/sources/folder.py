"""Any local folder of images, recursively.

The artist is the name of the image's top-level sub-folder (``root/Claude
Monet/water-lilies.jpg``), or comes from an optional CSV with a ``path``
column (relative to the folder) and any of ``title, artist, genre,
nationality, year, date`` (``metadata.csv`` beside the images is read when no CSV is named). An ``artists.json`` beside
the images (as the data-preparation notebook writes) supplies bios, years and links.

Every file that is not hidden is considered, in every format Pillow decodes itself
(:data:`artsearch.images.LIBRARY_FORMATS`: TGA, PSD, JPEG 2000... besides the web's), so a file that is not an
image shows up in the end report instead of vanishing; only the source's own metadata files (the metadata CSV,
artists.json) are passed over silently. Folders that belong to artsearch itself (its data folder, the index) are
never walked, even when they lie inside the images folder.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from PIL import Image

from artsearch.catalog import UNKNOWN_ARTIST, Artist, Artwork, slugify
from artsearch.errors import ImageError, SourceError, StorageError
from artsearch.files import read_at_most
from artsearch.images import LIBRARY_FORMATS
from artsearch.sources.base import SourceItem
from artsearch.storage.base import artists_from_json
from artsearch.text import repair_mojibake

log = logging.getLogger(__name__)

#: The metadata CSV read from beside the images when none is named (what ``write_cleaned`` writes).
METADATA_CSV = "metadata.csv"
ARTISTS_JSON = "artists.json"
#: The list of left-out files the data-preparation notebook writes beside a cleaned copy's metadata.
REJECTED_CSV = "rejected.csv"


def title_from_filename(stem: str) -> str:
    """'Vincent_van_Gogh_12' -> 'Vincent van Gogh 12'; 'water-lilies' -> 'Water lilies'."""
    text = re.sub(r"[_\-]+", " ", repair_mojibake(stem)).strip()
    return text[:1].upper() + text[1:] if text else stem


def _year(value: str | None) -> int | None:
    match = re.search(r"\d{3,4}", value or "")
    return int(match.group()) if match else None


#: The largest image file a source reads (a bigger one is skipped, never read whole into memory).
MAX_IMAGE_FILE_BYTES = 256 * 1024 * 1024


def read_file(path: Path) -> bytes:
    """Read a file; an unreadable or oversized one becomes a per-item error, not a crash."""
    return read_at_most(path, MAX_IMAGE_FILE_BYTES)


def walk_files(root: Path, exclude: Iterable[Path] = ()) -> list[Path]:
    """Regular, non-hidden files under root in a stable order, leaving out the folders in ``exclude``."""
    skip = {Path(p).resolve() for p in exclude}
    files = []
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if not d.startswith(".") and (here / d).resolve() not in skip]
        files += [here / n for n in names if not n.startswith(".") and (here / n).is_file()]
    return sorted(files)


def image_suffixes() -> set[str]:
    """File name endings of the formats a folder source decodes (``.jpg``, ``.tga``, ``.jp2``...)."""
    Image.init()
    return {ext for ext, fmt in Image.registered_extensions().items() if fmt in (*LIBRARY_FORMATS, "MPO")}


class FolderSource:
    """Images under ``root``; artist from the sub-folder or a CSV."""

    name = "folder"

    def __init__(
        self,
        root: Path,
        *,
        metadata_csv: Path | None = None,
        per_artist: int | None = None,
        key_prefix: str = "images/folder",
        storage_root: Path | None = None,
        own_folders: Iterable[Path] = (),
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise SourceError(f"Images folder {self.root} does not exist; pass --images-dir with a folder of images.")
        self.per_artist = per_artist
        self.key_prefix = key_prefix.strip("/")
        self.storage_root = Path(storage_root).resolve() if storage_root else None
        if metadata_csv is None and (self.root / METADATA_CSV).is_file():
            metadata_csv = self.root / METADATA_CSV  # as the data-preparation notebook writes it
        self.metadata = self._read_csv(metadata_csv) if metadata_csv else {}
        self.known_artists = self._read_artists_json(self.root / ARTISTS_JSON)
        # The source's own files, read above: passed over without a word.
        own = (metadata_csv, self.root / ARTISTS_JSON, self.root / REJECTED_CSV)
        self.own_files = {Path(p).resolve() for p in own if p is not None}
        # artsearch's own folders (its data folder, the index) inside the images folder are never walked.
        root = self.root.resolve()
        self.excluded = [p for p in (Path(f).resolve() for f in own_folders) if p != root and p.is_relative_to(root)]
        for folder in self.excluded:
            log.info("not reading %s for images: it is artsearch's own folder", folder)
        self._artists: dict[str, Artist] = {}

    @staticmethod
    def _read_artists_json(path: Path) -> dict[str, Artist]:
        if not path.is_file():
            return {}
        try:
            return artists_from_json(path.read_bytes(), str(path))
        except StorageError as exc:
            raise SourceError(str(exc)) from None

    @staticmethod
    def _read_csv(path: Path) -> dict[str, dict[str, str]]:
        try:
            with Path(path).open(newline="", encoding="utf-8-sig") as fh:
                rows = list(csv.DictReader(fh))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise SourceError(f"Cannot read the metadata CSV {path} ({exc}); it must be UTF-8 with a header.") from None
        if rows and "path" not in rows[0]:
            raise SourceError(f"The metadata CSV {path} needs a 'path' column (image path relative to the folder).")
        return {row["path"].strip().replace("\\", "/"): row for row in rows}

    def image_key(self, path: Path) -> str:
        """Where storage keeps the image: the file itself when it already lies inside local storage."""
        if self.storage_root is not None:
            resolved = path.resolve()
            if resolved.is_relative_to(self.storage_root):
                return resolved.relative_to(self.storage_root).as_posix()
        rel = path.relative_to(self.root).as_posix()
        return f"{self.key_prefix}/{rel}"

    def artist_for(self, rel: Path) -> str:
        return repair_mojibake(rel.parts[0]).replace("_", " ").strip() if len(rel.parts) > 1 else UNKNOWN_ARTIST

    def artwork_for(self, path: Path) -> Artwork:
        rel = path.relative_to(self.root)
        row = self.metadata.get(rel.as_posix(), {})
        artist = (row.get("artist") or "").strip() or self.artist_for(rel)
        return Artwork(
            source=self.name,
            source_id=repair_mojibake(rel.as_posix()),
            title=(row.get("title") or "").strip() or title_from_filename(path.stem),
            artist=artist,
            genre=(row.get("genre") or "").strip(),
            nationality=(row.get("nationality") or "").strip(),
            year=_year(row.get("year")),
            image_key=self.image_key(path),
            # A "date" column as written ("c. 1765", "mid 16th century"): shown as it is, read for the period.
            extra={"date": date} if (date := (row.get("date") or "").strip()) else {},
        )

    def items(self) -> Iterator[SourceItem]:
        per_artist: dict[str, int] = {}
        suffixes = image_suffixes()
        for path in walk_files(self.root, self.excluded):
            if path.resolve() in self.own_files:
                continue
            if path.suffix and path.suffix.lower() not in suffixes:
                yield self._not_an_image(path)
                continue
            artwork = self.artwork_for(path)
            if self.per_artist is not None:
                seen = per_artist.get(artwork.artist, 0)
                if seen >= self.per_artist:
                    continue
                per_artist[artwork.artist] = seen + 1
            self.note_artist(artwork)
            stat = path.stat()
            yield SourceItem(
                artwork=artwork,
                read=lambda p=path: read_file(p),
                origin=str(path),
                fingerprint=f"{stat.st_size}:{stat.st_mtime_ns}",
                formats=LIBRARY_FORMATS,
            )

    def note_artist(self, artwork: Artwork) -> None:
        slug = slugify(artwork.artist)
        if slug not in self._artists:
            record = Artist(name=artwork.artist, nationality=artwork.nationality, genre=artwork.genre)
            known = self.known_artists.get(slug)
            self._artists[slug] = record.merged_with(known) if known else record

    def artists(self) -> dict[str, Artist]:
        return dict(self._artists)

    def _not_an_image(self, path: Path) -> SourceItem:
        """A README, an archive, a video: it goes to the report like any file that does not decode, without its
        bytes ever being read, and without making its folder an artist."""
        rel = path.relative_to(self.root).as_posix()

        def refuse() -> bytes:
            raise ImageError(f"{rel} is not an image file (its name ends in {path.suffix}); it was left out.")

        artist = self.artist_for(path.relative_to(self.root))
        artwork = Artwork(source=self.name, source_id=repair_mojibake(rel), title=path.name, artist=artist)
        return SourceItem(artwork=artwork, read=refuse, origin=str(path), formats=LIBRARY_FORMATS)

    def skipped(self) -> list[tuple[str, str]]:
        return []
