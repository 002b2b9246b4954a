"""Where artworks come from: a folder, the Kaggle archive, or a museum's open-access API.

* :mod:`~artsearch.sources.base`: the :class:`Source` protocol and :class:`SourceItem`;
* :mod:`~artsearch.sources.folder`, :mod:`~artsearch.sources.kaggle`, :mod:`~artsearch.sources.museum`;
* :func:`open_source` here: the one place a source is chosen and opened, for the rebuild and the
  data-preparation notebook alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from artsearch.config import SOURCES, Settings, check_choice
from artsearch.errors import SourceError
from artsearch.sources.base import Source, SourceItem
from artsearch.sources.folder import FolderSource
from artsearch.sources.kaggle import (
    KaggleSource,
    download_dataset,
    find_archive,
    find_images_dir,
    kaggle_credentials,
)
from artsearch.sources.museum import MuseumSource
from artsearch.storage.base import Storage
from artsearch.storage.local import LocalStorage

__all__ = ["Source", "SourceItem", "SourceOptions", "choose_source", "open_source"]

log = logging.getLogger(__name__)


@dataclass
class SourceOptions:
    """Command-line choices about what to ingest."""

    source: str | None = None
    images_dir: Path | None = None
    artists_csv: Path | None = None
    per_artist: int | None = None
    artwork_type: str | None = "Painting"
    department: str | None = None
    query: str | None = None
    limit: int | None = None
    download: bool = True  # Kaggle: download the archive when it is not there yet


def choose_source(settings: Settings, options: SourceOptions) -> str:
    """The source to use; 'auto' prefers a folder (the Kaggle archive when the folder is one), then Kaggle, then
    the keyless museum API."""
    kind = check_choice(options.source or settings.source, SOURCES, "the source (--source, ARTSEARCH_SOURCE)")
    images_dir = options.images_dir or settings.images_dir
    if kind == "folder" and images_dir and find_archive(Path(images_dir)) is not None:
        log.warning(
            "%s is the Kaggle archive; with --source folder its 'images' and 'resized' folders become two artists. "
            "Leave out --source (or pass --source kaggle) to read it as the archive.",
            images_dir,
        )
    if kind != "auto":
        return kind
    if images_dir:
        return "kaggle" if find_archive(Path(images_dir)) is not None else "folder"
    if kaggle_credentials(settings) or find_images_dir(Path(settings.data_dir) / "kaggle"):
        return "kaggle"
    log.warning(
        "No Kaggle credentials configured: building from the Cleveland Museum of Art open-access API instead "
        "(--source museum); set KAGGLE_USERNAME and KAGGLE_KEY to use the Kaggle dataset."
    )
    return "museum"


def open_source(options: SourceOptions, settings: Settings | None = None, storage: Storage | None = None) -> Source:
    """The source ``options`` ask for (with ``settings`` for what they leave out): what the rebuild and the
    data-preparation notebook both read. ``storage`` keeps the museum's downloads (and lets a folder that
    already lies inside local storage be indexed in place)."""
    settings = settings or Settings()
    storage = storage if storage is not None else LocalStorage(settings.data_dir)
    kind = choose_source(settings, options)
    storage_root = storage.root if isinstance(storage, LocalStorage) else None
    # artsearch's own folders are never read for images, even inside --images-dir (e.g. --images-dir .).
    own_folders = [Path(settings.data_dir), Path(settings.qdrant_path)]
    if kind == "folder":
        images_dir = options.images_dir or settings.images_dir
        if images_dir is None:
            raise SourceError(
                "--source folder needs --images-dir (or ARTSEARCH_IMAGES_DIR) pointing at a folder of images."
            )
        return FolderSource(
            Path(images_dir),
            metadata_csv=options.artists_csv or settings.artists_csv,
            per_artist=options.per_artist,
            storage_root=storage_root,
            own_folders=own_folders,
        )
    if kind == "kaggle":
        # An existing download (the archive as unzipped, its images folder, or the folder holding it), else
        # Kaggle's, fetched once.
        given = options.images_dir or settings.images_dir
        root = Path(given) if given else Path(settings.data_dir) / "kaggle"
        if given is None and options.download:
            download_dataset(settings, root)
        return KaggleSource(
            root,
            artists_csv=options.artists_csv or settings.artists_csv,
            per_artist=options.per_artist,
            storage_root=storage_root,
            own_folders=own_folders,
        )
    return MuseumSource(
        settings.museum_api_url,
        storage=storage,
        artwork_type=options.artwork_type,
        department=options.department,
        query=options.query,
        limit=options.limit,
    )
