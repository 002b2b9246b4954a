"""How a result's match label and its "why" terms read on the page, and the notice when nothing matches."""

from __future__ import annotations

from artsearch.calibration import NOTHING_MATCHES
from artsearch.search import Hit, ResultPage

HIDE_WEAK_HELP = 'Leave out results labelled "weak match": the page may then show fewer, or none.'


def card_note(hit: Hit) -> str:
    """The card's line under its similarity: the match label, then the terms close to both the query and the
    artwork ("strong match · winter · snow · grey sky"); "" when there is neither."""
    return " · ".join([*([hit.match] if hit.match else []), *hit.why])


def notice(result: ResultPage) -> str | None:
    """What the page says above the results when none of them is a match; None when some are."""
    if not result.nothing_matches:
        return None
    if not result.hits:
        return NOTHING_MATCHES.split(";")[0] + ". Switch off “Hide weak matches” to see the closest."
    return NOTHING_MATCHES
