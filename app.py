"""artsearch: find artworks by a description, an image or an image address.

Run with ``streamlit run app.py``. This file only lays out widgets and renders;
what a search means lives in ``artsearch.web`` and ``artsearch.search``.
"""

from __future__ import annotations

import logging

import numpy as np
import streamlit as st

from artsearch import search
from artsearch.config import load_settings
from artsearch.errors import ArtsearchError
from artsearch.images import SUPPORTED_UPLOAD_TYPES
from artsearch.index.filters import FACETS
from artsearch.search import Hit, PageOptions, SearchService
from artsearch.web import cards, pictures, resources, session
from artsearch.web import map as webmap
from artsearch.web import state as web_state

log = logging.getLogger("artsearch.app")
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
ss = st.session_state


def show_problem(exc: ArtsearchError) -> None:
    (st.info if cards.message_kind(exc) == "info" else st.error)(str(exc))


def sidebar(facets: dict[str, list[tuple[str, int]]], disabled: bool) -> None:
    # A link's filters wait until there are choices to match them against (the index may be down now).
    pending = ss.get("_pending_filters", {}) if disabled else ss.pop("_pending_filters", {})
    with st.sidebar:
        st.header("Filters")
        st.caption("Applied inside the index: every result matches all of them.")
        for facet in FACETS:
            key = web_state.filter_key(facet.name)
            counts = dict(facets.get(facet.name, []))
            options = list(counts)
            # A link or an older rebuild may name values that are no longer choices: drop them.
            ss[key] = web_state.known(pending.get(facet.name, ss.get(key, [])), options)
            st.multiselect(facet.label, options, key=key, format_func=cards.facet_label(counts), disabled=disabled)


def controls() -> tuple[web_state.PageState, bytes | None, bool]:
    """The search widgets; returns the page state, the uploaded bytes and whether Search was pressed."""
    mode = st.radio(
        "Search by",
        list(web_state.MODES),
        format_func=web_state.MODES.get,
        key="mode",
        horizontal=True,
        on_change=session.clear_like,
    )
    image = None
    if mode == "text":
        st.text_input(
            "Describe the artwork",
            key="q",
            placeholder=web_state.PLACEHOLDER,
            on_change=session.clear_like,
            help=SYNTAX_HELP,
        )
    elif mode == "image":
        upload = st.file_uploader(
            "Upload an image", type=list(SUPPORTED_UPLOAD_TYPES), key="upload", on_change=session.clear_like
        )
        image = upload.getvalue() if upload is not None else None
    else:
        st.text_input(
            "Image address", key="url", placeholder="https://example.org/painting.jpg", on_change=session.clear_like
        )
    if mode in ("image", "url"):
        st.text_input(
            "…and in words (optional)", key="mix", placeholder="in winter", help=MIX_HELP, on_change=session.clear_like
        )
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    left.slider("How many results", 1, search.MAX_K, key="k")
    submitted = right.button("Search", key="search", type="primary", width="stretch", on_click=session.clear_like)
    like = ss.get("like", "")
    state = web_state.PageState(
        mode="like" if like else mode,
        text=ss.get("q", "") or "",
        url=ss.get("url", "") or "",
        like_id=like,
        k=ss.k,
        filters=session.chosen_filters(),
        mix=ss.get("mix", "") or "",
    )
    return state, image, submitted


def explore_controls(service: SearchService) -> PageOptions:
    """One per artist, duplicate collapse, the map and "Surprise me"; returns how to fetch results."""
    ss.setdefault("collapse", service.settings.collapse_duplicates)
    ss.setdefault("pages", 1)
    ss.setdefault("applied", {"liked": [], "disliked": []})
    group, size, dupes, show_map, lucky = st.columns([2, 2, 2, 2, 1.4], vertical_alignment="center")
    group.toggle(
        "One per artist",
        key="one_per_artist",
        on_change=session.reset_explore,
        help="A grouped search: at most this many works of any one artist, so no one fills the page.",
    )
    size.slider(
        "Per artist",
        1,
        3,
        1,
        key="per_artist",
        disabled=not ss.get("one_per_artist"),
        on_change=session.reset_explore,
        label_visibility="collapsed",
    )
    dupes.toggle("Collapse duplicates", key="collapse", help="Show copies of one picture once, with 'N copies'.")
    show_map.toggle("Map of the collection", key="show_map")
    if lucky.button("Surprise me", key="surprise", help="A random artwork and more like it."):
        try:
            hit = service.surprise(filters=session.chosen_filters())
        except ArtsearchError as exc:
            show_problem(exc)
            hit = None
        if hit is not None:
            session.set_like(hit.artwork_id)
            st.rerun()  # so the address bar and the heading show the random artwork's "more like this"
    return PageOptions(
        pages=int(ss.get("pages", 1)),
        liked=list(ss.applied["liked"]),
        disliked=list(ss.applied["disliked"]),
        per_artist=int(ss.get("per_artist", 1)) if ss.get("one_per_artist") else 0,
        collapse=bool(ss.get("collapse", True)),
    )


