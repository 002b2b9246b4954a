"""Artwork and Artist records, the point-id scheme, and artists.json.

An :class:`Artwork` becomes one Qdrant point: ``artwork_id`` is a UUIDv5 of
``(source, source_id)`` so re-running an ingest updates instead of
duplicating. Artists are kept in ``artists.json`` keyed by slug; the payload
only carries the artist's name and slug.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from artsearch import periods

# Fixed namespace so ids are stable across machines and versions.
ARTWORK_NAMESPACE = uuid.UUID("6f1f3a5e-3c2b-5a0e-9d55-a27e0c1c4b7a")

UNKNOWN_ARTIST = "Unknown artist"


def artwork_id(source: str, source_id: str) -> str:
    """The Qdrant point id of an artwork: UUIDv5 of ``source:source_id``."""
    return str(uuid.uuid5(ARTWORK_NAMESPACE, f"{source}:{source_id}"))


def slugify(name: str) -> str:
    """ASCII, lowercase, hyphen-separated: 'Albrecht Dürer' -> 'albrecht-durer'."""
    text = unicodedata.normalize("NFKD", name)
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text or "unknown"


@dataclass
class Artist:
    """What the artist panel shows. Empty strings for what is not known."""

    name: str
    slug: str = ""
    years: str = ""
    birth_year: int | None = None
    death_year: int | None = None
    nationality: str = ""
    genre: str = ""
    bio: str = ""
    wikipedia: str = ""

    def __post_init__(self) -> None:
        if not self.slug:
            self.slug = slugify(self.name)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Artist:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def merged_with(self, other: Artist) -> Artist:
        """Fill this record's empty fields from ``other`` (same artist, another source)."""
        values = self.to_json()
        for key, value in other.to_json().items():
            if values.get(key) in ("", None) and value not in ("", None):
                values[key] = value
        return Artist.from_json(values)


@dataclass
class Artwork:
    """One image in the collection, as stored in the point payload."""

    source: str
    source_id: str
    title: str
    artist: str = UNKNOWN_ARTIST
    genre: str = ""
    nationality: str = ""
    year: int | None = None
    image_key: str = ""
    source_url: str = ""
    width: int | None = None
    height: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: The years the work was made in, when the source gives them as numbers (else read from ``extra["date"]``
    #: or ``year``: :func:`artsearch.periods.from_fields`); ``period_basis`` "artist" marks an undated work's
    #: span taken from its artist's life dates.
    earliest: int | None = None
    latest: int | None = None
    period_basis: str = "work"

    @property
    def artwork_id(self) -> str:
        return artwork_id(self.source, self.source_id)

    @property
    def artist_slug(self) -> str:
        return slugify(self.artist)

    def payload(self) -> dict[str, Any]:
        """The Qdrant payload; ``extra`` keys (date, technique...) are kept flat."""
        data = {
            "artwork_id": self.artwork_id,
            "title": self.title,
            "artist": self.artist,
            "artist_slug": self.artist_slug,
            "genre": split_genres(self.genre),
            "nationality": self.nationality,
            "year": self.year,
            "image_key": self.image_key,
            "source": self.source,
            "source_id": self.source_id,
            "source_url": self.source_url,
            "width": self.width,
            "height": self.height,
            NAME_TEXT_FIELD: f"{self.title} {self.artist}",
        }
        period = periods.from_fields(self.earliest, self.latest, self.extra.get("date"), self.year)
        data.update(periods.payload_fields(period, self.period_basis))
        for key, value in self.extra.items():
            data.setdefault(key, value)
        return data


def split_genres(genre: str) -> list[str]:
    """'Expressionism,Abstract Expressionism' -> both, so a keyword filter matches either."""
    return [g.strip() for g in genre.split(",") if g.strip()]


#: Title and artist as one text field with a full-text index, so a query that names them can match words.
NAME_TEXT_FIELD = "name_text"

#: Keyword payload indexes besides the facets' (artsearch.index.filters.FACETS): fields looked up, not offered.
LOOKUP_FIELDS = ("artist_slug", "source")

#: The collection metadata key holding the image model a build was made with (artsearch.model.choice.IndexModel).
MODEL_METADATA = "artsearch_model"
