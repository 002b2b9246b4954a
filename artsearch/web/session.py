"""The page's session state: the keys it keeps between reruns and the callbacks its widgets run.

Streamlit reruns ``app.py`` top to bottom on every interaction; what must survive a rerun
(the "more like this" seed, feedback, loaded pages, the widgets' values read from a link) lives in
``st.session_state`` under the keys written here, and only these callbacks change it.
"""

from __future__ import annotations

import streamlit as st

from artsearch.index.filters import FACETS, Filters
from artsearch.web import map as webmap
from artsearch.web.state import MODES, filter_key, state_from_params

ss = st.session_state


def set_like(artwork_id: str) -> None:
    ss.like = artwork_id
    reset_explore()


def clear_like() -> None:
    """A new search: leave "more like this", and forget feedback and loaded pages."""
    ss.like = ""
    reset_explore()


def reset_explore() -> None:
    ss.fb, ss.applied, ss.pages = {}, {"liked": [], "disliked": []}, 1


def give_feedback(artwork_id: str, value: int) -> None:
    """👍 (1) or 👎 (-1) on a result; the same button again takes it back."""
    fb = dict(ss.get("fb", {}))
    if fb.get(artwork_id) == value:
        fb.pop(artwork_id)
    else:
        fb[artwork_id] = value
    ss.fb = fb


def refine() -> None:
    fb = ss.get("fb", {})
    ss.applied = {"liked": [i for i, v in fb.items() if v > 0], "disliked": [i for i, v in fb.items() if v < 0]}
    ss.pages = 1


def load_more() -> None:
    ss.pages = ss.get("pages", 1) + 1


def on_map_select() -> None:
    """A click on the map runs "more like this" on that artwork."""
    picked = webmap.selected_id(ss.get("map"))
    if picked:
        set_like(picked)


def init_from_link() -> None:
    """On a session's first run, fill the widgets from the address bar so a shared link reproduces its search."""
    if ss.get("_initialised"):
        return
    state = state_from_params({key: st.query_params.get_all(key) for key in st.query_params})
    ss.mode = state.mode if state.mode in MODES else "text"
    ss.like = state.like_id if state.mode == "like" else ""
    ss.q, ss.url, ss.k = state.text, state.url, state.k
    ss._pending_filters = {name: list(values) for name, values in state.filters.items()}
    ss._initialised = True


def chosen_filters() -> Filters:
    """What the sidebar's filter widgets hold now."""
    return Filters({facet.name: ss.get(filter_key(facet.name), []) for facet in FACETS})
