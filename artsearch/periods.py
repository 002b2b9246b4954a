"""Dates as the sources write them ("c. 1765", "1884 - 1920", "mid 16th century") as the earliest and latest year.

The text is kept for display; the two years go into the payload (``year_earliest``, ``year_latest``) with an
integer range index, so a period filter runs inside Qdrant. A work matches a chosen span when its own span
overlaps it. What each form means, in years (all inclusive):

===========================  =========================================
"1889"                        1889-1889
"c. 1765", "ca. 1765"         1760-1770 (circa: five years either side)
"1884 - 1920", "1500–10"      1884-1920, 1500-1510
"ca. 1500–1510"               1500-1510 (circa on a span keeps the span)
"1884/85", "1884 or 1885"     1884-1885
"1630s"                       1630-1639; "1600s": 1600-1699 (a century)
"16th century"                1500-1599; "16th-17th century": 1500-1699
"early / mid / late 16th c."  1500-1535 / 1530-1570 / 1565-1599
"first / second half of..."   1500-1550 / 1550-1599
"before 1500", "after 1500"   1450-1500, 1500-1550 (half a century)
"500 BC", "3rd century BCE"   negative years: -500, -300..-201
===========================  =========================================

Anything else (no year in it, "undated") has no period. Kaggle's artworks are undated: their only dates are
the artist's life ("1840 - 1926"), which :func:`artist_period` stores as the span the work was made in,
labelled ``period_basis: "artist"`` so the page says it is the artist's lifetime, not the work's date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CIRCA_YEARS = 5
OPEN_YEARS = 50  #: how far "before 1500" and "after 1500" reach
#: The payload fields: the earliest and latest year (integer range indexes) and where they come from.
EARLIEST, LATEST, BASIS = "year_earliest", "year_latest", "period_basis"


@dataclass(frozen=True)
class Period:
    earliest: int
    latest: int

    def overlaps(self, start: int | None, end: int | None) -> bool:
        return (start is None or self.latest >= start) and (end is None or self.earliest <= end)

    def text(self) -> str:
        """ "1884–1920", or "1889" for one year (negative years as BC)."""

        def year(y: int) -> str:
            return f"{-y} BC" if y < 0 else str(y)

        return year(self.earliest) if self.earliest == self.latest else f"{year(self.earliest)}–{year(self.latest)}"


_DASH = r"\s*(?:-|–|—|to|until)\s*"
_ERA = r"(?:\s*(?P<era>b\.?\s?c\.?(?:e\.?)?|a\.?\s?d\.?|c\.?e\.?)(?![a-z]))?"
_CIRCA = re.compile(r"\b(?:c|ca|circa|approx|about|around)\b\.?\s*", re.I)
_ORDINAL = r"(?P<{name}>\d{{1,2}})(?:st|nd|rd|th)"
_PART = r"(?P<{name}>early|mid|middle|late|first half of(?: the)?|second half of(?: the)?)?[\s-]*"
_CENTURY = re.compile(
    _PART.format(name="part")
    + _ORDINAL.format(name="a")
    + r"(?:\s*(?:-|–|—|to|or|/)\s*"
    + _PART.format(name="part_b")
    + _ORDINAL.format(name="b")
    + r")?\s*(?:century|centuries|cent\.|c\.)"
    + _ERA,
    re.I,
)
_DECADE = re.compile(r"\b(?P<y>\d{3,4})0s\b" + _ERA, re.I)
_SPAN = re.compile(
    r"(?<!\d)(?P<a>\d{1,4})"
    + _ERA.replace("era", "era_a")
    + r"(?:"
    + _DASH
    + r"|\s*/\s*|\s+or\s+)(?P<b>\d{1,4})(?!\d)"
    + _ERA,
    re.I,
)
_YEAR = re.compile(r"(?<!\d)(?P<y>\d{3,4})(?!\d)" + _ERA, re.I)
_SMALL_YEAR = re.compile(r"(?<!\d)(?P<y>\d{1,4})" + r"\s*(?P<era>b\.?\s?c\.?(?:e\.?)?|a\.?\s?d\.?)(?![a-z])", re.I)
_BEFORE = re.compile(r"\b(?:before|by|until)\s*$", re.I)
_AFTER = re.compile(r"\b(?:after|from|since)\s*$", re.I)


def _bc(era: str | None) -> bool:
    return bool(era) and era.lower().lstrip().startswith("b")


def _one_century(number: int, part: str | None, bc: bool) -> Period:
    """One century, or a part of it: "mid 16th century" is 1530-1570; "3rd century BC" is -300 .. -201."""
    start, end = (-100 * number, -100 * (number - 1) - 1) if bc else (100 * (number - 1), 100 * number - 1)
    part = (part or "").lower()
    if part == "early":
        end = start + 35
    elif part in ("mid", "middle"):
        start, end = start + 30, start + 70
    elif part == "late":
        start = start + 65
    elif part.startswith("first half"):
        end = start + 50
    elif part.startswith("second half"):
        start = start + 50
    return Period(start, end)


def _century(match: re.Match[str]) -> Period:
    """ "16th century", "mid 16th century", "16th-17th century", "late 15th-early 16th century"."""
    bc = _bc(match.group("era"))
    first = _one_century(int(match.group("a")), match.group("part"), bc)
    if match.group("b") is None:
        return first
    second = _one_century(int(match.group("b")), match.group("part_b"), bc)
    return Period(min(first.earliest, second.earliest), max(first.latest, second.latest))


def parse_period(text: str | None) -> Period | None:
    """The earliest and latest year a date text means (see the module's table), or None."""
    if not text or not str(text).strip():
        return None
    text = str(text).strip()
    circa = bool(_CIRCA.search(text))
    bare = _CIRCA.sub("", text)
    century = _CENTURY.search(bare)
    if century:
        return _century(century)
    span = _SPAN.search(bare)
    if span:
        a, b = span.group("a"), span.group("b")
        bc = _bc(span.group("era")) or _bc(span.group("era_a"))
        first = int(a)
        if len(b) < len(a) and not bc:  # "1500–10", "1884/85": the later year's missing digits are the earlier's
            second = int(a[: len(a) - len(b)] + b)
        else:
            second = int(b)
        if bc:
            first, second = -first, -second
        if len(a) >= 3 or bc:
            return Period(min(first, second), max(first, second))
    decade = _DECADE.search(bare)
    if decade:
        start = int(decade.group("y")) * 10
        bc = _bc(decade.group("era"))
        size = 100 if start % 100 == 0 else 10
        return Period(-start - size + 1, -start) if bc else Period(start, start + size - 1)
    year = _YEAR.search(bare) or _SMALL_YEAR.search(bare)
    if not year:
        return None
    value = int(year.group("y"))
    if _bc(year.group("era")):
        value = -value
    before = bare[: year.start()]
    if _BEFORE.search(before):
        return Period(value - OPEN_YEARS, value)
    if _AFTER.search(before):
        return Period(value, value + OPEN_YEARS)
    if circa:
        return Period(value - CIRCA_YEARS, value + CIRCA_YEARS)
    return Period(value, value)


def from_fields(earliest: object, latest: object, text: str | None = None, year: object = None) -> Period | None:
    """A work's period: the source's own earliest and latest years where it gives them (the museum's
    ``creation_date_earliest`` / ``_latest``), else what its date text means, else its one year."""

    def whole(value: object) -> int | None:
        try:
            return int(str(value).strip()) if value is not None and str(value).strip() else None
        except ValueError:
            return None

    lo, hi = whole(earliest), whole(latest)
    if lo is not None or hi is not None:
        lo, hi = lo if lo is not None else hi, hi if hi is not None else lo
        assert lo is not None and hi is not None
        return Period(min(lo, hi), max(lo, hi))
    parsed = parse_period(text)
    if parsed is not None:
        return parsed
    one = whole(year)
    return Period(one, one) if one is not None else None


def artist_period(birth: int | None, death: int | None) -> Period | None:
    """The span an undated work was made in, from its artist's life dates (Kaggle: "1840 - 1926")."""
    if birth is None or death is None or death < birth:
        return None
    return Period(birth, death)


def payload_fields(period: Period | None, basis: str = "work") -> dict[str, object]:
    """The payload's period fields (none when there is no period)."""
    if period is None:
        return {}
    return {EARLIEST: period.earliest, LATEST: period.latest, BASIS: basis}
