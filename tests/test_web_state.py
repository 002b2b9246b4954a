"""The page's state without a page: links to and from a PageState, and the query a state asks for."""

from __future__ import annotations

import pytest

from artsearch.errors import EmptyQuery
from artsearch.index.filters import Filters
from artsearch.web import state as web_state

ID = "6f1f3a5e-3c2b-5a0e-9d55-a27e0c1c4b7a"


# --- links ------------------------------------------------------------------------------------------


def test_an_empty_page_has_an_empty_link():
    assert web_state.params_from_state(web_state.PageState()) == {}
    assert web_state.state_from_params({}) == web_state.PageState()


def test_link_round_trip_keeps_query_mode_k_and_filters():
    state = web_state.PageState(
        mode="text",
        text="a gloomy landscape",
        k=7,
        filters=Filters(artist=["Claude Monet", "Albrecht Dürer"], genre=["Baroque"]),
    )
    params = web_state.params_from_state(state)
    assert params == {
        "q": "a gloomy landscape",
        "k": "7",
        "artist": ["Claude Monet", "Albrecht Dürer"],
        "genre": ["Baroque"],
    }
    assert web_state.state_from_params(params) == state


def test_like_and_url_links():
    like = web_state.PageState(mode="like", like_id=ID, text="kept for going back")
    assert web_state.params_from_state(like) == {"mode": "like", "q": "kept for going back", "like": ID}
    assert web_state.state_from_params(web_state.params_from_state(like)) == like
    url = web_state.PageState(mode="url", url=" https://example.org/a.jpg ")
    assert web_state.params_from_state(url) == {"mode": "url", "url": "https://example.org/a.jpg"}


def test_streamlit_shapes_single_values_and_repeated_keys():
    # st.query_params.get_all gives lists; AppTest and hand-written dicts give strings for single values.
    state = web_state.state_from_params({"q": ["first", "last"], "artist": "Claude Monet", "k": ["3"]})
    assert (state.text, state.filters, state.k) == ("last", Filters(artist=["Claude Monet"]), 3)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"k": "0"}, {"k": 1}),
        ({"k": "51"}, {"k": 50}),
        ({"k": "lots"}, {"k": 12}),
        ({"mode": "bogus"}, {"mode": "text"}),
        ({"mode": "like", "like": "not-a-uuid"}, {"mode": "text", "like_id": ""}),
        ({"mode": "like"}, {"mode": "text"}),
        ({"mode": "like", "like": ID.upper()}, {"mode": "like", "like_id": ID}),
        ({"artist": ["A", "", "A", "B"]}, {"filters": Filters(artist=["A", "B"])}),
    ],
)
def test_tampered_links_become_sane_states(params, expected):
    state = web_state.state_from_params(params)
    for attr, value in expected.items():
        assert getattr(state, attr) == value


def test_known_drops_values_that_are_no_longer_choices():
    assert web_state.known(["Claude Monet", "Nobody", "Albrecht Dürer"], ["Albrecht Dürer", "Claude Monet"]) == [
        "Claude Monet",
        "Albrecht Dürer",
    ]


# --- queries ------------------------------------------------------------------------------------------


def test_nothing_to_search_is_quiet_until_search_is_pressed():
    for mode in ("text", "image", "url"):
        state = web_state.PageState(mode=mode, text="   ", url="  ")
        assert state.query(None) is None
        with pytest.raises(EmptyQuery) as exc:
            state.query(None, submitted=True)
        assert "\n" not in str(exc.value)


def test_queries_carry_mode_filters_and_a_clamped_k():
    state = web_state.PageState(text="winter", k=500, filters=Filters(artist=["Claude Monet"], nationality=["French"]))
    query = state.query()
    assert (query.mode, query.text, query.k) == ("text", "winter", 50)
    assert dict(query.filters) == {"artist": ("Claude Monet",), "nationality": ("French",)}
    assert web_state.PageState(mode="image", text="ignored").query(b"bytes").mode == "image"
    assert (
        web_state.PageState(mode="url", url="https://example.org/x.jpg").query().image_url
        == "https://example.org/x.jpg"
    )
    like = web_state.PageState(mode="like", like_id=ID, text="ignored").query()
    assert (like.mode, like.like_id) == ("like", ID)
