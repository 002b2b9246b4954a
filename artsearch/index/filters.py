"""The fields people filter by, in one table, and the payload filters built from it (applied inside Qdrant).

:data:`FACETS` is the single home of a filterable field: the index creates a payload index for each
(keyword, or integer for a range), the page's sidebar offers one widget per entry, links carry them as
query parameters and the CLI as flags, all by looping over this table. Adding a field is one
:class:`Facet` here (plus tests).

Two kinds: a ``keyword`` facet matches any of the chosen values (``--artist Monet --artist Manet``); a
``range`` facet keeps works whose span (``payload_key`` .. ``upper_key``) overlaps the chosen one, either end
open (``--from 1850 --to 1900``: made at some time between 1850 and 1900). A work without the field never
matches a range. A ``colour`` facet keeps works that have each chosen colour (at most two, as ``#rrggbb``; the
rule and its keys are :mod:`artsearch.colour`'s).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from qdrant_client import models

from artsearch import colour


@dataclass(frozen=True)
class Facet:
    """A filterable field: where it lives in the payload and how the page, links and the CLI name it."""

    name: str  #: the key in :class:`Filters`, the link's query parameter and the CLI flag (``--artist``)
    payload_key: str  #: the payload field matched (any of the chosen values); keyword-indexed at build
    label: str  #: what the sidebar calls it
    help: str  #: the CLI flag's help
    widget: str = "multiselect"  #: how the sidebar offers it
    kind: str = "keyword"  #: "keyword" (any of the values), "range" (a span that overlaps the chosen one) or "colour"
    upper_key: str = ""  #: a range: the payload field of the span's upper end (``payload_key`` is the lower)
    bounds: tuple[str, str] = ("", "")  #: a range: the CLI flags and link parameters of its two ends

    @property
    def index_keys(self) -> tuple[str, ...]:
        """The payload fields this facet needs an index on."""
        return (self.payload_key, self.upper_key) if self.kind == "range" else (self.payload_key,)


FACETS: tuple[Facet, ...] = (
    Facet("artist", "artist", "Artist", "only this artist (repeatable)"),
    Facet("genre", "genre", "Genre", "only this genre (repeatable)"),
    Facet("nationality", "nationality", "Nationality", "only this nationality (repeatable)"),
    Facet("subject", "subjects", "Subjects", "only artworks the vocabulary describes with this term (repeatable)"),
    Facet(
        "colour",
        colour.PAYLOAD_KEY,
        "Colour",
        "only works with a lot of this colour, e.g. '#1f3a93' (at most two: works with both)",
        widget="color_picker",
        kind="colour",
    ),
    Facet(
        "period",
        "year_earliest",
        "Period",
        "only works made at some time in this span of years",
        widget="slider",
        kind="range",
        upper_key="year_latest",
        bounds=("from", "to"),
    ),
)
FACET_NAMES: tuple[str, ...] = tuple(f.name for f in FACETS)
KEYWORD_FACETS: tuple[Facet, ...] = tuple(f for f in FACETS if f.kind == "keyword")
COLOUR_FACETS: tuple[Facet, ...] = tuple(f for f in FACETS if f.kind == "colour")
RANGE_FACETS: tuple[Facet, ...] = tuple(f for f in FACETS if f.kind == "range")


def whole_number(value: object) -> int | None:
    """A range end from a flag, a link or a widget: a whole number (a year may be negative), or None."""
    text = str(value).strip() if value is not None else ""
    try:
        return int(text) if text else None
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return None
        return int(number) if number.is_integer() else None


def colour_values(values: Sequence[object]) -> tuple[str, ...]:
    """A colour facet's chosen colours: valid ``#rrggbb`` ones, once each, at most :data:`colour.MAX_COLOURS`."""
    parsed = (colour.parse_hex(str(v)) for v in values)
    return tuple(dict.fromkeys(c for c in parsed if c))[: colour.MAX_COLOURS]


def range_values(values: Sequence[object]) -> tuple[str, ...]:
    """A range facet's chosen ends as Filters keeps them: ``(lower, upper)``, "" for an open end, lower <= upper;
    ``()`` when both are open or unreadable."""
    ends = [whole_number(v) for v in list(values)[:2]] + [None, None]
    lo, hi = ends[0], ends[1]
    if lo is None and hi is None:
        return ()
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return ("" if lo is None else str(lo), "" if hi is None else str(hi))


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
            f.name: chosen
            for f in FACETS
            if (
                chosen := range_values(merged.get(f.name, ()))
                if f.kind == "range"
                else colour_values(merged.get(f.name, ()))
                if f.kind == "colour"
                else tuple(dict.fromkeys(v for v in merged.get(f.name, ()) if str(v).strip()))
            )
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

    def colours(self) -> list[str]:
        """Every colour chosen (of the colour facets), as ``#rrggbb``."""
        return [c for f in COLOUR_FACETS for c in self._values.get(f.name, ())]

    def span(self, name: str) -> tuple[int | None, int | None]:
        """A range facet's chosen ends, None where open."""
        lo, hi = self._values.get(name, ("", ""))
        return whole_number(lo), whole_number(hi)

    def to_qdrant(self, exclude_ids: Sequence[str] = ()) -> models.Filter | None:
        """The Qdrant filter: every keyword facet's values (any of them), every range facet's span (overlapping
        it), and none of ``exclude_ids``."""
        must: list[models.Condition] = []
        for name, chosen in self._values.items():
            f = facet(name)
            if f.kind == "range":
                lo, hi = self.span(name)
                if lo is not None:  # the work ends at or after the span's start
                    must.append(models.FieldCondition(key=f.upper_key, range=models.Range(gte=lo)))
                if hi is not None:  # and starts at or before its end
                    must.append(models.FieldCondition(key=f.payload_key, range=models.Range(lte=hi)))
            elif f.kind == "colour":  # each colour: any Lab cube near it, at the lowest share tier
                for hex_colour in chosen:
                    keys = colour.query_keys(hex_colour)
                    must.append(models.FieldCondition(key=f.payload_key, match=models.MatchAny(any=keys)))
            else:
                must.append(models.FieldCondition(key=f.payload_key, match=models.MatchAny(any=list(chosen))))
        must_not: list[models.Condition] = [models.HasIdCondition(has_id=list(exclude_ids))] if exclude_ids else []
        if not must and not must_not:
            return None
        return models.Filter(must=must or None, must_not=must_not or None)