def like_heading(service: SearchService, artwork_id: str) -> bool:
    """Show which artwork "more like this" started from; False when it is gone from the collection."""
    seed = service.artwork(artwork_id)
    if seed is None:
        st.info("That artwork is no longer in the collection (a rebuild may have removed it); start a new search.")
        return False
    thumb, text = st.columns([1, 8], vertical_alignment="center")
    picture = pictures.display_source(seed.image_url, service.settings, pictures.THUMB_PX)
    if picture is not None:
        thumb.image(picture, width="stretch")
    text.markdown(
        f"More like **{cards.md_escape(seed.title)}** by {cards.md_escape(seed.artist_name or 'an unknown artist')}"
    )
    text.button("Back to your search", key="back", on_click=session.clear_like)
    return True


def artist_panel(service: SearchService, hit: Hit, works: dict[str, list[Hit]]) -> None:
    try:
        artist = resources.artists(service).get(str(hit.payload.get("artist_slug", ""))) or hit.artist
    except ArtsearchError:  # an unreadable artists.json: the record the search returned will do
        artist = hit.artist
    with st.expander(f"Artist: {hit.artist_name or 'unknown'}"):
        for line in cards.artist_lines(artist, hit.artist_name):
            st.markdown(line)
        if hit.artist_name and hit.artist_name not in works:
            try:  # one lookup per artist per page, shared by that artist's cards
                works[hit.artist_name] = service.artist_works(hit.artist_name, limit=cards.OTHER_WORKS + 1)
            except ArtsearchError as exc:
                works[hit.artist_name] = []
                st.caption(str(exc))
        others = [w for w in works.get(hit.artist_name, []) if w.artwork_id != hit.artwork_id][: cards.OTHER_WORKS]
        shown = [(w.title, pictures.display_source(w.image_url, service.settings, pictures.THUMB_PX)) for w in others]
        shown = [(title, picture) for title, picture in shown if picture is not None]
        if shown:
            st.caption("Other works in the collection")
            st.image([p for _, p in shown], caption=[t for t, _ in shown], width=72)


def card(service: SearchService, hit: Hit, works: dict[str, list[Hit]]) -> None:
    with st.container(border=True, key=f"card_{hit.artwork_id}"):
        picture = pictures.display_source(hit.image_url, service.settings)
        with st.container(key=f"pic_{hit.artwork_id}"):
            if picture is not None:
                st.image(picture, width="stretch")
            else:
                st.markdown("*image unavailable*")
        title, sub = cards.card_lines(hit)
        st.markdown(f"**{cards.md_escape(title)}**")
        st.caption(cards.md_escape(sub))
        if hit.copies:
            st.caption(cards.copies_text(hit))
        st.button("More like this", key=f"like_{hit.artwork_id}", on_click=session.set_like, args=(hit.artwork_id,))
        up, down = st.columns(2, gap="small")
        mine = ss.get("fb", {}).get(hit.artwork_id, 0)
        up.button(
            ":material/thumb_up:",
            key=f"up_{hit.artwork_id}",
            on_click=session.give_feedback,
            args=(hit.artwork_id, 1),
            type="primary" if mine > 0 else "secondary",
            width="stretch",
            help="More like this one when you refine",
        )
        down.button(
            ":material/thumb_down:",
            key=f"down_{hit.artwork_id}",
            on_click=session.give_feedback,
            args=(hit.artwork_id, -1),
            type="primary" if mine < 0 else "secondary",
            width="stretch",
            help="Less like this one when you refine",
        )
        artist_panel(service, hit, works)


