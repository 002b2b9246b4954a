"""artsearch: find artworks by a description, an image or an image address.

Run with ``streamlit run app.py``. This file only lays out widgets and renders;
what a search means lives in ``artsearch.web`` and ``artsearch.search``.

A rerun redraws the page from what the session keeps (``artsearch.web.session``): the search runs
only when the query changes, and the parts that change alone (a card's actions, the feedback bar,
the detail view, the map) are fragments that rerun by themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

import numpy as np
import streamlit as st

from artsearch import colour, search
from artsearch.config import Settings, load_settings
from artsearch.errors import ArtsearchError
from artsearch.images import SUPPORTED_UPLOAD_TYPES
from artsearch.index.filters import FACETS, Facet, Filters
from artsearch.search import Hit, PageOptions, SearchService
from artsearch.web import cards, detail, pictures, quality, resources, session, style, timeline
from artsearch.web import map as webmap
from artsearch.web import state as web_state
from artsearch.web.escape import literal

log = logging.getLogger("artsearch.app")
HELP = (
    "Describe a picture in plain words, upload an image or paste an image address; "
    "filters in the sidebar narrow every search, and the address bar is a link to it."
)
SYNTAX_HELP = (
    "Plain words search as they are. Query arithmetic: join descriptions with ' + ' or ' - ' (spaces around), "
    "e.g. `sunflowers + blue - yellow`; weigh a term with `2*blue` or `blue:0.5`. "
    "Anything else is searched as plain words. Naming an artist or title words (`Monet water lilies`) "
    "also matches titles and artist names."
)
COLOUR_HELP = (
    "Works with a lot of this colour (within a colour difference of 20 in CIELAB, at least 5% of the picture); "
    "with two, works with both. Alone, the works with the most of it come first; with words or an image, those "
    "order the works that have it."
)
MIX_HELP = "Words to steer the image with, e.g. 'in winter' or 'at night' (they count half as much as the picture)."
BUG = "Something went wrong on our side; try again, or start a new search. The details are in the server log."
ss = st.session_state


def guarded(body: Callable[..., None]) -> Callable[..., None]:
    """A fragment's body with the page's last guard: a bug shows one line, never a traceback (the log keeps it)."""

    @wraps(body)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            body(*args, **kwargs)
        except ArtsearchError as exc:
            show_problem(exc)
        except Exception:
            log.exception("part of the search page failed")
            st.error(BUG)

    return run


def show_problem(exc: ArtsearchError) -> None:
    (st.info if cards.message_kind(exc) == "info" else st.error)(cards.message_text(exc))


# --- the sidebar and the search widgets ------------------------------------------------------------------


def sidebar(service: SearchService, choices: dict[str, list[tuple[str, int]]], disabled: bool) -> None:
    """One filter per facet; each choice shows how many artworks it has among those the other filters keep."""
    # A link's filters wait until there are choices to match them against (the index may be down now).
    pending = ss.get("_pending_filters", {}) if disabled else ss.pop("_pending_filters", {})
    for facet in FACETS:  # a link or an older rebuild may name values that are no longer choices: drop them
        key = web_state.filter_key(facet.name)
        if facet.kind in ("range", "colour"):  # kept as they are (a slider, colour pickers: no list to match)
            ss[key] = list(pending.get(facet.name, ss.get(key, [])))
            continue
        ss[key] = web_state.known(pending.get(facet.name, ss.get(key, [])), [v for v, _ in choices.get(facet.name, [])])
    live: dict[str, list[tuple[str, int]]] = {}
    if not disabled:
        try:
            live = resources.facet_counts(service, session.chosen_filters())
        except ArtsearchError as exc:
            log.warning("facet counts unavailable: %s", exc)
            live = choices
    with st.sidebar:
        st.header("Filters")
        st.caption("Applied inside the index: every result matches all of them. The counts follow your choices.")
        for facet in FACETS:
            key = web_state.filter_key(facet.name)
            if facet.kind == "range":
                range_filter(facet, dict(choices.get(facet.name, [])), disabled)
                continue
            if facet.kind == "colour":
                colour_filter(facet, disabled)
                continue
            counts = dict(live.get(facet.name, []))
            chosen = list(ss.get(key, []))
            options = list(dict.fromkeys([*chosen, *(v for v, n in counts.items() if n > 0)]))
            st.multiselect(facet.label, options, key=key, format_func=cards.facet_label(counts), disabled=disabled)


def colour_filter(facet: Facet, disabled: bool) -> None:
    """One or two colour pickers: works with a lot of the colour (both, with two), alone or with words or an image."""
    key = web_state.filter_key(facet.name)
    chosen = Filters({facet.name: ss.get(key, [])}).values_of(facet.name)
    st.markdown(f"**{facet.label}**", help=COLOUR_HELP)
    for n, default in enumerate(colour.DEFAULT_COLOURS):
        on, pick = session.colour_keys(facet.name, n)
        ss[on] = n < len(chosen)
        ss[pick] = chosen[n] if n < len(chosen) else ss.get(pick, default)
        with st.container(horizontal=True, vertical_alignment="center", key=f"{key}_row{n}"):
            st.toggle(
                "In this colour" if n == 0 else "and this one",
                key=on,
                on_change=session.set_colours,
                args=(facet.name,),
                disabled=disabled or (n > 0 and not chosen),
            )
            st.color_picker(
                f"Colour {n + 1}",
                key=pick,
                on_change=session.set_colours,
                args=(facet.name,),
                disabled=disabled,
                label_visibility="collapsed",
            )


def range_filter(facet: Facet, bounds: dict[str, int], disabled: bool) -> None:
    """A year-range slider over the collection's dated works; spanning everything, it filters nothing."""
    if "earliest" not in bounds or bounds["earliest"] >= bounds["latest"]:
        st.caption(f"{facet.label}: the collection has no dated works to filter by.")
        return
    low, high = bounds["earliest"], bounds["latest"]
    lo, hi = Filters({facet.name: ss.get(web_state.filter_key(facet.name), [])}).span(facet.name)
    ss[session.range_key(facet.name)] = (
        min(max(low, lo if lo is not None else low), high),
        max(min(high, hi if hi is not None else high), low),
    )
    st.slider(
        facet.label,
        low,
        high,
        key=session.range_key(facet.name),
        on_change=session.set_range,
        args=(facet.name, low, high),
        disabled=disabled,
        help="Works made at some time in these years (a span like 'c. 1765' or 'mid 16th century' counts when it "
        "overlaps). Undated works are left out while a span is chosen.",
    )


