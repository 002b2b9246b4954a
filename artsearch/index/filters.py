"""Payload filters applied inside Qdrant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from qdrant_client import models


@dataclass
class Filters:
    """Payload filters applied inside Qdrant (any of the values, per field)."""

    artists: list[str] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    nationalities: list[str] = field(default_factory=list)

    def to_qdrant(self, exclude_ids: Sequence[str] = ()) -> models.Filter | None:
        must: list[models.Condition] = []
        for key, values in (("artist", self.artists), ("genre", self.genres), ("nationality", self.nationalities)):
            if values:
                must.append(models.FieldCondition(key=key, match=models.MatchAny(any=list(values))))
        must_not: list[models.Condition] = [models.HasIdCondition(has_id=list(exclude_ids))] if exclude_ids else []
        if not must and not must_not:
            return None
        return models.Filter(must=must or None, must_not=must_not or None)

    def __bool__(self) -> bool:
        return bool(self.artists or self.genres or self.nationalities)
