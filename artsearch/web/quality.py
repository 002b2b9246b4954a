"""How a result's match label and its "why" terms read on the page, and the notice when nothing matches."""

from __future__ import annotations

from artsearch.calibration import NOTHING_MATCHES
from artsearch.search import Hit, ResultPage

HIDE_WEAK_HELP = 'Leave out results labelled "weak match": the page may then show fewer, or none.'


def with_label(why: str, hit: Hit) -> str:
    """The card's "similarity 0.27" line with the match label after the similarity ("similarity 0.27 · strong
    match · 2 copies")."""
    if not hit.match:
        return why
    first, sep, rest = why.partition(" · ")
    return f"{first} · {hit.match}{sep}{rest}"


def why_text(hit: Hit) -> str:
    """ "winter · snow · grey sky": the terms close to both the query and the artwork ("" when there are none)."""
    return " · ".join(hit.why)


def notice(result: ResultPage) -> str | None:
    """What the page says above the results when none of them is a match; None when some are."""
    if not result.nothing_matches:
        return None
    if not result.hits:
        return NOTHING_MATCHES.split(";")[0] + ". Switch off “Hide weak matches” to see the closest."
    return NOTHING_MATCHES