def controls(settings: Settings) -> tuple[web_state.PageState, bytes | None, bool]:
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
            "Describe the artwork, in any language" if settings.text_embedder_name else "Describe the artwork",
            key="q",
            placeholder=web_state.PLACEHOLDER,
            on_change=session.clear_like,
            help=SYNTAX_HELP,
        )
    elif mode == "image":
        upload = st.file_uploader(
            f"Upload an image ({web_state.upload_formats()}, up to {settings.max_upload_mb} MB)",
            type=list(SUPPORTED_UPLOAD_TYPES),
            key="upload",
            on_change=session.clear_like,
            max_upload_size=settings.max_upload_mb,
        )
        image = upload.getvalue() if upload is not None else None
    elif mode == "camera":
        shot = st.camera_input(
            "Take a photo of the painting (the wall and frame may show: the search finds the painting)",
            key="camera",
            on_change=session.clear_like,
        )
        image = shot.getvalue() if shot is not None else None  # the upload's byte and pixel limits apply
    else:
        st.text_input(
            "Image address", key="url", placeholder="https://example.org/painting.jpg", on_change=session.clear_like
        )
    if mode in ("image", "camera", "url"):
        st.text_input(
            "…and in words (optional)", key="mix", placeholder="in winter", help=MIX_HELP, on_change=session.clear_like
        )
    with st.container(horizontal=True, vertical_alignment="bottom", key="search_row"):
        st.slider("How many results", 1, search.MAX_K, key="k")
        submitted = st.button("Search", key="search", type="primary", on_click=session.clear_like)
    like = ss.get("like", "")
    state = web_state.PageState(
        mode="like" if like else mode,
        text=ss.get("q", "") or "",
        url=ss.get("url", "") or "",
        like_id=like,
        k=ss.k,
        filters=session.chosen_filters(),
        mix=ss.get("mix", "") or "",
        work=ss.get("work", "") or "",
    )
    return state, image, submitted


