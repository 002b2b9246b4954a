"""The search page's logic, kept out of ``app.py`` so it can be tested without a browser.

``app.py`` only lays out widgets and renders; this module decides what a page
state means: which :class:`~artsearch.search.Query` to run, how that state is
written to and read back from ``st.query_params`` (so a search is a link), how
a result card and an artist panel read, and which message a failure shows.

The cached factories at the bottom are the only Streamlit-aware part: one
:class:`SearchService` per server process and settings (the model and the
Qdrant client load once), facet counts and artist data refreshed every minute
so a rebuild shows up without a restart.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import streamlit as st

from artsearch.catalog import Artist
from artsearch.config import Settings
from artsearch.errors import ArtsearchError, CollectionMissing, EmptyQuery, ImageError
from artsearch.images import load_image
from artsearch.index.filters import Filters
from artsearch.search import MAX_K, Hit, Query, SearchService

log = logging.getLogger(__name__)

PLACEHOLDER = "a gloomy landscape in the winter"
HELP = (
    "Describe a picture in plain words (*a gloomy landscape in the winter*, *a portrait of a woman in blue*), "
    "upload an image, or paste an image address. Filters in the sidebar narrow every search; "
    "the page address is a link that reproduces the search. "
    "Words can be added and taken away: *sunflowers + blue - yellow*, with weights as *2\\*blue* or *blue:0.5*."
)
SYNTAX_HELP = (
    "Plain words search as they are. Query arithmetic: join descriptions with ' + ' or ' - ' (spaces around), "
    "e.g. `sunflowers + blue - yellow`; weigh a term with `2*blue` or `blue:0.5`. "
    "Anything else is searched as plain words. Naming an artist or title words (`Monet water lilies`) "
    "also matches titles and artist names."
)
MIX_HELP = "Words to steer the image with, e.g. 'in winter' or 'at night' (they count half as much as the picture)."
DEFAULT_K = 12
PER_ROW = 4
OTHER_WORKS = 8
CARD_PX = 512  # longest side of a result image, enough for a four-column grid on a wide screen
THUMB_PX = 160  # the artist panel's small pictures
#: The modes a visitor picks; "like" ("more like this") is entered from a result card instead.
MODES: dict[str, str] = {"text": "Text", "image": "Upload an image", "url": "Image URL"}
ALL_MODES = (*MODES, "like")
FILTER_KEYS: dict[str, str] = {"artist": "artists", "genre": "genres", "nationality": "nationalities"}


@dataclass
class PageState:
    """Everything that defines a search on the page (except the uploaded file's bytes)."""

    mode: str = "text"
    text: str = ""
    url: str = ""
    like_id: str = ""
    k: int = DEFAULT_K
    mix: str = ""  # words blended into an image search ("this, but in winter")
    artists: list[str] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    nationalities: list[str] = field(default_factory=list)

    @property
    def filters(self) -> Filters:
        return Filters(artists=list(self.artists), genres=list(self.genres), nationalities=list(self.nationalities))

    def query(self, image: bytes | None = None, *, submitted: bool = False) -> Query | None:
        """The Query to run, or None when the visitor has not asked for anything yet.

        With nothing to search for, an explicit ``submitted`` (the Search button)
        raises EmptyQuery with what to do, instead of silently showing nothing.
        """
        common = {"filters": self.filters, "k": clamp_k(self.k)}
        if self.mode == "like":
            return Query(like_id=self.like_id, **common) if self.like_id else None
        if self.mode == "image":
            if image is None:
                return _nothing(
                    submitted, "Choose an image file (PNG, JPEG or WEBP) to find artworks that look like it."
                )
            return Query(image=image, text=self.mix, **common)
        if self.mode == "url":
            if not self.url.strip():
                return _nothing(submitted, "Paste the address of an image (https://...) to find artworks like it.")
            return Query(image_url=self.url, text=self.mix, **common)
        if not self.text.strip():
            return _nothing(submitted, f"Type a few words to search for, for example '{PLACEHOLDER}'.")
        return Query(text=self.text, **common)


def _nothing(submitted: bool, message: str) -> None:
    """Nothing to search with: fine on a fresh page, a message when the visitor pressed Search."""
    if submitted:
        raise EmptyQuery(message)


def clamp_k(value: Any) -> int:
    """A result count in 1..MAX_K; anything unreadable is the default."""
    try:
        k = int(str(value).strip())
    except (TypeError, ValueError):
        return DEFAULT_K
    return max(1, min(k, MAX_K))


def valid_id(value: str) -> str:
    """An artwork id from a link: a UUID, or "" (Qdrant rejects anything else with an unhelpful error)."""
    try:
        return str(uuid.UUID(value.strip()))
    except (ValueError, AttributeError):
        return ""


def _one(params: Mapping[str, Any], key: str) -> str:
    value = params.get(key, "")
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else ""
    return str(value)


def _many(params: Mapping[str, Any], key: str) -> list[str]:
    value = params.get(key, [])
    values = [value] if isinstance(value, str) else list(value)
    return list(dict.fromkeys(str(v) for v in values if str(v)))


def state_from_params(params: Mapping[str, Any]) -> PageState:
    """Read a shared link. ``params`` maps a key to a string or a list of strings (repeated keys)."""
    mode = _one(params, "mode") or "text"
    like_id = valid_id(_one(params, "like"))
    if mode not in ALL_MODES or (mode == "like" and not like_id):
        mode = "text"
    return PageState(
        mode=mode,
        text=_one(params, "q"),
        url=_one(params, "url"),
        like_id=like_id,
        k=clamp_k(_one(params, "k") or DEFAULT_K),
        artists=_many(params, "artist"),
        genres=_many(params, "genre"),
        nationalities=_many(params, "nationality"),
        mix=_one(params, "mix"),
    )


def params_from_state(state: PageState) -> dict[str, str | list[str]]:
    """What goes in the address bar: only what differs from an empty page, so links stay short."""
    params: dict[str, str | list[str]] = {}
    if state.mode != "text":
        params["mode"] = state.mode
    if state.text.strip():
        params["q"] = state.text.strip()
    if state.mode == "url" and state.url.strip():
        params["url"] = state.url.strip()
    if state.mode == "like" and state.like_id:
        params["like"] = state.like_id
    if state.mode in ("image", "url") and state.mix.strip():
        params["mix"] = state.mix.strip()
    if clamp_k(state.k) != DEFAULT_K:
        params["k"] = str(clamp_k(state.k))
    for key, attr in FILTER_KEYS.items():
        values = getattr(state, attr)
        if values:
            params[key] = list(values)
    return params


def known(values: Iterable[str], options: Sequence[str]) -> list[str]:
    """Keep the values that are still choices (a link may name an artist a rebuild removed)."""
    allowed = set(options)
    return [v for v in values if v in allowed]


# --- rendering helpers -------------------------------------------------------------------------


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


def seed_hit(service: SearchService, artwork_id: str) -> Hit | None:
    """The artwork a "more like this" search started from, for the heading; None if it is gone."""
    records = service.index.retrieve([artwork_id]) if artwork_id else []
    return service.to_hit(records[0]) if records else None


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


def _jpeg(data: bytes, size: int, max_pixels: int, name: str) -> bytes:
    image = load_image(data, max_pixels=max_pixels, draft_size=(size, size), name=name)
    image.thumbnail((size, size))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def preview(data: bytes, settings: Settings, size: int = CARD_PX) -> bytes | None:
    """The visitor's upload as a small RGB JPEG (16-bit PNGs and CMYK JPEGs included), or None."""
    try:
        return _jpeg(data, size, settings.max_image_pixels, "the uploaded image")
    except ImageError:
        return None


def display_source(src: str | None, settings: Settings, size: int = CARD_PX) -> str | bytes | None:
    """What ``st.image`` gets for a result: a signed URL as is, a local file as a cached small JPEG, or None.

    Local originals can be megapixel JPEGs, 16-bit PNGs or CMYK: handing them to
    ``st.image`` re-encodes every one on every rerun and fails on modes JPEG
    cannot hold, so they are decoded safely once and kept as thumbnails.
    """
    if not src:
        return None
    if src.startswith(("http://", "https://")):
        return src
    try:
        mtime = os.stat(src).st_mtime_ns
        return _thumbnail(src, mtime, size, settings.max_image_pixels)
    except (OSError, ImageError) as exc:
        log.warning("cannot show %s: %s", src, exc)
        return None


@st.cache_data(max_entries=2000, show_spinner=False)
def _thumbnail(path: str, mtime_ns: int, size: int, max_pixels: int) -> bytes:
    with open(path, "rb") as fh:
        return _jpeg(fh.read(), size, max_pixels, path)


def secrets_dict(secrets: Any) -> dict[str, Any]:
    """``st.secrets`` as a plain dict, or {} when there is no secrets file (never raises for that)."""
    try:
        return dict(secrets.to_dict())
    except FileNotFoundError as exc:  # Streamlit's StreamlitSecretNotFoundError: missing or unreadable file
        log.info("no usable secrets.toml (%s); using environment variables and defaults", exc)
        return {}


def settings_key(settings: Settings) -> str:
    """A hashable cache key for Settings, covering the fields ``repr`` hides (keys, credentials)."""
    data = json.dumps(dataclasses.asdict(settings), sort_keys=True, default=str)
    return hashlib.sha256(data.encode()).hexdigest()


# --- cached, shared resources (one per server process) ------------------------------------------


def _release(service: SearchService) -> None:
    """Close the Qdrant client when the cache drops a service: embedded Qdrant allows one client per folder."""
    service.index.close()


@st.cache_resource(show_spinner=False, on_release=_release)
def _service(key: str, _settings: Settings) -> SearchService:
    service = SearchService(_settings)
    # Load the model in the background now, so the first visitor's first search does not wait for the
    # torch import and the weights; the encoder property is locked, so a search that comes first just waits.
    threading.Thread(target=_warm, args=(service,), name="artsearch-warm-model", daemon=True).start()
    return service


def _warm(service: SearchService) -> None:
    try:
        service.encoder  # noqa: B018 - the property loads the model
    except ArtsearchError as exc:  # the first search shows this message to the visitor
        log.warning("could not preload the model: %s", exc)


def get_service(settings: Settings) -> SearchService:
    """The process-wide SearchService for these settings: the model and Qdrant client are created once."""
    return _service(settings_key(settings), settings)


@st.cache_data(ttl=60, show_spinner=False)
def _overview(key: str, _service: SearchService) -> dict[str, Any]:
    _service.index.require_points()
    return {"facets": _service.facets()}


def overview(service: SearchService) -> dict[str, Any]:
    """Filter choices with counts; raises CollectionMissing when there is nothing to search.

    Cached for a minute so a rebuild's new artists and genres appear without a restart.
    """
    return _overview(settings_key(service.settings), service)


@st.cache_data(ttl=60, show_spinner=False)
def _artists(key: str, _service: SearchService) -> dict[str, Artist]:
    _service.refresh()  # re-read artists.json at most once a minute, so a rebuild's bios show up
    return _service.artists()


def artists(service: SearchService) -> dict[str, Artist]:
    """artists.json, loaded once a minute at most and shared by every session."""
    return _artists(settings_key(service.settings), service)


# --- exploring (issue 6): pages of results, duplicate collapse, the map ----------------------------

MAP_COLOURS = {"artist": "Artist", "genre": "Genre"}
MAP_TOOLTIP_PX = 96


def copies_text(hit: Hit) -> str:
    return f"{len(hit.copies) + 1} copies" if hit.copies else ""


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


def _data_uri(src: str | bytes | None) -> str:
    import base64

    if isinstance(src, bytes):
        return "data:image/jpeg;base64," + base64.b64encode(src).decode()
    return src or ""


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
            picture = _data_uri(display_source(url, service.settings, MAP_TOOLTIP_PX))
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


@st.cache_data(ttl=60, show_spinner=False)
def _map_points(key: str, _service: SearchService) -> list[dict[str, Any]]:
    return _service.map_points()


def map_points(service: SearchService) -> list[dict[str, Any]]:
    """The collection's map points, read at most once a minute per server (a rebuild shows up within it)."""
    return _map_points(settings_key(service.settings), service)
