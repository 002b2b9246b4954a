"""Images, artists.json and map projections under a local folder (``data/`` by default)."""

from __future__ import annotations

from pathlib import Path

from artsearch.catalog import Artist
from artsearch.errors import NotFound
from artsearch.files import MIN_FREE_BYTES, atomic_write, require_free_space
from artsearch.storage.base import (
    ARTISTS_KEY,
    MAP_PREFIX,
    artists_from_json,
    artists_to_json,
    check_key,
    map_collection,
    map_key,
)


class LocalStorage:
    """Images and artists.json under a folder (``data/`` by default)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def has_image(self, key: str) -> bool:
        return self.path(key).is_file()

    def put_image(self, key: str, data: bytes) -> None:
        # Images stop short of a full disk, so an index on the same disk keeps the room it needs (files.py).
        require_free_space(self.root, len(data) + MIN_FREE_BYTES)
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

    def write_map(self, collection: str, data: bytes) -> None:
        atomic_write(self.path(map_key(collection)), data)

    def read_map(self, collection: str) -> bytes:
        return self.read_image(map_key(collection))

    def map_collections(self) -> list[str]:
        folder = self.root / MAP_PREFIX
        found = (map_collection(f"{MAP_PREFIX}{p.name}") for p in folder.glob("*.json")) if folder.is_dir() else ()
        return sorted(c for c in found if c)

    def delete_map(self, collection: str) -> None:
        self.path(map_key(collection)).unlink(missing_ok=True)