def explore_controls(service: SearchService) -> PageOptions:
    """One per artist, duplicate collapse, the map and "Surprise me"; returns how to fetch results."""
    ss.setdefault("collapse", service.settings.collapse_duplicates)
    ss.setdefault("hide_weak", service.settings.hide_weak_matches)
    ss.setdefault("pages", 1)
    ss.setdefault("applied", {"liked": [], "disliked": []})
    with st.container(horizontal=True, vertical_alignment="center", key="explore_row"):
        st.toggle(
            "One per artist",
            key="one_per_artist",
            on_change=session.reset_explore,
            help="A grouped search: at most this many works of any one artist, so no one fills the page.",
        )
        st.slider(
            "Works per artist",
            1,
            3,
            1,
            key="per_artist",
            disabled=not ss.get("one_per_artist"),
            on_change=session.reset_explore,
            label_visibility="collapsed",
            width=120,
        )
        st.toggle("Collapse duplicates", key="collapse", help="Show copies of one picture once, with 'N copies'.")
        st.toggle("Hide weak matches", key="hide_weak", help=quality.HIDE_WEAK_HELP)
        st.toggle("Map of the collection", key="show_map")
        st.toggle("Timeline", key="show_timeline", help="The results by year; click one to open it.")
        lucky = st.button("Surprise me", key="surprise", help="A random artwork and more like it.")
    if lucky:
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
        hide_weak=bool(ss.get("hide_weak", False)),
    )


# --- results --------------------------------------------------------------------------------------------------


def like_heading(service: SearchService, artwork_id: str) -> bool:
    """Show which artwork "more like this" started from; False when it is gone from the collection."""
    seed = session.seed(service, artwork_id)
    if seed is None:
        st.info("That artwork is no longer in the collection (a rebuild may have removed it); start a new search.")
        return False
    with st.container(horizontal=True, vertical_alignment="center", key="like_heading"):
        picture = pictures.display_source(seed.image_url, service.settings, pictures.THUMB_PX)
        if picture is not None:
            st.image(picture, width=64, alt=literal(seed.title, "plain"))
        st.markdown(f"More like **{literal(seed.title)}** by {literal(seed.artist_name or 'an unknown artist')}")
        st.button("Back to your search", key="back", on_click=session.clear_like)
    return True


def card(service: SearchService, hit: Hit) -> None:
    """One result: the picture in its frame (a click opens the artwork), title, "artist · date", why, actions."""
    title, byline, why = cards.card_lines(hit, copies=False)
    with st.container(border=True, key=f"card_{hit.artwork_id}"):
        picture = pictures.display_source(hit.image_url, service.settings)
        with st.container(key=f"pic_{hit.artwork_id}", vertical_alignment="center"):
            if picture is not None:
                st.image(picture, width="stretch", alt=literal(f"{title}, by {byline}", "plain"))
            else:
                st.caption("Image unavailable.")
        st.button(
            literal(title),
            key=f"open_{hit.artwork_id}",
            type="tertiary",
            on_click=session.open_work,
            args=(hit.artwork_id,),
        )
        st.caption(literal(byline))
        if not hit.copies:  # one line: no row to lay out (a card is a dozen elements, each costs every rerun)
            st.caption(literal(why))
        else:  # "N copies" beside it opens the artwork with its copies in the collection listed
            with st.container(horizontal=True, vertical_alignment="center", gap="small", key=f"why_{hit.artwork_id}"):
                st.caption(literal(why))
                st.button(
                    cards.copies_text(hit),
                    key=f"copies_{hit.artwork_id}",
                    type="tertiary",
                    on_click=session.open_work,
                    args=(hit.artwork_id,),
                    help="See every copy of this picture in the collection",
                )
        if quality.card_note(hit):  # no tooltip: a card keeps its one tab stop per action
            st.caption(literal(quality.card_note(hit)))
        session.fragment(session.actions_key(hit.artwork_id), guarded(actions))(hit.artwork_id, "")


def actions(artwork_id: str, prefix: str) -> None:
    """More like this, 👍 and 👎 in one row: a fragment, so a 👍 redraws this row (and the feedback bar) only."""
    mine = ss.get("fb", {}).get(artwork_id, 0)
    with st.container(horizontal=True, gap="small", key=f"{prefix}row_{artwork_id}"):
        st.button("More like this", key=f"{prefix}like_{artwork_id}", on_click=session.more_like, args=(artwork_id,))
        st.button(
            "Liked" if mine > 0 else "Like",
            key=f"{prefix}up_{artwork_id}",
            icon=":material/thumb_up:",
            on_click=session.give_feedback,
            args=(artwork_id, 1),
            type="primary" if mine > 0 else "secondary",
        )
        st.button(
            "Disliked" if mine < 0 else "Dislike",
            key=f"{prefix}down_{artwork_id}",
            icon=":material/thumb_down:",
            on_click=session.give_feedback,
            args=(artwork_id, -1),
            type="primary" if mine < 0 else "secondary",
        )


