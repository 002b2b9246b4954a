"""The page's session state: the keys it keeps between reruns, the results it keeps, and its widgets' callbacks.

Streamlit reruns ``app.py`` top to bottom on every interaction; what must survive a rerun (the
"more like this" seed, feedback, loaded pages, the open artwork, the widgets' values read from a link)
lives in ``st.session_state`` under the keys written here, and only these callbacks change it.

The current search's results live here too (:func:`results`), keyed by the query: a rerun that
changes nothing about the query (a 👍, opening an artwork, a toggle of the map) encodes nothing and
queries nothing, "load more" fetches only the new page and a new shape of the same query (refine, one
per artist, copies) reuses its vector. Parts of the page that change alone are keyed fragments
(:data:`FEEDBACK`, :data:`DETAIL`, :func:`actions_key`); the callbacks rerun just those.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import streamlit as st

from artsearch.index.filters import FACETS, Filters
from artsearch.search import Hit, PageOptions, Query, ResultPage, SearchService
from artsearch.web import map as webmap
from artsearch.web.state import MODES, filter_key, state_from_params, valid_id

ss = st.session_state

FEEDBACK = "feedback"  #: the fragment with the 👍/👎 counts and Refine
DETAIL = "detail"  #: the fragment that opens the detail view (a dialog) of ``ss.work``
RESULTS = "_results"  #: the current search's ResultPage, with what it was searched for


def actions_key(artwork_id: str) -> str:
    """The fragment key of a card's row of actions (More like this, 👍, 👎)."""
    return f"actions_{artwork_id}"


# --- the current search's results ----------------------------------------------------------------------


def search_key(query: Query) -> tuple[Any, ...]:
    """What identifies a search, apart from how it is paged and shaped (an upload by its bytes' digest)."""
    digest = hashlib.sha256(query.image).hexdigest() if query.image is not None else ""
    return (query.mode, query.text, query.image_url, query.like_id, digest, query.filters, query.k, query.photo)


def _shape(options: PageOptions) -> tuple[Any, ...]:
    return (tuple(options.liked), tuple(options.disliked), options.per_artist, options.collapse, options.hide_weak)


def results(service: SearchService, query: Query, options: PageOptions) -> ResultPage:
    """The results of ``query`` shaped by ``options``, from the session when this search was run already.

    Only what changed is asked for: nothing when nothing did, the new pages after "load more", and for
    the same query in a new shape (refine, one per artist, copies) a new fetch with the vector it has.
    """
    search, shape, pages = search_key(query), _shape(options), max(1, options.pages)
    kept = ss.get(RESULTS)
    if kept and kept["search"] == search and kept["shape"] == shape and kept["pages"] == pages:
        return kept["page"]
    if kept and kept["search"] == search and kept["shape"] == shape and kept["pages"] < pages:
        page = service.page(query, options, previous=kept["page"])
    elif kept and kept["search"] == search:
        page = service.page(query, options, vector=kept["page"].vector)
    else:
        page = service.page(query, options)
    ss[RESULTS] = {"search": search, "shape": shape, "pages": pages, "page": page}
    return page


def shown_hit(artwork_id: str) -> Hit | None:
    """The result on the page with this id (its score and copies included), or None."""
    kept = ss.get(RESULTS)
    for hit in kept["page"].hits if kept else []:
        if hit.artwork_id == artwork_id:
            return hit
    return None


def seed(service: SearchService, artwork_id: str) -> Hit | None:
    """The artwork "more like this" started from (None when it is gone), looked up once per seed."""
    kept = ss.get("_seed")
    if kept is None or kept[0] != artwork_id:
        kept = ss._seed = (artwork_id, shown_hit(artwork_id) or service.artwork(artwork_id))
    return kept[1]


def new_run() -> None:
    """A full run starts: no keyed fragment is drawn yet."""
    ss._drawn = set()


def fragment(key: str, body: Callable[..., None]) -> Callable[..., None]:
    """``body`` as a keyed fragment (``st.fragment(key=...)``), remembered as drawn so callbacks can rerun it."""
    ss.setdefault("_drawn", set()).add(key)
    return st.fragment(body, key=key)


