"""The fields people filter by, in one table, and the payload filters built from it (applied inside Qdrant).

:data:`FACETS` is the single home of a filterable field: the index creates a keyword payload
index for each (so Qdrant filters and counts them fast), the page's sidebar offers one widget
per entry, links carry them as query parameters and the CLI as flags, all by looping over this
table. Adding a field is one :class:`Facet` here (plus tests).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from qdrant_client import models


@dataclass(frozen=True)
class Facet:
    """A filterable field: where it lives in the payload and how the page, links and the CLI name it."""

    name: str  #: the key in :class:`Filters`, the link's query parameter and the CLI flag (``--artist``)
    payload_key: str  #: the payload field matched (any of the chosen values); keyword-indexed at build
    label: str  #: what the sidebar calls it
    help: str  #: the CLI flag's help
    widget: str = "multiselect"  #: how the sidebar offers it


FACETS: tuple[Facet, ...] = (
    Facet("artist", "artist", "Artist", "only this artist (repeatable)"),
    Facet("genre", "genre", "Genre", "only this genre (repeatable)"),
    Facet("nationality", "nationality", "Nationality", "only this nationality (repeatable)"),
    Facet("subject", "subjects", "Subjects", "only artworks the vocabulary describes with this term (repeatable)"),
)
FACET_NAMES: tuple[str, ...] = tuple(f.name for f in FACETS)


def facet(name: str) -> Facet:
    """The facet called ``name``; KeyError for a name the table does not hold."""
    for f in FACETS:
        if f.name == name:
            return f
    raise KeyError(f"no facet {name!r}; the facets are {', '.join(FACET_NAMES)}")


class Filters(Mapping[str, tuple[str, ...]]):
    """Chosen values per facet (``Filters(artist=["Claude Monet"])``): a result matches any value of each facet
    and every facet given. Blank values are dropped, so an empty shell variable filters nothing out."""

    def __init__(self, values: Mapping[str, Sequence[str]] | None = None, **by_name: Sequence[str]) -> None:
        merged = {**(values or {}), **by_name}
        unknown = [name for name in merged if name not in FACET_NAMES]
        if unknown:
            raise KeyError(f"no facet {unknown[0]!r}; the facets are {', '.join(FACET_NAMES)}")
        self._values = {
            name: chosen
            for name in FACET_NAMES
            if (chosen := tuple(dict.fromkeys(v for v in merged.get(name, ()) if str(v).strip())))
        }

    def __getitem__(self, name: str) -> tuple[str, ...]:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Filters({self._values!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Filters) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def values_of(self, name: str) -> list[str]:
        """The chosen values of one facet ([] when none)."""
        return list(self._values.get(name, ()))

    def to_qdrant(self, exclude_ids: Sequence[str] = ()) -> models.Filter | None:
        """The Qdrant filter: every facet's values (any of them), and none of ``exclude_ids``."""
        must: list[models.Condition] = [
            models.FieldCondition(key=facet(name).payload_key, match=models.MatchAny(any=list(chosen)))
            for name, chosen in self._values.items()
        ]
        must_not: list[models.Condition] = [models.HasIdCondition(has_id=list(exclude_ids))] if exclude_ids else []
        if not must and not must_not:
            return None
        return models.Filter(must=must or None, must_not=must_not or None)
