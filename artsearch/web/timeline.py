"""The timeline of the results: each dated result at its years, higher the more similar; a click opens it.

A work with a span ("1884 - 1920", "mid 16th century") is a bar from its earliest to its latest year with a
point at the middle; Kaggle's undated works sit on their artist's lifetime, drawn in another colour and
labelled so. Results without a period are counted under the chart, not placed on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from artsearch import periods
from artsearch.search import Hit
from artsearch.web.cards import date_text
from artsearch.web.map import selected_id

#: What the colours say: where a bar's years come from.
BASIS_LABELS = {"work": "the work's date", "artist": "the artist's lifetime (undated work)"}


def timeline_rows(hits: Sequence[Hit]) -> list[dict[str, Any]]:
    """One row per result that has a period, in rank order."""
    rows = []
    for rank, hit in enumerate(hits, 1):
        lo, hi = hit.payload.get(periods.EARLIEST), hit.payload.get(periods.LATEST)
        if not isinstance(lo, (int, float)) or not isinstance(hi, (int, float)):
            continue
        basis = str(hit.payload.get(periods.BASIS) or "work")
        rows.append(
            {
                "id": hit.artwork_id,
                "title": hit.title,
                "artist": hit.artist_name or "Unknown artist",
                "date": date_text(hit) or periods.Period(int(lo), int(hi)).text(),
                "earliest": int(lo),
                "latest": int(hi),
                "middle": (int(lo) + int(hi)) / 2,
                "score": round(float(hit.score), 4),
                "rank": rank,
                "basis": BASIS_LABELS.get(basis, basis),
            }
        )
    return rows


def timeline_chart(rows: Sequence[Mapping[str, Any]]) -> Any:
    """An Altair chart: x the years, y the similarity; bars for spans, a point per work (the click target)."""
    import altair as alt
    import pandas as pd

    columns = ["id", "title", "artist", "date", "earliest", "latest", "middle", "score", "rank", "basis"]
    frame = pd.DataFrame(list(rows), columns=columns)
    pick = alt.selection_point(name="pick", fields=["id"], on="click", clear=False)
    colour = alt.Color("basis:N", title="Years from", legend=alt.Legend(orient="bottom"))
    tooltip = [
        alt.Tooltip("title:N", title="Title"),
        alt.Tooltip("artist:N", title="Artist"),
        alt.Tooltip("date:N", title="Date"),
        alt.Tooltip("score:Q", title="Similarity", format=".2f"),
    ]
    y = alt.Y("score:Q", title="Similarity", scale=alt.Scale(zero=False))
    x = alt.X("earliest:Q", title="Year", axis=alt.Axis(format="d"), scale=alt.Scale(zero=False, nice=True))
    spans = (
        alt.Chart(frame)
        .mark_rule(strokeWidth=5, opacity=0.5, strokeCap="round")
        .encode(x=x, x2="latest:Q", y=y, color=colour)
    )
    works = (
        alt.Chart(frame)
        .mark_circle(size=120, opacity=0.9)
        .encode(x=alt.X("middle:Q", scale=alt.Scale(zero=False)), y=y, color=colour, tooltip=tooltip)
        .add_params(pick)
    )
    return alt.layer(spans, works).properties(height=320)


def picked(selection: Any) -> str:
    """The artwork a click on the timeline picked (the chart's selection state), or ""."""
    return selected_id(selection)


def undated_text(hits: Sequence[Hit], rows: Sequence[Mapping[str, Any]]) -> str:
    """ "3 of the 12 results have no date and are not on the timeline." or ""."""
    missing = len(hits) - len(rows)
    if not missing:
        return ""
    return f"{missing} of the {len(hits)} results have no date and are not on the timeline."
