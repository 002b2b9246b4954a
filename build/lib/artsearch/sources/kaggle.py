"""Kaggle "Best Artworks of All Time" (ikarus777/best-artworks-of-all-time).

Layout once unzipped under ``data/kaggle/``::

    artists.csv                       id,name,years,genre,nationality,bio,wikipedia,paintings
    images/images/<Artist_Name>/<Artist_Name>_<n>.jpg

Cleaning: folder and file names are repaired when their UTF-8 was mis-read
(the archive ships ``Albrecht_Du╠êrer``), every image is matched to its
``artists.csv`` row by a normalised name key, and an image whose artist has
no row keeps the folder's name with empty details instead of failing.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import re
from pathlib import Path

from artsearch.catalog import Artist, Artwork, slugify
from artsearch.config import Settings
from artsearch.errors import MissingCredentials, SourceError
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


def find_images_dir(root: Path) -> Path | None:
    """The folder holding one sub-folder per artist: ``images/images`` in the archive, given the archive's
    root, its ``images`` folder or that folder itself."""
    for candidate in (root / "images" / "images", root / "images", root):
        if candidate.is_dir() and any(p.is_dir() and p.name != "images" for p in candidate.iterdir()):
            return candidate
    return None


def find_artists_csv(root: Path, images: Path) -> Path:
    """``artists.csv`` beside the images: at the archive's root, which may be above the folder given."""
    for folder in (root, images.parent.parent, images.parent, images):
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
    ) -> None:
        root = Path(root)
        images = find_images_dir(root)
        if images is None:
            raise SourceError(f"No Kaggle images under {root}; expected images/images/<Artist_Name>/*.jpg.")
        csv_path = Path(artists_csv) if artists_csv else find_artists_csv(root, images)
        self.csv_artists = read_artists_csv(csv_path) if csv_path.is_file() else {}
        if not self.csv_artists:
            log.warning("no artists.csv at %s: artists get names only", csv_path)
        self.unmatched: set[str] = set()
        super().__init__(images, per_artist=per_artist, key_prefix="images/kaggle", storage_root=storage_root)

    def artwork_for(self, path: Path) -> Artwork:
        artwork = super().artwork_for(path)
        record = self.csv_artists.get(name_key(artwork.artist))
        if record is None:
            self.unmatched.add(artwork.artist)
            return artwork
        artwork.artist = record.name
        artwork.genre = record.genre
        artwork.nationality = record.nationality
        return artwork

    def note_artist(self, artwork: Artwork) -> None:
        record = self.csv_artists.get(name_key(artwork.artist))
        slug = slugify(artwork.artist)
        if slug not in self._artists:
            self._artists[slug] = record if record is not None else Artist(name=artwork.artist)