def feedback_bar(options: PageOptions) -> None:
    fb = ss.get("fb", {})
    if options.liked or options.disliked:
        st.caption(f"Refined: {len(options.liked)} liked, {len(options.disliked)} disliked, and your search.")
    if fb:
        ups, downs = sum(v > 0 for v in fb.values()), sum(v < 0 for v in fb.values())
        with st.container(horizontal=True, vertical_alignment="center", key="refine_row"):
            st.caption(
                f"{ups} liked and {downs} disliked: refine to see more like the ones you liked and none you disliked."
            )
            st.button("Refine", key="refine", type="primary", on_click=session.refine)


def collection_map(service: SearchService, vector: np.ndarray | None, hits: list[Hit]) -> None:
    """The map: every artwork (or a sample), the results ringed, the query a diamond; a click is "more like this"."""
    points = resources.map_points(service)
    if not points:
        st.caption("This index has no map yet: rebuild it (python qdrant/initialize_db.py) to draw one.")
        return
    try:
        spot = service.place(vector, hits, resources.projection(service)) if vector is not None else None
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
            st.info(
                "Type a description, upload an image, take a photo or paste an image address (or choose a colour), "
                "then press Enter or Search."
            )
            return
        with st.spinner("Searching…"):
            result = session.results(service, query, options)
    except ArtsearchError as exc:
        show_problem(exc)
        return
    hits = result.hits
    if quality.notice(result):
        st.warning(quality.notice(result))
    if not hits:
        if not result.nothing_matches:
            st.info(cards.empty_results_message(state))
        return
    session.fragment(session.FEEDBACK, guarded(feedback_bar))(options)
    pictures.prefetch([hit.image_url for hit in hits], service.settings)
    mine = pictures.preview(image, service.settings) if image is not None else None
    if mine is not None:  # the uploaded image beside its results
        left, area = st.columns([1, 4])
        left.image(mine, caption="Your image", width="stretch")
    else:
        area = st.container()
    with area:
        for row in cards.rows(hits):
            for column, hit in zip(st.columns(cards.PER_ROW), row, strict=False):
                with column:
                    card(service, hit)
        if result.more:  # the last fetch was full: there may be more
            st.button(
                "Load more", key="more", on_click=session.load_more, help="The next results, none of these again."
            )
    if ss.get("show_map"):
        st.fragment(guarded(collection_map), key="map_view")(service, result.vector, hits)
    if ss.get("show_timeline"):
        timeline_view(hits)


def timeline_view(hits: list[Hit]) -> None:
    """The results by year (Altair); a click opens the artwork in the detail view."""
    rows = timeline.timeline_rows(hits)
    if not rows:
        st.caption("None of these results has a date to place on the timeline.")
        return
    chart = timeline.timeline_chart(rows)
    st.altair_chart(chart, key="timeline", on_select=session.on_timeline_select, selection_mode="pick", width="stretch")
    st.caption(" ".join(t for t in ("Click a work to open it.", timeline.undated_text(hits, rows)) if t))


# --- the detail view ----------------------------------------------------------------------------------------


