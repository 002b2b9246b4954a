"""Kaggle "Best Artworks of All Time" (ikarus777/best-artworks-of-all-time).

Layout once unzipped (under ``data/kaggle/`` when artsearch downloads it, or wherever a user unzipped the
archive they downloaded from the website)::

    artists.csv                       id,name,years,genre,nationality,bio,wikipedia,paintings
    images/images/<Artist_Name>/<Artist_Name>_<n>.jpg
    resized/resized/<Artist_Name>_<n>.jpg    smaller copies of the same pictures, flat: never read

``--images-dir`` may name the archive's folder, its ``images`` or ``images/images`` folder, or the folder
holding the archive's folder (a Downloads folder): :func:`find_archive` finds the images and the
``artists.csv`` beside them from any of these. ``resized/`` is ignored rather than used to embed faster:
decoding is a small part of an image's ingest cost (JPEG draft decoding already reads the originals at
1/2 to 1/8 scale), and the originals are the pictures shown.

Cleaning: folder and file names are repaired when their UTF-8 was mis-read
(the archive ships ``Albrecht_Du╠êrer``; some copies also hold a correctly named
``Albrecht_Dürer`` folder with the same pictures, which are read once), every
image is matched to its ``artists.csv`` row by a normalised name key, and an
image whose artist has no row keeps the folder's name with empty details
instead of failing.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from artsearch import periods
from artsearch.catalog import Artist, Artwork, slugify
from artsearch.config import Settings
from artsearch.errors import MissingCredentials, SourceError
from artsearch.sources.base import SourceItem
from artsearch.sources.folder import FolderSource
from artsearch.text import name_key, repair_mojibake

log = logging.getLogger(__name__)

DATASET = "ikarus777/best-artworks-of-all-time"


def kaggle_credentials(settings: Settings) -> tuple[str, str] | None:
    """(username, key) from settings, the environment or ~/.kaggle/kaggle.json; None if absent.

    A new-style API token (``KAGGLE_API_TOKEN`` or ``~/.kaggle/access_token``) counts too;
    it comes back as ``("", token)`` and the kaggle client reads it itself.
    """
    if settings.kaggle_username and settings.kaggle_key:
        return settings.kaggle_username, settings.kaggle_key
    config_dir = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle"))
    token = os.environ.get("KAGGLE_API_TOKEN") or _read_text(config_dir / "access_token")
    if token:
        return "", token
    config = config_dir / "kaggle.json"
    if config.is_file():
        import json

        try:
            data = json.loads(config.read_text())
            return str(data["username"]), str(data["key"])
        except (ValueError, KeyError, OSError):
            raise MissingCredentials(
                f"{config} is not a valid kaggle.json; download a new one from kaggle.com/settings."
            ) from None
    return None


def _read_text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


MISSING_CREDENTIALS = (
    "Kaggle credentials are missing: set KAGGLE_USERNAME and KAGGLE_KEY (environment or [Kaggle] in "
    ".streamlit/secrets.toml; create a token at kaggle.com/settings), or use --source museum, which needs no account."
)


def download_dataset(settings: Settings, target: Path) -> Path:
    """Download and unzip the dataset into ``target`` (skipped when already there)."""
    if find_images_dir(target) is not None and (target / "artists.csv").is_file():
        return target
    creds = kaggle_credentials(settings)
    if creds is None:
        raise MissingCredentials(MISSING_CREDENTIALS)
    if creds[0]:
        os.environ["KAGGLE_USERNAME"], os.environ["KAGGLE_KEY"] = creds
    try:
        # Importing kaggle authenticates and prints help to stdout; failing, authenticate() calls exit().
        with contextlib.redirect_stdout(io.StringIO()):
            from kaggle.api.kaggle_api_extended import KaggleApi

            api = KaggleApi()
            api.authenticate()
        target.mkdir(parents=True, exist_ok=True)
        log.warning("downloading %s into %s (about 2.3 GB, once)", DATASET, target)
        api.dataset_download_files(DATASET, path=str(target), unzip=True, quiet=False)
    except SystemExit:
        raise MissingCredentials(MISSING_CREDENTIALS) from None
    except Exception as exc:  # the kaggle client raises bare Exceptions and HTTP errors alike
        message = str(exc).replace(creds[1], "***")[:200]
        raise SourceError(
            f"Downloading {DATASET} from Kaggle failed ({message}); check the credentials and network."
        ) from None
    return target


def _artist_folders(folder: Path) -> bool:
    """A folder of artist folders: at least one sub-folder (not named ``images``) holding a file."""
    try:
        return any(
            sub.is_dir()
            and sub.name != "images"
            and not sub.name.startswith(".")
            and any(p.is_file() for p in sub.iterdir())
            for sub in folder.iterdir()
        )
    except OSError:
        return False


@dataclass(frozen=True)
class KaggleArchive:
    """Where the parts of an unzipped archive are: its folder and the folder of artist folders."""

    root: Path
    images: Path

    @property
    def artists_csv(self) -> Path:
        return self.root / "artists.csv"


def find_archive(given: Path) -> KaggleArchive | None:
    """The archive behind ``given``: its own folder, its ``images`` or ``images/images`` folder, or the folder
    holding the archive's folder. None when ``given`` does not look like the Kaggle archive at all."""
    given = Path(given)
    if _artist_folders(given / "images" / "images"):
        return KaggleArchive(given, given / "images" / "images")
    if given.name == "images" and _artist_folders(given / "images"):
        return KaggleArchive(given.parent, given / "images")
    if given.name == "images" and given.parent.name == "images" and _artist_folders(given):
        return KaggleArchive(given.parent.parent, given)
    try:
        children = sorted(p for p in given.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return None
    found = [KaggleArchive(c, c / "images" / "images") for c in children if _artist_folders(c / "images" / "images")]
    if len(found) > 1:
        names = ", ".join(a.root.name for a in found)
        raise SourceError(f"{given} holds {len(found)} copies of the Kaggle archive ({names}); pass one of them.")
    return found[0] if found else None


def find_images_dir(root: Path) -> Path | None:
    """The folder holding one sub-folder per artist, given any form :func:`find_archive` accepts, or a folder
    that is itself a folder of artist folders (a cleaned copy)."""
    archive = find_archive(root)
    if archive is not None:
        return archive.images
    return Path(root) if _artist_folders(Path(root)) else None


def find_artists_csv(root: Path, images: Path) -> Path:
    """``artists.csv`` beside the images: at the archive's root, which may be above the folder given."""
    archive = find_archive(root)
    for folder in ([archive.root] if archive else []) + [root, images.parent.parent, images.parent, images]:
        if (folder / "artists.csv").is_file():
            return folder / "artists.csv"
    return root / "artists.csv"


def read_artists_csv(path: Path) -> dict[str, Artist]:
    """artists.csv rows as Artist records keyed by name key."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(f"Cannot read {path} ({exc}); re-download the dataset.") from None
    artists = {}
    for row in rows:
        name = repair_mojibake((row.get("name") or "").strip())
        if not name:
            continue
        years = (row.get("years") or "").strip()
        found = [int(y) for y in re.findall(r"\d{3,4}", years)]
        artists[name_key(name)] = Artist(
            name=name,
            years=years.replace(" - ", "–"),
            birth_year=found[0] if found else None,
            death_year=found[1] if len(found) > 1 else None,
            nationality=(row.get("nationality") or "").strip(),
            genre=(row.get("genre") or "").strip(),
            bio=(row.get("bio") or "").strip(),
            wikipedia=(row.get("wikipedia") or "").strip(),
        )
    return artists


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


class KaggleSource(FolderSource):
    """The Kaggle dataset as a folder source with artists.csv matched in."""

    name = "kaggle"

    def __init__(
        self,
        root: Path,
        *,
        artists_csv: Path | None = None,
        per_artist: int | None = None,
        storage_root: Path | None = None,
        own_folders: Iterable[Path] = (),
    ) -> None:
        root = Path(root)
        images = find_images_dir(root)
        if images is None:
            raise SourceError(
                f"No Kaggle images under {root}: pass the unzipped archive's folder (artists.csv, "
                "images/images/<Artist_Name>/*.jpg), its images folder, or the folder holding it."
            )
        csv_path = Path(artists_csv) if artists_csv else find_artists_csv(root, images)
        self.csv_artists = read_artists_csv(csv_path) if csv_path.is_file() else {}
        if not self.csv_artists:
            log.warning("no artists.csv at %s: artists get names only", csv_path)
        self.unmatched: set[str] = set()
        self._copies: list[str] = []
        super().__init__(
            images,
            per_artist=per_artist,
            key_prefix="images/kaggle",
            storage_root=storage_root,
            own_folders=own_folders,
        )
        self.own_files.add(csv_path.resolve())

    def items(self) -> Iterator[SourceItem]:
        """The folder source's items, with a picture that lies in two folders whose names differ only by their
        encoding (``Albrecht_Du╠êrer`` and ``Albrecht_Dürer``) read once."""
        first: dict[str, tuple[str, str]] = {}  # repaired path -> (origin, content digest)
        self._copies = []
        for item in super().items():
            key = item.artwork.source_id
            if key not in first:
                first[key] = (item.origin, "")
                yield item
                continue
            origin, digest = first[key]
            digest = digest or _digest(Path(origin))
            first[key] = (origin, digest)
            if _digest(Path(item.origin)) == digest:
                self._copies.append(item.origin)
                continue
            # Another picture under the same repaired name: kept, under the name as it is on disk.
            item.artwork.source_id = Path(item.origin).relative_to(self.root).as_posix()
            yield item

    def skipped(self) -> list[tuple[str, str]]:
        if not self._copies:
            return super().skipped()
        folders = sorted({str(Path(c).parent) for c in self._copies})
        return super().skipped() + [
            (
                ", ".join(folders),
                f"{len(self._copies)} files are copies of pictures already read from a folder whose name differs only by "
                "its encoding; each picture is indexed once",
            )
        ]

    def artwork_for(self, path: Path) -> Artwork:
        artwork = super().artwork_for(path)
        record = self.csv_artists.get(name_key(artwork.artist))
        if record is None:
            self.unmatched.add(artwork.artist)
            return artwork
        artwork.artist = record.name
        artwork.genre = record.genre
        artwork.nationality = record.nationality
        # Kaggle dates no artwork: the span it was made in is its artist's life, and the payload says so.
        span = periods.artist_period(record.birth_year, record.death_year)
        if span is not None:
            artwork.earliest, artwork.latest, artwork.period_basis = span.earliest, span.latest, "artist"
        return artwork

    def note_artist(self, artwork: Artwork) -> None:
        record = self.csv_artists.get(name_key(artwork.artist))
        slug = slugify(artwork.artist)
        if slug not in self._artists:
            self._artists[slug] = record if record is not None else Artist(name=artwork.artist)
