"""Look at a dataset, clean it, and write the cleaned copy: the logic behind ``notebooks/data_prep.ipynb``.

:func:`scan_source` runs every item of a source through the same checks the
ingest applies (read the bytes, :func:`~artsearch.images.load_image` with the
ingest's pixel limit and JPEG draft size) and records, per file, whether it is
usable and why not. It also lists the names that were repaired (UTF-8 read as
cp437 in the Kaggle archive, NFD file names from macOS zips) and the artists
that have images but no ``artists.csv`` row.

:func:`write_cleaned` writes only the usable images, under one folder per
artist named with the repaired artist name, plus ``metadata.csv`` (read by
:class:`~artsearch.sources.folder.FolderSource` via ``metadata_csv``),
``artists.json`` (the :mod:`artsearch.storage` format) and ``rejected.csv``.
The result is itself a folder source::

    FolderSource(out_dir, metadata_csv=out_dir / "metadata.csv")

Table helpers return lists of plain dicts, so ``pandas.DataFrame(rows)`` shows
them without this module depending on pandas.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import shutil
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from PIL import Image, ImageDraw, ImageFont, ImageOps

from artsearch.catalog import UNKNOWN_ARTIST, Artist, slugify, split_genres
from artsearch.errors import ImageError, SourceError
from artsearch.files import atomic_write
from artsearch.images import image_size, load_image
from artsearch.sources.base import Source, SourceItem
from artsearch.sources.folder import METADATA_CSV as FOLDER_METADATA_CSV
from artsearch.sources.folder import REJECTED_CSV, FolderSource, walk_files
from artsearch.sources.kaggle import KaggleSource
from artsearch.storage.base import artists_to_json
from artsearch.text import name_key, repair_mojibake

__all__ = [
    "MARKER",
    "METADATA_COLUMNS",
    "CleanedDataset",
    "DatasetScan",
    "FileCheck",
    "NameRepair",
    "check_item",
    "contact_sheet",
    "counts",
    "find_name_repairs",
    "safe_component",
    "sample",
    "scan_source",
    "write_cleaned",
]

log = logging.getLogger(__name__)

#: Same decode as the ingest (``artsearch.ingest.DRAFT_SIZE``), so a file that passes here passes there.
DRAFT_SIZE = (224, 224)
DEFAULT_MAX_PIXELS = 90_000_000  # Settings.max_image_pixels

#: Hidden file that marks a folder as written by :func:`write_cleaned`; only such folders are replaced.
MARKER = ".artsearch-cleaned"
METADATA_CSV = FOLDER_METADATA_CSV
ARTISTS_JSON = "artists.json"
#: ``metadata.csv`` columns; the first six are the ones FolderSource reads.
METADATA_COLUMNS = ("path", "title", "artist", "genre", "nationality", "year", "width", "height", "original")

CountField = Literal["artist", "genre", "nationality"]
UNKNOWN = "(unknown)"


@dataclass
class NameRepair:
    """A folder or file name whose text was repaired."""

    kind: Literal["folder", "file"]
    before: str
    after: str
    fix: str  # "mis-encoded UTF-8" or "Unicode normalised (NFC)"
    path: str  # relative path as found on disk


@dataclass
class FileCheck:
    """One item of the source and what the checks found."""

    item: SourceItem = field(repr=False)
    original: str  # path relative to the source folder as on disk (raw, unrepaired), or the URL
    folder: str  # the raw top-level folder name ("" when the source has no folders)
    ok: bool
    reason: str = ""  # why the file is unusable; "" when ok
    width: int | None = None
    height: int | None = None
    size_bytes: int | None = None

    @property
    def artist(self) -> str:
        return self.item.artwork.artist

    def row(self) -> dict[str, Any]:
        art = self.item.artwork
        return {
            "file": self.original,
            "artist": art.artist,
            "status": "ok" if self.ok else "broken",
            "reason": self.reason,
            "width": self.width,
            "height": self.height,
            "bytes": self.size_bytes,
        }


@dataclass
class DatasetScan:
    """Everything :func:`scan_source` found; the tables the notebook shows come from here."""

    source_name: str
    root: Path | None
    files: list[FileCheck]
    artists: dict[str, Artist]  # by slug, as the source reports them (artists.csv details where matched)
    repairs: list[NameRepair]
    unmatched: list[str]  # artists with images but no artists.csv row (kept, with the name only)
    without_images: list[str]  # artists.csv rows that no image belongs to
    has_artist_table: bool  # whether the source matches images against an artist table (Kaggle)

    @property
    def valid(self) -> list[FileCheck]:
        return [f for f in self.files if f.ok]

    @property
    def broken(self) -> list[FileCheck]:
        return [f for f in self.files if not f.ok]

    def file_rows(self) -> list[dict[str, Any]]:
        """Every file with its status."""
        return [f.row() for f in self.files]

    def broken_rows(self) -> list[dict[str, Any]]:
        """The files that will be left out, and why."""
        return [{"file": f.original, "artist": f.artist, "reason": f.reason} for f in self.broken]

    def repair_rows(self) -> list[dict[str, Any]]:
        """Names before and after repair."""
        return [{"kind": r.kind, "before": r.before, "after": r.after, "fix": r.fix} for r in self.repairs]

    def artist_rows(self) -> list[dict[str, Any]]:
        """One row per artist folder: the name on disk, the artist it became, and its images."""
        groups: dict[tuple[str, str], list[FileCheck]] = {}
        for f in self.files:
            groups.setdefault((f.folder, f.artist), []).append(f)
        unmatched = set(self.unmatched)
        rows = []
        for (folder, artist), checks in sorted(groups.items(), key=lambda kv: (kv[0][1].casefold(), kv[0][0])):
            record = self.artists.get(slugify(artist))
            rows.append(
                {
                    "folder": folder,
                    "artist": artist,
                    "in artists.csv": (artist not in unmatched) if self.has_artist_table else None,
                    "genre": record.genre if record else "",
                    "nationality": record.nationality if record else "",
                    "images": sum(c.ok for c in checks),
                    "broken": sum(not c.ok for c in checks),
                }
            )
        return rows

    def unmatched_rows(self) -> list[dict[str, Any]]:
        """Artists with images but no artists.csv row, and how many images they have."""
        per_artist = Counter(f.artist for f in self.files)
        valid = Counter(f.artist for f in self.valid)
        return [{"artist": a, "files": per_artist[a], "valid images": valid[a]} for a in self.unmatched]

    def summary_rows(self) -> list[dict[str, Any]]:
        """Before/after counts of each cleaning step."""
        folders = {f.folder for f in self.files if f.folder}
        artists_after = {f.artist for f in self.valid}
        return [
            {
                "step": "files",
                "before": len(self.files),
                "after": len(self.valid),
                "note": "only decodable images kept",
            },
            {
                "step": "broken files",
                "before": len(self.broken),
                "after": 0,
                "note": "left out, listed in rejected.csv",
            },
            {
                "step": "mis-encoded names",
                "before": len(self.repairs),
                "after": 0,
                "note": "folders and files written under repaired names",
            },
            {
                "step": "artists",
                "before": len(folders) if folders else len({f.artist for f in self.files}),
                "after": len(artists_after),
                "note": "artists left with no valid image are dropped",
            },
            {
                "step": "artists without an artists.csv row",
                "before": len(self.unmatched),
                "after": len([a for a in self.unmatched if a in artists_after]),
                "note": "kept with the folder's name and empty details",
            },
        ]


@dataclass
class CleanedDataset:
    """What :func:`write_cleaned` wrote."""

    root: Path
    images: list[Path]
    metadata_csv: Path
    artists_json: Path
    rejected_csv: Path
    rows: list[dict[str, Any]]  # the metadata.csv rows
    artists: dict[str, Artist]

    def folder_source(self) -> FolderSource:
        """The cleaned dataset as a source, ready for ingest."""
        return FolderSource(self.root, metadata_csv=self.metadata_csv)


def _fix_kind(before: str, after: str) -> str:
    return "Unicode normalised (NFC)" if unicodedata.normalize("NFC", before) == after else "mis-encoded UTF-8"


def find_name_repairs(root: Path) -> list[NameRepair]:
    """Folder and file names under ``root`` that :func:`~artsearch.text.repair_mojibake` changes.

    Only names the sources look at: non-hidden folders and the files
    :func:`~artsearch.sources.folder.walk_files` yields.
    """
    root = Path(root)
    repairs: list[NameRepair] = []
    seen_dirs: set[Path] = set()
    for path in walk_files(root):
        rel = path.relative_to(root)
        for depth in range(1, len(rel.parts)):
            folder = Path(*rel.parts[:depth])
            if folder in seen_dirs:
                continue
            seen_dirs.add(folder)
            name = folder.name
            fixed = repair_mojibake(name)
            if fixed != name:
                repairs.append(NameRepair("folder", name, fixed, _fix_kind(name, fixed), folder.as_posix()))
        fixed = repair_mojibake(path.name)
        if fixed != path.name:
            repairs.append(NameRepair("file", path.name, fixed, _fix_kind(path.name, fixed), rel.as_posix()))
    return repairs


def check_item(item: SourceItem, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str | None = None) -> FileCheck:
    """Read and decode one item as the ingest would; any failure becomes ``ok=False`` with the reason."""
    name = name or item.origin
    check = FileCheck(item=item, original=name, folder="", ok=False)
    try:
        data = item.read()
        check.size_bytes = len(data)
        load_image(data, max_pixels=max_pixels, draft_size=DRAFT_SIZE, name=name, formats=item.formats)
        check.width, check.height = image_size(data, item.formats)
    except ImageError as exc:
        check.reason = str(exc)
        return check
    except (OSError, ValueError) as exc:  # the ingest skips these too rather than aborting the run
        check.reason = f"{type(exc).__name__}: {exc}"
        return check
    check.ok = True
    return check


def _origin_parts(origin: str, root: Path | None) -> tuple[str, str]:
    """(path relative to root, top-level folder) for a file origin; (origin, "") otherwise."""
    if root is not None:
        try:
            rel = Path(origin).relative_to(root)
        except ValueError:
            return origin, ""
        return rel.as_posix(), (rel.parts[0] if len(rel.parts) > 1 else "")
    return origin, ""


def scan_source(source: Source, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> DatasetScan:
    """Check every item of ``source``; see :class:`DatasetScan` for what is collected.

    Works with any :class:`~artsearch.sources.Source`; name repairs and the
    folder column are filled in for folder-based sources (Kaggle, folder), and
    the artists.csv matching for Kaggle.
    """
    root = Path(source.root) if isinstance(source, FolderSource) else None
    files = []
    for item in source.items():
        rel, folder = _origin_parts(item.origin, root)
        check = check_item(item, max_pixels=max_pixels, name=rel)
        check.folder = folder
        files.append(check)
    unmatched: list[str] = []
    without_images: list[str] = []
    if isinstance(source, KaggleSource):
        unmatched = sorted(source.unmatched, key=str.casefold)
        seen = {name_key(f.artist) for f in files}
        without_images = sorted((a.name for k, a in source.csv_artists.items() if k not in seen), key=str.casefold)
    for origin, reason in source.skipped():
        log.info("the source skipped %s: %s", origin, reason)
    return DatasetScan(
        source_name=source.name,
        root=root,
        files=files,
        artists=source.artists(),
        repairs=find_name_repairs(root) if root is not None else [],
        unmatched=unmatched,
        without_images=without_images,
        has_artist_table=isinstance(source, KaggleSource) and bool(source.csv_artists),
    )


def counts(checks: Iterable[FileCheck], by: CountField) -> list[dict[str, Any]]:
    """Images per artist, genre or nationality, most first; an artwork with several genres counts in each."""
    counter: Counter[str] = Counter()
    for check in checks:
        art = check.item.artwork
        if by == "artist":
            values = [art.artist or UNKNOWN_ARTIST]
        elif by == "genre":
            values = split_genres(art.genre) or [UNKNOWN]
        elif by == "nationality":
            values = [art.nationality.strip() or UNKNOWN]
        else:
            raise ValueError(f"counts() counts by artist, genre or nationality, not {by!r}")
        counter.update(values)
    ordered = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0].casefold()))
    return [{by: value, "images": n} for value, n in ordered]


def sample(checks: Sequence[FileCheck], *, per_artist: int = 2, limit: int = 12) -> list[FileCheck]:
    """Up to ``per_artist`` usable files of each artist, artists taken in turn, at most ``limit`` in all."""
    by_artist: dict[str, list[FileCheck]] = {}
    for check in checks:
        if check.ok and len(by_artist.setdefault(check.artist, [])) < per_artist:
            by_artist[check.artist].append(check)
    picked: list[FileCheck] = []
    for rank in range(per_artist):
        for artist in sorted(by_artist, key=str.casefold):
            if rank < len(by_artist[artist]) and len(picked) < limit:
                picked.append(by_artist[artist][rank])
    return picked


def _label_font() -> tuple[ImageFont.ImageFont | ImageFont.FreeTypeFont, bool]:
    """A font for labels and whether it covers accented letters (Pillow's built-in one draws them as boxes)."""
    try:
        return ImageFont.truetype("DejaVuSans.ttf", 12), True
    except OSError:
        return ImageFont.load_default(), False


def _label(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, width: int) -> None:
    font, accents = _label_font()
    if not accents:
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    if draw.textlength(text, font=font) > width:
        while text and draw.textlength(text + "...", font=font) > width:
            text = text[:-1]
        text += "..."
    draw.text(xy, text, fill=(30, 30, 30), font=font)


def contact_sheet(
    checks: Sequence[FileCheck], *, columns: int = 4, thumb: int = 160, label: bool = True
) -> Image.Image:
    """One RGB image with a thumbnail (and the artist's name) per usable file, in rows of ``columns``."""
    checks = [c for c in checks if c.ok]
    pad, text_h = 8, (16 if label else 0)
    cell_w, cell_h = thumb + pad, thumb + text_h + pad
    rows = max(1, -(-len(checks) // columns))
    sheet = Image.new("RGB", (columns * cell_w + pad, rows * cell_h + pad), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, check in enumerate(checks):
        x, y = pad + (i % columns) * cell_w, pad + (i // columns) * cell_h
        image = ImageOps.contain(
            load_image(check.item.read(), draft_size=(thumb, thumb), name=check.original, formats=check.item.formats),
            (thumb, thumb),
        )
        sheet.paste(image, (x + (thumb - image.width) // 2, y + (thumb - image.height) // 2))
        if label:
            _label(draw, (x, y + thumb + 2), check.artist, thumb)
    return sheet


def safe_component(name: str) -> str:
    """A name usable as one path component everywhere: no separators, control characters or leading dot."""
    text = "".join(ch if ch.isprintable() and ch not in '/\\:*?"<>|' else "_" for ch in name).strip()
    text = text.lstrip(".").rstrip(". ")
    return text or "unnamed"


def _unique(path: Path, taken: set[Path]) -> Path:
    candidate, n = path, 1
    while candidate in taken:
        n += 1
        candidate = path.with_name(f"{path.stem}_{n}{path.suffix}")
    taken.add(candidate)
    return candidate


def _csv_bytes(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in columns})
    return buf.getvalue().encode("utf-8")


def _check_target(out_dir: Path, root: Path | None) -> None:
    """Refuse targets that would overwrite the source or a folder this module did not write."""
    out = out_dir.resolve()
    if root is not None:
        src = root.resolve()
        if out == src or out.is_relative_to(src) or src.is_relative_to(out):
            raise SourceError(f"The cleaned dataset cannot go in {out_dir}: it overlaps the source folder {root}.")
    if out.exists() and not out.is_dir():
        raise SourceError(f"{out_dir} exists and is not a folder; choose another output folder.")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise SourceError(
            f"{out_dir} is not empty and was not written by write_cleaned; choose another output folder or empty it."
        )


def write_cleaned(scan: DatasetScan, out_dir: Path | str) -> CleanedDataset:
    """Write the usable images of ``scan`` to ``out_dir``, replacing a previous cleaned copy there.

    Layout: ``<Artist Name>/<repaired file name>`` for each usable image (the
    original bytes, not re-encoded), ``metadata.csv``, ``artists.json`` (only
    artists that kept an image), ``rejected.csv`` (left-out files and why) and
    the hidden :data:`MARKER`. Everything is written to a temporary sibling
    folder first and then swapped in, so an interrupted run leaves the
    previous copy intact. Refuses a non-empty ``out_dir`` without the marker.
    """
    out_dir = Path(out_dir)
    _check_target(out_dir, scan.root)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.tmp-"))
    work.chmod(0o755)  # mkdtemp makes it private; the cleaned folder is an ordinary one
    try:
        rows, images, taken = [], [], set()
        for check in scan.valid:
            art = check.item.artwork
            name = safe_component(repair_mojibake(PurePosixPath(art.image_key or check.original).name))
            rel = _unique(Path(safe_component(art.artist)) / name, taken)
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_bytes(check.item.read())
            images.append(out_dir / rel)
            rows.append(
                {
                    "path": rel.as_posix(),
                    "title": art.title,
                    "artist": art.artist,
                    "genre": art.genre,
                    "nationality": art.nationality,
                    "year": art.year,
                    "width": check.width,
                    "height": check.height,
                    "original": check.original,
                }
            )
        artists: dict[str, Artist] = {}
        for check in scan.valid:
            slug = slugify(check.artist)
            artists.setdefault(slug, scan.artists.get(slug) or Artist(name=check.artist))
        (work / METADATA_CSV).write_bytes(_csv_bytes(METADATA_COLUMNS, rows))
        atomic_write(work / ARTISTS_JSON, artists_to_json(artists))
        rejected = [{"original": f.original, "artist": f.artist, "reason": f.reason} for f in scan.broken]
        (work / REJECTED_CSV).write_bytes(_csv_bytes(("original", "artist", "reason"), rejected))
        (work / MARKER).write_text(f"written by artsearch.dataprep.write_cleaned from {scan.source_name}\n")
        _swap_in(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return CleanedDataset(
        root=out_dir,
        images=images,
        metadata_csv=out_dir / METADATA_CSV,
        artists_json=out_dir / ARTISTS_JSON,
        rejected_csv=out_dir / REJECTED_CSV,
        rows=rows,
        artists=artists,
    )


def _swap_in(work: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by ``work`` with two renames; the old copy is deleted last."""
    old = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.old-"))
        os.rmdir(old)
        os.replace(out_dir, old)
    os.replace(work, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