@st.dialog("About this artwork", width="large", on_dismiss=session.close_work)
def detail_dialog(service: SearchService) -> None:
    work = ss.get("work", "")
    hit = session.shown_hit(work) or service.artwork(work)
    if hit is None:
        st.info("That artwork is no longer in the collection (a rebuild may have removed it); start a new search.")
        return
    st.query_params["work"] = hit.artwork_id  # a link to what is open (a fragment rerun keeps the rest)
    try:
        artist = resources.artists(service).get(str(hit.payload.get("artist_slug", ""))) or hit.artist
    except ArtsearchError:  # an unreadable artists.json: the record the search returned will do
        artist = hit.artist
    picture_column, facts_column = st.columns([3, 2], gap="medium")
    with picture_column, st.container(key="detail_pic"):
        picture = pictures.detail_source(hit.image_url, service.settings)
        if picture is not None:
            st.image(picture, width="content", alt=literal(f"{hit.title}, by {hit.artist_name}", "plain"))
        else:
            st.caption("Image unavailable.")
    with facts_column:
        st.subheader(literal(hit.title), anchor=False)
        st.markdown("  \n".join(f"**{label}:** {literal(value)}" for label, value in detail.facts(hit, artist)))
        swatches = cards.palette_html(hit.payload)
        if swatches:
            st.html(swatches)
        if session.shown_hit(hit.artwork_id) is not None:
            st.caption(literal(detail.why_shown(hit)))
        where = detail.source_link(hit, artist)
        if where is not None:
            st.link_button(literal(where[0]), cards.link(where[1]), icon=":material/open_in_new:")
        actions(hit.artwork_id, "detail_")
    # A result with copies folded into it, or a work opened from a link, is looked up in the whole collection; a
    # result shown alone had its near neighbours beside it already (and opening it must not search again).
    shown_alone = session.shown_hit(hit.artwork_id) is not None and not hit.copies
    found = [] if shown_alone else resources.copies_of(service, hit.artwork_id)
    copies = list(dict.fromkeys([*hit.copies, *found]))
    copy_hits = service.artworks(copies) if copies else []
    others = [w for w in resources.artist_works(service, hit.artist_name, cards.OTHER_WORKS + 1)]
    others = [w for w in others if w.artwork_id != hit.artwork_id][: cards.OTHER_WORKS]
    # The small pictures made on every core at once, as the grid's are (the first view of an artist makes them).
    pictures.prefetch([w.image_url for w in [*copy_hits, *others]], service.settings, pictures.THUMB_PX)
    if copies:
        where = "are folded into this result" if set(copies) == set(hit.copies) else "are in the collection"
        st.markdown(f"**{len(copies) + 1} copies of this picture** {where}:", help=detail.COPIES_HELP)
        thumbnails(service, copy_hits, "copy")
    with st.container(border=True, key="detail_artist"):
        for line in cards.artist_lines(artist, hit.artist_name):
            st.markdown(line)
        if others:
            st.caption("Other works in the collection")
            thumbnails(service, others, "other")


def thumbnails(service: SearchService, hits: list[Hit], kind: str) -> None:
    """Small pictures with their titles, in a row that wraps; a click opens that artwork here."""
    with st.container(horizontal=True, wrap=True, gap="small", key=f"{kind}_works"):
        for hit in hits:
            with st.container(width=120, key=f"tile_{kind}_{hit.artwork_id}"):
                picture = pictures.display_source(hit.image_url, service.settings, pictures.THUMB_PX)
                with st.container(key=f"thumb_{kind}_{hit.artwork_id}"):
                    if picture is not None:
                        st.image(picture, width="stretch", alt=literal(hit.title, "plain"))
                st.button(
                    literal(hit.title),
                    key=f"see_{kind}_{hit.artwork_id}",
                    type="tertiary",
                    on_click=session.open_work,
                    args=(hit.artwork_id,),
                )


def detail_view(service: SearchService) -> None:
    """Where the detail view opens: a fragment of its own, so opening an artwork reruns nothing else."""
    if ss.get("work"):
        detail_dialog(service)


# --- the page -------------------------------------------------------------------------------------------------


def main() -> None:
    st.set_page_config(page_title="artsearch", page_icon="🖼️", layout="wide")
    st.html(style.CSS)
    st.title("artsearch", anchor=False)
    st.caption(HELP)
    try:
        settings = load_settings(secrets=resources.secrets_dict(st.secrets))
        service = resources.get_service(settings)
    except ArtsearchError as exc:
        show_problem(exc)
        return
    session.new_run()
    session.init_from_link()
    problem: ArtsearchError | None = None
    try:
        choices = resources.overview(service)["facets"]
    except ArtsearchError as exc:
        choices, problem = {}, exc
    sidebar(service, choices, disabled=problem is not None)
    state, image, submitted = controls(settings)
    st.query_params.from_dict(web_state.params_from_state(state))
    if problem is not None:
        show_problem(problem)
    else:
        results(service, state, image, submitted)
        session.fragment(session.DETAIL, guarded(detail_view))(service)
    resources.warm_up(service)  # once per server: the model loads while the visitor reads the page


try:
    main()
except Exception:  # the last guard: a bug must not put a traceback on the page; the log keeps it
    log.exception("the search page failed")
    st.error(BUG)
