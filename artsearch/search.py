"""SearchService: the one API that app.py and the CLI call.

It turns a :class:`Query` (text, image bytes, image URL or "more like" an
indexed artwork, plus filters) into :class:`Hit` records carrying the payload,
the score, a displayable image URL from storage and the artist record. The
encoder is loaded on first use only, so "more like this" and browsing never
pay for it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from artsearch.catalog import Artist, slugify
from artsearch.config import Settings
from artsearch.encoder import Encoder, clean_text
from artsearch.errors import ArtsearchError, EmptyQuery, NotFound
from artsearch.images import load_image
from artsearch.index import Filters, VectorIndex
from artsearch.storage import Storage, open_storage

log = logging.getLogger(__name__)

MAX_K = 50
MAX_QUERY_CHARS = 2000  # far past CLIP's 77 tokens; the tokenizer truncates the rest


@dataclass
class Query:
    """What to search for. Exactly one of text, image, image_url or like_id is used, in that order of precedence
    from the most specific: like_id, image, image_url, text."""

    text: str = ""
    image: bytes | None = None
    image_url: str = ""
    like_id: str = ""
    filters: Filters = field(default_factory=Filters)
    k: int = 12
    offset: int = 0

    @property
    def mode(self) -> str:
        if self.like_id:
            return "like"
        if self.image is not None:
            return "image"
        if self.image_url.strip():
            return "url"
        return "text"


@dataclass
class Hit:
    """One result: the artwork's payload, its score and where to show its image from."""

    artwork_id: str
    score: float
    payload: dict[str, Any]
    image_url: str | None
    artist: Artist | None = None

    @property
    def title(self) -> str:
        return str(self.payload.get("title") or "Untitled")

    @property
    def artist_name(self) -> str:
        return str(self.payload.get("artist") or "")

    @property
    def year(self) -> int | None:
        return self.payload.get("year")

    def to_json(self) -> dict[str, Any]:
        genre = self.payload.get("genre") or []
        return {
            "artwork_id": self.artwork_id,
            "title": self.title,
            "artist": self.artist_name,
            "score": round(self.score, 6),
            "image": self.image_url,
            "year": self.year,
            "genre": ", ".join(genre) if isinstance(genre, list) else genre,
            "nationality": self.payload.get("nationality") or "",
            "source_url": self.payload.get("source_url") or "",
        }


class SearchService:
    """Shared by every session of the app: thread-safe, loads the model lazily and once."""

    def __init__(
        self,
        settings: Settings,
        *,
        encoder: Encoder | None = None,
        index: VectorIndex | None = None,
        storage: Storage | None = None,
    ) -> None:
        self.settings = settings
        self._encoder = encoder
        self.index = index or VectorIndex(settings)
        self.storage = storage or open_storage(settings)
        self._artists: dict[str, Artist] | None = None
        self._lock = threading.Lock()

    # Lazily loaded, shared resources -------------------------------------------------
    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            with self._lock:
                if self._encoder is None:
                    s = self.settings
                    self._encoder = Encoder(s.embedder_name, device=s.device, batch_size=s.batch_size)
        return self._encoder

    def artists(self) -> dict[str, Artist]:
        # A local copy: refresh() on another session's thread may reset the attribute between the lines.
        artists = self._artists
        if artists is None:
            artists = self._artists = self.storage.read_artists()
        return artists

    def refresh(self) -> None:
        """Forget cached artist data (after a rebuild)."""
        self._artists = None

    # Vectors -------------------------------------------------------------------------
    def text_vector(self, text: str) -> np.ndarray:
        text = clean_text(text)[:MAX_QUERY_CHARS]
        if not text:
            raise EmptyQuery("Type a few words to search for, for example 'a gloomy winter landscape'.")
        return self.encoder.encode_texts([text])[0]

    def image_vector(self, data: bytes, name: str = "the uploaded image") -> np.ndarray:
        max_bytes = self.settings.max_upload_mb * 1024 * 1024
        image = load_image(data, max_pixels=self.settings.max_image_pixels, max_bytes=max_bytes, name=name)
        return self.encoder.encode_images([image])[0]

    def url_vector(self, url: str) -> np.ndarray:
        from artsearch.fetch import fetch_image_bytes

        data = fetch_image_bytes(
            url.strip(),
            allow_private=self.settings.allow_private_urls,
            max_bytes=self.settings.max_upload_mb * 1024 * 1024,
        )
        return self.image_vector(data, name="the image at that URL")

    def stored_vector(self, artwork_id: str) -> np.ndarray:
        records = self.index.retrieve([artwork_id], with_vectors=True)
        if not records:
            raise NotFound(f"Artwork {artwork_id} is not in the collection (it may have been removed by a rebuild).")
        return np.asarray(records[0].vector, dtype=np.float32)

    def query_vector(self, query: Query) -> np.ndarray:
        """The embedding a query searches with (for modes that have one)."""
        if query.mode == "like":
            return self.stored_vector(query.like_id)
        if query.mode == "image":
            return self.image_vector(query.image or b"")
        if query.mode == "url":
            return self.url_vector(query.image_url)
        return self.text_vector(query.text)

    # Searching -------------------------------------------------------------------------
    def search(self, query: Query) -> list[Hit]:
        """Run a query; raises ArtsearchError subclasses with a message for the user."""
        k = max(1, min(int(query.k), MAX_K))
        if query.mode == "like":
            self.index.require_points()
            # Qdrant looks the stored vector up itself and leaves the seed artwork out.
            points = self.index.query(query.like_id, filters=query.filters, limit=k, offset=query.offset)
        else:
            vector = self.query_vector(query)
            self.index.require_points()
            points = self.index.query(vector, filters=query.filters, limit=k, offset=query.offset)
        return [self.to_hit(p) for p in points]

    def to_hit(self, point: Any) -> Hit:
        payload = dict(point.payload or {})
        return Hit(
            artwork_id=str(point.id),
            score=float(getattr(point, "score", 1.0) or 0.0),
            payload=payload,
            image_url=self.image_url(payload.get("image_key", "")),
            artist=self.artist(payload.get("artist_slug") or slugify(payload.get("artist", ""))),
        )

    def image_url(self, key: str) -> str | None:
        """Where to show an image from; None (a placeholder) when storage cannot provide it."""
        if not key:
            return None
        try:
            return self.storage.image_url(key)
        except ArtsearchError as exc:
            log.warning("no image for %s: %s", key, exc)
            return None

    def artist(self, slug: str) -> Artist | None:
        return self.artists().get(slug) if slug else None

    def artist_works(self, artist: str, *, exclude_id: str = "", limit: int = 8) -> list[Hit]:
        """Other works by the same artist, from the index (never a bucket listing)."""
        points = self.index.scroll(filters=Filters(artists=[artist]), limit=limit + 1)
        hits = [self.to_hit(p) for p in points if str(p.id) != exclude_id]
        return hits[:limit]

    def facets(self) -> dict[str, list[tuple[str, int]]]:
        """Filter choices: distinct artists, genres and nationalities with counts."""
        return {key: self.index.facet(key) for key in ("artist", "genre", "nationality")}

    def info(self) -> dict[str, Any]:
        info = dict(self.settings.describe())
        try:
            info["artworks"] = self.index.count()
            info["vector_size"] = self.index.vector_size()
        except ArtsearchError as exc:
            info["artworks"] = 0
            info["problem"] = str(exc)
        info["artists"] = len(self.artists()) if "problem" not in info else 0
        return info
