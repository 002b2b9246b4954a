"""How a result reads: a card's lines, an artist's panel, the grid's rows, messages and facet labels.

Every string that comes from the data (titles, names, bios) or from a visitor goes through
:func:`artsearch.web.escape.literal` for the element it is written into; the functions here return
text ready for that element (markdown unless they say "plain").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from artsearch.catalog import Artist
from artsearch.colour import parse_hex
from artsearch.errors import ArtsearchError, CollectionMissing, EmptyQuery
from artsearch.search import Hit
from artsearch.web.escape import literal
from artsearch.web.state import PageState

PER_ROW = 4
OTHER_WORKS = 8
BIO_CHARS = 600


def score_text(score: float) -> str:
    return f"similarity {score:.2f}"


def date_text(hit: Hit) -> str:
    """The date as the source gives it ("c. 1830"), else the year, else ""."""
    date = str(hit.payload.get("date") or "").strip()
    return date or (str(hit.year) if hit.year else "")


def card_lines(hit: Hit, *, copies: bool = True) -> tuple[str, str, str]:
    """A result card's three lines, as plain text: the title, "artist · date", and why it is here.

    The last line is the similarity, or "name match" where the fused ranking put the work up because
    the query named its artist or title words (its similarity alone would not have), so the numbers
    shown never climb down the page and up again; then "N copies" when copies folded into it (unless
    ``copies`` is False: the page shows them as a button that opens the group).
    """
    byline = " · ".join(part for part in (hit.artist_name or "Unknown artist", date_text(hit)) if part)
    why = [("name match" if hit.name_match else score_text(hit.score))]
    if hit.colour_share is not None:
        why = [f"{round(100 * hit.colour_share)}% in these colours"]
    if hit.copies and copies:
        why.append(copies_text(hit))
    return hit.title, byline, " · ".join(why)


def life_dates(artist: Artist) -> str:
    """ "1840–1926", "born 1954", "active 1480s–1500s" or ""."""
    if artist.years:
        return artist.years
    if artist.birth_year or artist.death_year:
        return f"{artist.birth_year or '?'} – {artist.death_year or ''}".strip()
    return ""


def artist_line(artist: Artist | None, name: str) -> str:
    """Plain text: "Vincent van Gogh (Dutch, 1853–1890)", or the name alone."""
    facts = [f for f in ((artist.nationality if artist else ""), (life_dates(artist) if artist else "")) if f]
    name = (artist.name if artist else "") or name or "Unknown artist"
    return f"{name} ({', '.join(facts)})" if facts else name


def artist_lines(artist: Artist | None, name: str = "") -> list[str]:
    """Markdown lines for an artist's panel; says so when the collection knows nothing about the artist."""
    if artist is None:
        artist = Artist(name=name or "Unknown artist")
    lines = [f"**{literal(artist.name)}**"]
    facts = [f for f in (artist.nationality, life_dates(artist), artist.genre) if f]
    if facts:
        lines.append(literal(" · ".join(facts)))
    if artist.bio:
        lines.append(literal(shorten(artist.bio, BIO_CHARS)))
    elif not facts:
        lines.append("No biography for this artist in the collection.")
    if artist.wikipedia.startswith(("http://", "https://")):
        lines.append(f"[Wikipedia]({link(artist.wikipedia)})")
    return lines


def link(url: str) -> str:
    """A URL safe inside a markdown link: https, spaces, brackets and parentheses percent-encoded."""
    url = url.strip()
    if url.startswith("http://"):
        url = "https://" + url.removeprefix("http://")
    return quote(url, safe=":/?#@!$&'*+,;=%~")


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word and ended with an ellipsis when cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def rows(items: Sequence[Any], per_row: int = PER_ROW) -> list[Sequence[Any]]:
    """Split results into grid rows."""
    return [items[i : i + per_row] for i in range(0, len(items), per_row)]


def facet_label(counts: Mapping[str, int]) -> Any:
    """A multiselect ``format_func`` (plain text) showing how many artworks each choice has."""
    return lambda value: literal(f"{value} ({counts[value]})" if value in counts else value, "plain")


def message_kind(exc: ArtsearchError) -> str:
    """'info' for what the visitor or the operator can simply do next, 'error' for faults."""
    return "info" if isinstance(exc, (CollectionMissing, EmptyQuery)) else "error"


def message_text(exc: ArtsearchError) -> str:
    """An error's one line for ``st.error`` / ``st.info``: shown literally, since it may quote a visitor's input."""
    return literal(str(exc))


def empty_results_message(state: PageState) -> str:
    if state.filters:
        return "Nothing matches these filters; remove some in the sidebar."
    return "Nothing in the collection matches this search."


def palette_html(payload: Mapping[str, Any]) -> str:
    """The palette as a row of swatches, each as wide as its share, titled with its colour and share; "" without
    one. Only colours that parse as #rrggbb are written (the payload is ours, but a page writes nothing unchecked)."""
    parts = []
    for entry in payload.get("palette") or []:
        hexed = parse_hex(str(entry.get("hex", ""))) if isinstance(entry, Mapping) else None
        try:
            share = float(entry.get("share", 0)) if hexed else 0.0
        except (TypeError, ValueError):
            share = 0.0
        if hexed and share > 0:
            parts.append(
                f'<span title="{hexed}, {round(100 * share)}%" style="display:inline-block;height:14px;'
                f'width:{max(4, round(240 * share))}px;background:{hexed}"></span>'
            )
    if not parts:
        return ""
    return f'<div aria-label="Palette" style="display:flex;border-radius:4px;overflow:hidden;width:fit-content">{"".join(parts)}</div>'


def copies_text(hit: Hit) -> str:
    return f"{len(hit.copies) + 1} copies" if hit.copies else ""
