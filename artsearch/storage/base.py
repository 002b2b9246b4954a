"""What every storage backend implements, and what they share: the key rules and the artists.json format.

Image keys are relative, slash-separated paths such as
``kaggle/images/Edgar_Degas/Edgar_Degas_1.jpg``; a build's map projection lives under
``maps/<collection>.json``.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Protocol, runtime_checkable

from artsearch.catalog import Artist
from artsearch.errors import StorageError

ARTISTS_KEY = "artists.json"
MAP_PREFIX = "maps/"


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

    def write_map(self, collection: str, data: bytes) -> None:
        """Keep a build's fitted map projection (JSON) under :func:`map_key`."""
        ...

    def read_map(self, collection: str) -> bytes:
        """A build's map projection; NotFound when the build has none."""
        ...

    def map_collections(self) -> list[str]:
        """The collections that have a map kept in storage."""
        ...

    def delete_map(self, collection: str) -> None:
        """Remove a build's map (nothing happens when it has none): maps are pruned with their builds."""
        ...


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


def map_key(collection: str) -> str:
    """Where a build's fitted map projection is kept in storage."""
    return f"{MAP_PREFIX}{collection}.json"


def map_collection(key: str) -> str | None:
    """The collection a storage key holds the map of (the inverse of :func:`map_key`), or None."""
    if not key.startswith(MAP_PREFIX) or not key.endswith(".json") or "/" in key[len(MAP_PREFIX) :]:
        return None
    return key[len(MAP_PREFIX) : -len(".json")] or None