def feedback_bar(options: PageOptions) -> None:
    fb = ss.get("fb", {})
    if options.liked or options.disliked:
        st.caption(f"Refined: {len(options.liked)} liked, {len(options.disliked)} disliked, and your search.")
    if fb:
        ups, downs = sum(v > 0 for v in fb.values()), sum(v < 0 for v in fb.values())
        text, button = st.columns([4, 1], vertical_alignment="center")
        text.caption(
            f":material/thumb_up: {ups} · :material/thumb_down: {downs}: refine to see more like the ones you liked and none you disliked."
        )
        button.button("Refine", key="refine", type="primary", on_click=session.refine, width="stretch")


def collection_map(service: SearchService, vector: np.ndarray | None, hits: list[Hit]) -> None:
    """The map: every artwork (or a sample), the results ringed, the query a diamond; a click is "more like this"."""
    points = resources.map_points(service)
    if not points:
        st.caption("This index has no map yet: rebuild it (python qdrant/initialize_db.py) to draw one.")
        return
    try:
        spot = service.place(vector, hits, service.projection()) if vector is not None else None
    except ArtsearchError:
        spot = None
    colour = st.radio(
        "Colour by", list(webmap.MAP_COLOURS), format_func=webmap.MAP_COLOURS.get, key="map_colour", horizontal=True
    )
    chart = webmap.map_chart(webmap.map_rows(service, points, hits, spot), colour_by=colour)
    st.altair_chart(chart, key="map", on_select=session.on_map_select, selection_mode="pick", width="stretch")
    st.caption(f"{len(points)} artworks; ringed: the results; diamond: your query. Click an artwork for more like it.")


def results(service: SearchService, state: web_state.PageState, image: bytes | None, submitted: bool) -> None:
    options = explore_controls(service)
    try:
        if state.mode == "like" and not like_heading(service, state.like_id):
            return
        query = state.query(image, submitted=submitted)
        if query is None:
            st.info("Type a description, upload an image or paste an image address, then press Enter or Search.")
            return
        with st.spinner("Searching… (the first search also loads the model)"):
            result = service.page(query, options)
    except ArtsearchError as exc:
        show_problem(exc)
        return
    hits = result.hits
    if not hits:
        st.info(cards.empty_results_message(state))
        return
    feedback_bar(options)
    mine = pictures.preview(image, service.settings) if image is not None else None
    if mine is not None:  # the uploaded image beside its results
        left, area = st.columns([1, 4])
        left.image(mine, caption="Your image", width="stretch")
    else:
        area = st.container()
    works: dict[str, list[Hit]] = {}
    with area:
        for row in cards.rows(hits):
            for column, hit in zip(st.columns(cards.PER_ROW), row, strict=False):
                with column:
                    card(service, hit, works)
        if result.more:  # the last page was full: there may be more
            st.button(
                "Load more", key="more", on_click=session.load_more, help="The next results, none of these again."
            )
    if ss.get("show_map"):
        try:
            collection_map(service, result.vector, hits)
        except ArtsearchError as exc:
            show_problem(exc)


def main() -> None:
    st.set_page_config(page_title="artsearch", page_icon="🖼️", layout="wide")
    st.title("artsearch")
    st.caption(HELP)
    try:
        settings = load_settings(secrets=resources.secrets_dict(st.secrets))
        service = resources.get_service(settings)
    except ArtsearchError as exc:
        st.error(str(exc))
        return
    session.init_from_link()
    problem: ArtsearchError | None = None
    try:
        facets = resources.overview(service)["facets"]
    except ArtsearchError as exc:
        facets, problem = {}, exc
    sidebar(facets, disabled=problem is not None)
    state, image, submitted = controls()
    st.query_params.from_dict(web_state.params_from_state(state))
    if problem is not None:
        show_problem(problem)
    else:
        results(service, state, image, submitted)


try:
    main()
except Exception:  # the last guard: a bug must not put a traceback on the page; the log keeps it
    log.exception("the search page failed")
    st.error("Something went wrong on our side; try again, or start a new search. The details are in the server log.")
