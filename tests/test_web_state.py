"""The page's logic without a page: links, queries, card and artist-panel text, images, settings keys."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit import config as st_config
from streamlit.runtime.secrets import Secrets

from artsearch.catalog import Artist
from artsearch.config import load_settings
from artsearch.errors import CollectionMissing, EmptyQuery, ImageError, QdrantUnavailable
from artsearch.index.filters import Filters
from artsearch.search import Hit
from artsearch.web import cards, pictures, resources
from artsearch.web import state as web_state
from tests.support.datasets import jpeg_bytes, painting

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


# --- what the page shows ---------------------------------------------------------------------------------


def hit(**payload) -> Hit:
    return Hit(artwork_id=ID, score=0.8312, payload=payload, image_url=None)


def test_card_lines():
    assert cards.card_lines(hit(title="Water Lilies", artist="Claude Monet", year=1906)) == (
        "Water Lilies",
        "Claude Monet · 1906 · similarity 0.83",
    )
    assert cards.card_lines(hit()) == ("Untitled", "Unknown artist · similarity 0.83")


def test_markdown_in_data_is_shown_literally():
    assert cards.md_escape("$5 *bold* [x](y)") == r"\$5 \*bold\* \[x\]\(y\)"
    lines = cards.artist_lines(Artist(name="A_b", bio="costs $1 and $2"))
    assert lines[0] == r"**A\_b**" and r"\$1 and \$2" in lines[1]


def test_artist_panel_lines():
    artist = Artist(
        name="Claude Monet",
        years="1840 - 1926",
        nationality="French",
        genre="Impressionism",
        bio="word " * 400,
        wikipedia="http://en.wikipedia.org/wiki/Claude Monet",
    )
    lines = cards.artist_lines(artist)
    assert lines[0] == "**Claude Monet**"
    assert lines[1] == r"French · 1840 \- 1926 · Impressionism"
    assert lines[2].endswith("…") and len(lines[2]) <= 600
    assert lines[3] == "[Wikipedia](https://en.wikipedia.org/wiki/Claude%20Monet)"


def test_artist_panel_without_a_record_or_with_only_a_name():
    assert cards.artist_lines(None, "Mystery Painter") == [
        "**Mystery Painter**",
        "No biography for this artist in the collection.",
    ]
    assert cards.artist_lines(Artist(name="Anon"))[1] == "No biography for this artist in the collection."
    assert cards.artist_lines(Artist(name="Anon", birth_year=1600))[1] == "1600 –"
    assert not any(
        "Wikipedia" in line for line in cards.artist_lines(Artist(name="X", wikipedia="javascript:alert(1)"))
    )


def test_grid_rows():
    assert cards.rows(list(range(10))) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert cards.rows([]) == []


def test_message_kinds():
    assert cards.message_kind(CollectionMissing("x")) == "info"
    assert cards.message_kind(EmptyQuery("x")) == "info"
    assert cards.message_kind(QdrantUnavailable("x")) == "error"
    assert cards.message_kind(ImageError("x")) == "error"


def test_facet_labels_show_counts():
    label = cards.facet_label({"Claude Monet": 10})
    assert label("Claude Monet") == "Claude Monet (10)" and label("Other") == "Other"


# --- images ----------------------------------------------------------------------------------------------


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_local_images_become_small_rgb_jpegs(tmp_path: Path):
    settings = load_settings(secrets={}, env={})
    big = tmp_path / "big.jpg"
    big.write_bytes(jpeg_bytes(painting(1, size=(2000, 1000))))
    out = decoded(pictures.display_source(str(big), settings))
    assert out.format == "JPEG" and out.mode == "RGB" and out.size == (512, 256)
    deep = tmp_path / "deep.png"  # 16-bit greyscale: st.image cannot re-encode it as is
    Image.fromarray(np.linspace(0, 65535, 300 * 200).reshape(200, 300).astype(np.uint16)).save(deep)
    assert decoded(pictures.display_source(str(deep), settings, 100)).size == (100, 67)


def test_image_sources_that_cannot_be_shown_are_none(tmp_path: Path):
    settings = load_settings(secrets={}, env={})
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    assert pictures.display_source(str(broken), settings) is None
    assert pictures.display_source(str(tmp_path / "missing.jpg"), settings) is None
    assert pictures.display_source(None, settings) is None
    signed = "https://storage.googleapis.com/bucket/a.jpg?X-Goog-Signature=abc"
    assert pictures.display_source(signed, settings) == signed  # the browser fetches signed URLs itself


def test_upload_preview():
    settings = load_settings(secrets={}, env={})
    assert decoded(pictures.preview(jpeg_bytes(painting(2, size=(640, 480))), settings)).size == (512, 384)
    assert pictures.preview(b"GIF89a broken", settings) is None


# --- settings -----------------------------------------------------------------------------------------------


def test_settings_key_is_stable_and_sees_what_repr_hides():
    a = load_settings(secrets={}, env={}, qdrant_url="https://q.example.org", qdrant_key="one")
    b = load_settings(secrets={}, env={}, qdrant_url="https://q.example.org", qdrant_key="one")
    c = load_settings(secrets={}, env={}, qdrant_url="https://q.example.org", qdrant_key="two")
    assert repr(a) == repr(c)
    assert resources.settings_key(a) == resources.settings_key(b) != resources.settings_key(c)
    assert "one" not in resources.settings_key(a)


def test_secrets_without_a_file_are_empty(tmp_path: Path):
    previous = st_config.get_option("secrets.files")
    st_config.set_option("secrets.files", [str(tmp_path / "missing" / "secrets.toml")])
    try:
        assert resources.secrets_dict(Secrets()) == {}
        (tmp_path / "missing").mkdir()
        (tmp_path / "missing" / "secrets.toml").write_text('[Database]\nCOLLECTION_NAME = "paintings"\n')
        secrets = resources.secrets_dict(Secrets())
        assert secrets == {"Database": {"COLLECTION_NAME": "paintings"}}
        assert load_settings(secrets=secrets, env={}).collection_name == "paintings"
    finally:
        st_config.set_option("secrets.files", previous)
