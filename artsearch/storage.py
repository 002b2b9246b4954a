"""Where images and ``artists.json`` live: a local folder or a GCS bucket.

The app and the ingest only see the :class:`Storage` protocol, so switching
``[Storage] BACKEND`` between ``local`` and ``gcs`` changes nothing else.
Image keys are relative, slash-separated paths such as
``kaggle/images/Edgar_Degas/Edgar_Degas_1.jpg``.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, runtime_checkable

from artsearch.catalog import Artist
from artsearch.config import Settings
from artsearch.errors import NotFound, StorageError
from artsearch.files import atomic_write

ARTISTS_KEY = "artists.json"


@runtime_checkable
class Storage(Protocol):
    """Images and artist data, wherever they are kept."""

    def has_image(self, key: str) -> bool: ...

    def put_image(self, key: str, data: bytes) -> None: ...

    def read_image(self, key: str) -> bytes: ...

    def image_url(self, key: str) -> str:
        """Something ``st.image`` and a browser can show: a file path or a signed URL."""
        ...

    def read_artists(self) -> dict[str, Artist]: ...

    def write_artists(self, artists: dict[str, Artist]) -> None: ...


def check_key(key: str) -> str:
    """Refuse keys that would escape the storage root."""
    path = PurePosixPath(key)
    if not key or path.is_absolute() or ".." in path.parts or "\\" in key:
        raise StorageError(f"Refusing image key {key!r}: keys are relative paths inside storage.")
    return key


def artists_to_json(artists: dict[str, Artist]) -> bytes:
    data = {slug: artist.to_json() for slug, artist in sorted(artists.items())}
    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")


def artists_from_json(raw: bytes, where: str) -> dict[str, Artist]:
    try:
        data = json.loads(raw.decode("utf-8"))
        return {slug: Artist.from_json(rec) for slug, rec in data.items()}
    except (ValueError, AttributeError, TypeError) as exc:
        raise StorageError(
            f"{where} is not valid artists JSON ({exc}); rebuild it with python qdrant/initialize_db.py."
        ) from None


class LocalStorage:
    """Images and artists.json under a folder (``data/`` by default)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def has_image(self, key: str) -> bool:
        return self.path(key).is_file()

    def put_image(self, key: str, data: bytes) -> None:
        atomic_write(self.path(key), data)

    def read_image(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"Image {key} is missing from {self.root}; re-run python qdrant/initialize_db.py.") from None

    def image_url(self, key: str) -> str:
        path = self.path(key)
        if not path.is_file():
            raise NotFound(f"Image {key} is missing from {self.root}; re-run python qdrant/initialize_db.py.")
        return str(path)

    def read_artists(self) -> dict[str, Artist]:
        path = self.root / ARTISTS_KEY
        if not path.is_file():
            return {}
        return artists_from_json(path.read_bytes(), str(path))

    def write_artists(self, artists: dict[str, Artist]) -> None:
        atomic_write(self.root / ARTISTS_KEY, artists_to_json(artists))


def open_storage(settings: Settings) -> Storage:
    """The storage backend the settings name."""
    if settings.storage_backend == "gcs":
        from artsearch.gcs_storage import GCSStorage

        return GCSStorage.from_settings(settings)
    return LocalStorage(settings.data_dir)


def describe_storage(storage: Any) -> str:
    return getattr(storage, "description", None) or str(getattr(storage, "root", storage))
