"""How a result reads: a card's lines, an artist panel, the grid's rows, messages; data shown literally.

Everything that comes from the data (titles, names, bios) is escaped before it reaches markdown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from artsearch.catalog import Artist
from artsearch.errors import ArtsearchError, CollectionMissing, EmptyQuery
from artsearch.search import Hit
from artsearch.web.state import PageState

PER_ROW = 4
OTHER_WORKS = 8


_MARKDOWN_SPECIAL = "\\`*_{}[]<>()#+-.!|$~"


def md_escape(text: str) -> str:
    """Show data (titles, names, bios) literally in st.markdown: no links, emphasis or LaTeX from it."""
    return "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in text)


def score_text(score: float) -> str:
    return f"similarity {score:.2f}"


def card_lines(hit: Hit) -> tuple[str, str]:
    """A result card's two text lines: the title, then artist · year · score."""
    parts = [hit.artist_name or "Unknown artist"]
    if hit.year:
        parts.append(str(hit.year))
    parts.append(score_text(hit.score))
    return hit.title, " · ".join(parts)


def artist_lines(artist: Artist | None, name: str = "") -> list[str]:
    """Markdown lines for an artist panel; says so when the collection knows nothing about the artist."""
    if artist is None:
        artist = Artist(name=name or "Unknown artist")
    lines = [f"**{md_escape(artist.name)}**"]
    facts = [f for f in (artist.nationality, artist.years or _years(artist), artist.genre) if f]
    if facts:
        lines.append(md_escape(" · ".join(facts)))
    if artist.bio:
        lines.append(md_escape(_shorten(artist.bio, 600)))
    elif not facts:
        lines.append("No biography for this artist in the collection.")
    if artist.wikipedia.startswith(("http://", "https://")):
        lines.append(f"[Wikipedia]({link(artist.wikipedia)})")
    return lines


def link(url: str) -> str:
    """A URL safe inside a markdown link: https, spaces and brackets percent-encoded (Kaggle's have spaces)."""
    url = url.strip()
    if url.startswith("http://"):
        url = "https://" + url.removeprefix("http://")
    return quote(url, safe=":/?#@!$&'*+,;=%~")


def _years(artist: Artist) -> str:
    if artist.birth_year or artist.death_year:
        return f"{artist.birth_year or '?'} – {artist.death_year or ''}".strip()
    return ""


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def rows(items: Sequence[Any], per_row: int = PER_ROW) -> list[Sequence[Any]]:
    """Split results into grid rows."""
    return [items[i : i + per_row] for i in range(0, len(items), per_row)]


def facet_label(counts: Mapping[str, int]) -> Any:
    """A multiselect ``format_func`` showing how many artworks each choice has."""
    return lambda value: f"{value} ({counts[value]})" if value in counts else value


def message_kind(exc: ArtsearchError) -> str:
    """'info' for what the visitor or the operator can simply do next, 'error' for faults."""
    return "info" if isinstance(exc, (CollectionMissing, EmptyQuery)) else "error"


def empty_results_message(state: PageState) -> str:
    if state.filters:
        return "Nothing matches these filters; remove some in the sidebar."
    return "No results."


def copies_text(hit: Hit) -> str:
    return f"{len(hit.copies) + 1} copies" if hit.copies else ""