def _rerun(*keys: str) -> None:
    """From a widget's callback: rerun only these fragments (the ones this page drew), nothing else."""
    drawn = ss.get("_drawn", set())
    wanted = [key for key in keys if key in drawn]
    st.rerun(wanted if wanted else "app")


# --- callbacks ------------------------------------------------------------------------------------------


def set_like(artwork_id: str) -> None:
    ss.like = artwork_id
    ss.work = ""
    reset_explore()


def more_like(artwork_id: str) -> None:
    """ "More like this" from a card, the detail view or the map: a new search for the whole page."""
    set_like(artwork_id)
    st.rerun()


def clear_like() -> None:
    """A new search: leave "more like this", and forget feedback and loaded pages."""
    ss.like = ""
    reset_explore()


def reset_explore() -> None:
    ss.fb, ss.applied, ss.pages = {}, {"liked": [], "disliked": []}, 1


def give_feedback(artwork_id: str, value: int) -> None:
    """👍 (1) or 👎 (-1) on a result; the same button again takes it back. Reruns only the card's actions,
    the feedback bar and an open detail view: nothing is searched again."""
    fb = dict(ss.get("fb", {}))
    if fb.get(artwork_id) == value:
        fb.pop(artwork_id)
    else:
        fb[artwork_id] = value
    ss.fb = fb
    _rerun(actions_key(artwork_id), FEEDBACK, DETAIL)


def refine() -> None:
    fb = ss.get("fb", {})
    ss.applied = {"liked": [i for i, v in fb.items() if v > 0], "disliked": [i for i, v in fb.items() if v < 0]}
    ss.pages = 1
    st.rerun()


def load_more() -> None:
    ss.pages = ss.get("pages", 1) + 1


def open_work(artwork_id: str) -> None:
    """Open an artwork's detail view (from a card, the artist's works or the copies): only the view reruns."""
    ss.work = artwork_id
    _rerun(DETAIL)


def close_work() -> None:
    """The detail view was dismissed: forget it, and take it out of the address bar."""
    ss.work = ""
    if "work" in st.query_params:
        del st.query_params["work"]
    _rerun(DETAIL)


def on_map_select() -> None:
    """A click on the map runs "more like this" on that artwork."""
    picked = webmap.selected_id(ss.get("map"))
    if picked:
        more_like(picked)


def init_from_link() -> None:
    """On a session's first run, fill the widgets from the address bar so a shared link reproduces its search
    (and opens the artwork it names)."""
    if ss.get("_initialised"):
        return
    state = state_from_params({key: st.query_params.get_all(key) for key in st.query_params})
    ss.mode = state.mode if state.mode in MODES else "text"
    ss.like = state.like_id if state.mode == "like" else ""
    ss.q, ss.url, ss.k = state.text, state.url, state.k
    ss.work = valid_id(state.work)
    ss._pending_filters = {name: list(values) for name, values in state.filters.items()}
    ss._initialised = True


def colour_keys(name: str, n: int) -> tuple[str, str]:
    """The session-state keys of a colour facet's n-th toggle and picker."""
    return f"{filter_key(name)}_on{n}", f"{filter_key(name)}_pick{n}"


def set_colours(name: str) -> None:
    """A colour toggle or picker changed: the colours switched on become the filter (the second needs the first)."""
    chosen = []
    for n in range(2):
        on, pick = colour_keys(name, n)
        if ss.get(on) and (n == 0 or chosen):
            chosen.append(str(ss.get(pick, "")))
    ss[filter_key(name)] = chosen


def set_range(name: str, low: int, high: int) -> None:
    """A range slider moved: its span becomes the filter, or no filter when it spans everything."""
    value = tuple(ss.get(range_key(name), (low, high)))
    ss[filter_key(name)] = [] if value == (low, high) else [str(value[0]), str(value[1])]


def range_key(name: str) -> str:
    """The session-state key of a range facet's slider (its filter lives under :func:`filter_key`)."""
    return f"{filter_key(name)}_slider"


def on_timeline_select() -> None:
    """A click on the timeline opens that artwork."""
    picked = webmap.selected_id(ss.get("timeline"))
    if picked:
        open_work(picked)


def chosen_filters() -> Filters:
    """What the sidebar's filter widgets hold now."""
    return Filters({facet.name: ss.get(filter_key(facet.name), []) for facet in FACETS})
