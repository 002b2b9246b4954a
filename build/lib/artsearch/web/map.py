"""The collection map: every artwork (or a sample) as a point, the results ringed, the query a diamond."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from artsearch.search import Hit, SearchService
from artsearch.web.pictures import data_uri, display_source
from artsearch.web.state import valid_id

MAP_COLOURS = {"artist": "Artist", "genre": "Genre"}
MAP_TOOLTIP_PX = 96


def selected_id(selection: Any) -> str:
    """The artwork id a map click selected (Streamlit's chart selection state), or ""."""
    try:
        picked = selection["selection"]["pick"]
    except (KeyError, TypeError):
        return ""
    if isinstance(picked, Mapping):
        picked = [picked]
    for item in picked or []:
        if isinstance(item, Mapping) and item.get("id"):
            return valid_id(str(item["id"]))
    return ""


def map_rows(
    service: SearchService,
    points: Sequence[Mapping[str, Any]],
    hits: Sequence[Hit],
    spot: tuple[float, float] | None,
) -> list[dict[str, Any]]:
    """The map's rows: every point, the results marked, the query as one extra row; tooltips with pictures.

    Pictures a browser can fetch itself (signed URLs) go in every tooltip; local
    files become small inline JPEGs for the results only, so a 5,000-point map
    stays a small page.
    """
    shown = {h.artwork_id: i + 1 for i, h in enumerate(hits)}
    rows = []
    for p in points:
        rank = shown.get(p["id"])
        url = service.image_url(p["image_key"]) if p.get("image_key") else None
        picture = url if url and url.startswith(("http://", "https://")) else None
        if picture is None and rank is not None:
            picture = data_uri(display_source(url, service.settings, MAP_TOOLTIP_PX))
        rows.append(
            {
                "id": p["id"],
                "x": p["x"],
                "y": p["y"],
                "title": p["title"],
                "artist": p["artist"],
                "genre": p["genre"],
                "kind": "result" if rank is not None else "collection",
                "rank": rank or 0,
                "image": picture or "",
            }
        )
    if spot is not None:
        rows.append(
            {
                "id": "",
                "x": spot[0],
                "y": spot[1],
                "title": "your query",
                "artist": "",
                "genre": "",
                "kind": "query",
                "rank": 0,
                "image": "",
            }
        )
    return rows


def map_chart(rows: Sequence[Mapping[str, Any]], colour_by: str = "artist") -> Any:
    """An Altair scatter of the collection: coloured by artist or genre, results ringed, the query a star.

    Clicking a point selects it (the ``pick`` selection, by artwork id); the
    page runs "more like this" on it.
    """
    import altair as alt
    import pandas as pd

    frame = pd.DataFrame(list(rows), columns=["id", "x", "y", "title", "artist", "genre", "kind", "rank", "image"])
    pick = alt.selection_point(name="pick", fields=["id"], on="click", clear=False)
    base = alt.Chart(frame).encode(
        x=alt.X("x:Q", axis=None, scale=alt.Scale(domain=[-0.02, 1.02])),
        y=alt.Y("y:Q", axis=None, scale=alt.Scale(domain=[-0.02, 1.02])),
    )
    tooltip = [alt.Tooltip("title:N", title="Title"), alt.Tooltip("artist:N", title="Artist"), "image:N"]
    everything = (
        base.transform_filter(alt.datum.kind != "query")
        .mark_circle(opacity=0.75)
        .encode(
            color=alt.Color(
                f"{colour_by}:N",
                title=MAP_COLOURS.get(colour_by, colour_by),
                legend=alt.Legend(orient="bottom", columns=4, symbolLimit=40),
            ),
            size=alt.condition(alt.datum.kind == "result", alt.value(160), alt.value(30)),
            tooltip=tooltip,
        )
        .add_params(pick)
    )
    results = (
        base.transform_filter(alt.datum.kind == "result")
        .mark_circle(filled=False, stroke="black", strokeWidth=2, size=260)
        .encode(tooltip=tooltip)
    )
    query = (
        base.transform_filter(alt.datum.kind == "query")
        .mark_point(shape="diamond", filled=True, color="crimson", size=320)
        .encode(tooltip=[alt.Tooltip("title:N", title="")])
    )
    return alt.layer(everything, results, query).properties(height=480)
