"""The search page, driven through ``streamlit.testing.v1.AppTest`` against a real index and the tiny CLIP.

Every test runs ``app.py`` as Streamlit would, with the environment pointing at
a private copy of the session's Kaggle-layout index; nothing is mocked.
"""

from __future__ import annotations

import functools
import http.server
import io
import os
import threading
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from artsearch.config import Settings, load_settings
from artsearch.index.filters import FACETS
from artsearch.index.write import IndexBuilder
from artsearch.storage.local import LocalStorage
from artsearch.web import resources
from tests.support.app import (
    QUERY,
    app_settings,
    assert_clean,
    card_titles,
    cards,
    detail_text,
    detail_view,
    messages,
    new_app,
    open_artwork,
    payloads,
    payloads_of,
    point_env,
    result_captions,
    search_text,
    unescaped,
    upload,
)
from tests.support.datasets import bomb_png
from tests.support.indexes import copy_index, test_settings
from tests.support.servers import free_port

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.usefixtures("fresh_services"),
]  # a fresh page service per test (conftest)


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_index(kaggle_index, tmp_path_factory) -> tuple[Settings, object]:
    """A private copy of the session index: the app's cached client holds it open for the whole module."""
    return copy_index(kaggle_index, tmp_path_factory.mktemp("app_index"))


@pytest.fixture
def env(app_index, monkeypatch, tmp_path) -> tuple[Settings, object]:
    settings, layout = app_index
    point_env(monkeypatch, settings, tmp_path)
    return settings, layout


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def image_server(app_index) -> Iterator[str]:
    """A local web server with the indexed images and an HTML page, for the image-URL mode."""
    _, layout = app_index
    root = layout.images_dir.parent
    (root / "page.html").write_text("<html><body>not an image</body></html>")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# --- searching ------------------------------------------------------------------------------------


def test_fresh_page_explains_itself_and_shows_no_error(env):
    at = new_app().run()
    assert_clean(at)
    assert at.title[0].value.endswith("artsearch")
    assert at.text_input(key="q").placeholder == QUERY
    assert not at.error
    assert [i.value for i in at.info] == [
        "Type a description, upload an image, take a photo or paste an image address (or choose a colour), "
        "then press Enter or Search."
    ]
    assert cards(at) == []


def test_text_search_renders_k_results_in_a_grid_and_reuses_the_model(env):
    at = search_text(new_app().run(), k=5)
    assert_clean(at)
    assert not messages(at)
    assert len(cards(at)) == 5
    assert len(result_captions(at)) == 5
    assert len(at.columns) >= 4  # a grid, not one column
    assert len([i for i in at.image if i.value]) >= 5
    assert at.query_params["q"] == QUERY and at.query_params["k"] == "5"
    service = resources.get_service(app_settings())
    encoder = service._encoder
    assert encoder is not None  # loaded by the first search
    at.text_input(key="q").input("a portrait of a woman").run()
    assert_clean(at)
    assert len(cards(at)) == 5
    assert resources.get_service(app_settings()) is service and service._encoder is encoder  # no reload


def test_k_defaults_to_12_and_goes_up_to_50(env):
    at = new_app().run()
    assert at.slider(key="k").value == 12 and (at.slider(key="k").min, at.slider(key="k").max) == (1, 50)
    at.text_input(key="q").input(QUERY).run()
    assert len(cards(at)) == 12 and "k" not in at.query_params
    at = search_text(at, k=50)
    assert len(cards(at)) == min(50, len(payloads()))  # the test collection holds fewer than 50


def test_image_search_of_an_indexed_artwork_shows_it_first_and_shows_the_upload(env):
    _, layout = env
    path = layout.valid[0]
    expected = next(p for p in payloads() if p["image_key"].endswith("/" + path.name))
    at = upload(new_app().run(), path.name, path.read_bytes())
    assert_clean(at)
    assert not messages(at)
    assert cards(at)[0] == expected["id"]
    assert card_titles(at)[0] == expected["title"]
    assert "similarity 1.00" in result_captions(at)[0]
    assert any(i.captions == ["Your image"] for i in at.image)
    assert at.query_params["mode"] == "image"


def test_image_url_search_fetches_server_side(env, image_server, monkeypatch):
    _, layout = env
    monkeypatch.setenv("ARTSEARCH_ALLOW_PRIVATE_URLS", "true")
    path = layout.valid[5]
    expected = next(p for p in payloads() if p["image_key"].endswith("/" + path.name))
    url = f"{image_server}/images/{path.parent.name}/{path.name}"
    at = new_app(mode="url", url=url).run()
    assert_clean(at)
    assert not messages(at)
    assert cards(at)[0] == expected["id"]
    assert at.query_params["url"] == url


def test_more_like_this_searches_by_the_stored_vector_and_leaves_the_seed_out(env):
    at = search_text(new_app().run(), k=4)
    seed = cards(at)[1]
    seed_title = card_titles(at)[1]
    at.button(key=f"like_{seed}").click().run()
    assert_clean(at)
    assert not messages(at)
    assert len(cards(at)) == 4
    assert seed not in cards(at)
    assert any(m.value.startswith("More like **") and seed_title.split()[0] in m.value for m in at.markdown)
    assert at.query_params["mode"] == "like" and at.query_params["like"] == seed
    at.button(key="back").click().run()
    assert "like" not in at.query_params and len(cards(at)) == 4 and seed in cards(at)
    at.button(key=f"like_{seed}").click().run()
    at.button(key="search").click().run()  # Search leaves "more like this" for the search in the box
    assert at.query_params.get("mode") is None and seed in cards(at)


def test_the_detail_view_shows_the_artwork_its_artist_and_the_artists_other_works(env):
    _ = env
    at = new_app(artist="Claude Monet", q=QUERY, k="3").run()
    assert_clean(at)
    ids = cards(at)
    assert len(ids) == 3 and detail_view(at) is None
    monet = [p for p in payloads() if p["artist"] == "Claude Monet"]
    first = next(p for p in monet if p["id"] == ids[0])
    at = open_artwork(at, ids[0])
    assert_clean(at)
    text = detail_text(at)
    assert first["title"] in text
    assert "Artist: Claude Monet (French, 1840–1926)" in text
    assert "Genre: Impressionism" in text and 'Source: Kaggle, "Best Artworks of All Time"' in text
    assert f"Image: {first['width']} × {first['height']} pixels" in text
    assert "Claude Monet was a painter." in text and "similarity" in text
    assert "[Wikipedia](https://en.wikipedia.org/wiki/Claude%20Monet)" in text
    view = detail_view(at)
    (source,) = [b for b in view.get("link_button")]
    assert source.proto.url == "https://en.wikipedia.org/wiki/Claude%20Monet"  # Kaggle's link is the artist's article
    others = [b for b in view.button if b.key.startswith("see_other_")]
    assert len(others) == min(8, len(monet) - 1)
    assert {unescaped(b.label) for b in others} <= {p["title"] for p in monet} - {first["title"]}
    assert at.query_params["work"] == ids[0]  # the open artwork is a link
    # An artist's other work opens in the same view.
    other = others[0].key.removeprefix("see_other_")
    at = view.button(key=others[0].key).click().run()
    assert_clean(at)
    assert next(p["title"] for p in monet if p["id"] == other) in detail_text(at)
    assert at.query_params["work"] == other


def test_a_link_with_work_opens_the_detail_view(env):
    _ = env
    target = next(p for p in payloads() if p["artist"] == "Vincent van Gogh")
    at = new_app(q=QUERY, k="4", work=target["id"]).run()
    assert_clean(at)
    assert len(cards(at)) == 4
    assert target["title"] in detail_text(at) and "Vincent van Gogh (Dutch, 1853–1890)" in detail_text(at)
    assert at.query_params["work"] == target["id"] and at.query_params["q"] == QUERY
    for bad in ("not-an-id", "6f1f3a5e-3c2b-5a0e-9d55-a27e0c1c4b7a"):  # malformed; well-formed but not indexed
        at = new_app(q=QUERY, k="4", work=bad).run()
        assert_clean(at)
        assert len(cards(at)) == 4
        if bad == "not-an-id":
            assert detail_view(at) is None and "work" not in at.query_params
        else:
            assert "no longer in the collection" in " ".join(i.value for i in detail_view(at).info)


def test_the_detail_view_for_an_artist_without_a_record(env):
    at = new_app(artist="Mystery Painter", q=QUERY, k="2").run()
    assert_clean(at)
    assert len(cards(at)) == 2
    at = open_artwork(at, cards(at)[0])
    text = detail_text(at)
    assert "Artist: Mystery Painter" in text and "No biography for this artist in the collection." in text
    assert not list(detail_view(at).get("link_button"))  # no page to link to


def test_filters_come_from_the_payload_and_restrict_every_result(env):
    _ = env
    at = new_app().run()
    # one sidebar widget per facet of the table, with its label: a list for keywords, a slider for a range
    assert [m.label for m in at.sidebar.multiselect] == [f.label for f in FACETS if f.kind == "keyword"]
    assert [s.label for s in at.sidebar.slider] == [f.label for f in FACETS if f.kind == "range"]
    assert len(at.sidebar.color_picker) == 2 * len([f for f in FACETS if f.kind == "colour"])
    options = at.multiselect(key="f_artist").options
    assert {"Claude Monet", "Vincent van Gogh", "Albrecht Dürer", "Mystery Painter"} <= {
        o.split(" (")[0] for o in options
    }
    at.multiselect(key="f_artist").select("Vincent van Gogh")
    at = search_text(at, k=12)
    assert_clean(at)
    van_gogh = [p for p in payloads() if p["artist"] == "Vincent van Gogh"]
    assert len(cards(at)) == len(van_gogh) == 4  # filtered inside Qdrant: k results would otherwise be 12
    assert all(c.startswith("Vincent van Gogh") for c in result_captions(at))
    assert at.query_params["artist"] == "Vincent van Gogh"
    at.multiselect(key="f_artist").unselect("Vincent van Gogh")
    at.multiselect(key="f_nationality").select("German").run()
    assert result_captions(at) and all(c.startswith("Albrecht Dürer") for c in result_captions(at))


def test_filters_that_match_nothing_say_so(env):
    at = new_app(artist=["Vincent van Gogh"], nationality=["French"], q=QUERY).run()
    assert_clean(at)
    assert cards(at) == []
    assert [i.value for i in at.info] == ["Nothing matches these filters; remove some in the sidebar."]


def test_query_params_reproduce_a_search(env):
    at = new_app().run()
    at.multiselect(key="f_artist").select("Claude Monet").select("Albrecht Dürer")
    at = search_text(at, text="sunset over the sea", k=7)
    first = cards(at)
    params = dict(at.query_params)
    assert params["q"] == "sunset over the sea" and params["k"] == "7"
    assert sorted(params["artist"]) == ["Albrecht Dürer", "Claude Monet"]
    shared = new_app(**params).run()
    assert_clean(shared)
    assert cards(shared) == first
    assert shared.text_input(key="q").value == "sunset over the sea" and shared.slider(key="k").value == 7
    assert sorted(shared.multiselect(key="f_artist").value) == ["Albrecht Dürer", "Claude Monet"]
    # "more like this" is a link too
    shared.button(key=f"like_{first[0]}").click().run()
    like = new_app(**dict(shared.query_params)).run()
    assert cards(like) == cards(shared) and first[0] not in cards(like)


def test_a_tampered_link_falls_back_to_sane_values(env):
    at = new_app(q=QUERY, k="9999", mode="bogus", artist=["Nobody at all"], like="not-a-uuid").run()
    assert_clean(at)
    assert not at.error
    assert at.slider(key="k").value == 50 and at.radio(key="mode").value == "text"
    assert at.multiselect(key="f_artist").value == []


def test_images_come_from_a_bucket_as_signed_urls(env, fake_gcs, gcs_bucket, service_account_info, monkeypatch):
    """Same page, storage switched to GCS (fake-gcs-server): cards show V4 signed URLs the browser can load."""
    import requests

    settings, _ = env
    local = LocalStorage(settings.data_dir)
    secrets = {"gcp_service_account": service_account_info, "Storage": {"BUCKET": gcs_bucket, "PREFIX": "art/"}}
    monkeypatch.setenv("ARTSEARCH_STORAGE_BACKEND", "gcs")
    monkeypatch.setenv("ARTSEARCH_STORAGE_ENDPOINT", fake_gcs.url)
    service = resources.get_service(load_settings(secrets=secrets, env=os.environ))
    originals = {p["image_key"]: local.read_image(p["image_key"]) for p in payloads_of(service)}
    for key, data in originals.items():
        service.storage.put_image(key, data)
    service.storage.write_artists(local.read_artists())
    at = new_app(secrets=secrets, q=QUERY, k="4").run()
    assert_clean(at)
    assert not messages(at)
    pictures = [i.value[0] for i in at.image if len(i.value) == 1]
    assert len(pictures) == 4
    for url in pictures:
        assert url.startswith(fake_gcs.url) and "X-Goog-Signature=" in url
        response = requests.get(url, timeout=10)
        assert response.status_code == 200 and response.content in originals.values()
    at = open_artwork(at, cards(at)[0])
    assert "was a painter." in detail_text(at)  # artists.json read from the bucket
    (large,) = [i.value[0] for i in detail_view(at).image if len(i.value) == 1][:1]
    assert large.startswith(fake_gcs.url) and "X-Goog-Signature=" in large  # the original, signed


# --- bad input and faults: one message, no traceback, the page still works ------------------------


def assert_one_message(at: AppTest, kind: str, *fragments: str) -> None:
    assert_clean(at)
    shown = at.error if kind == "error" else at.info
    assert len(messages(at)) == 1 and len(shown) == 1, messages(at)
    for fragment in fragments:
        assert fragment in messages(at)[0], messages(at)[0]
    assert cards(at) == []


def test_search_pressed_with_an_empty_box(env):
    at = new_app().run()
    at.button(key="search").click().run()
    assert_one_message(at, "info", "Type a few words")
    at.text_input(key="q").input("   ").run()
    at.button(key="search").click().run()
    assert_one_message(at, "info", "Type a few words")
    assert len(cards(search_text(at))) == 12  # still usable


def test_search_pressed_with_no_file_or_no_url(env):
    at = new_app(mode="image").run()
    at.button(key="search").click().run()
    assert_one_message(at, "info", "Choose an image file")
    at.radio(key="mode").set_value("url").run()
    at.button(key="search").click().run()
    assert_one_message(at, "info", "Paste the address of an image")


def noise_png(side: int) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG", compress_level=0)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "make", "fragment"),
    [
        ("notes.png", lambda layout: b"this is not an image at all\n", "not"),
        ("half.jpg", lambda layout: next(p for p in layout.broken if "truncated" in p.name).read_bytes(), "truncated"),
        ("empty.png", lambda layout: b"", "empty"),
        ("bomb.png", lambda layout: bomb_png(), "pixels"),
        ("huge.png", lambda layout: noise_png(700), "MB"),
    ],
    ids=["not-an-image", "truncated", "empty", "decompression-bomb", "over-the-upload-limit"],
)
def test_bad_uploads_show_one_error(env, monkeypatch, name, make, fragment):
    _, layout = env
    monkeypatch.setenv("ARTSEARCH_MAX_UPLOAD_MB", "1")  # the 1.4 MB noise PNG is over it
    at = upload(new_app().run(), name, make(layout), "image/png")
    assert_one_message(at, "error", fragment)
    path = layout.valid[1]
    at = upload(at, path.name, path.read_bytes())  # the page stays usable
    assert_clean(at)
    assert len(cards(at)) == 12 and not at.error


def test_image_url_faults(env, image_server, monkeypatch):
    monkeypatch.setenv("ARTSEARCH_ALLOW_PRIVATE_URLS", "true")
    at = new_app(mode="url", url=f"{image_server}/page.html").run()
    assert_one_message(at, "error", "web page")
    at = new_app(mode="url", url=f"http://127.0.0.1:{free_port()}/x.jpg").run()
    assert_one_message(at, "error")
    at = new_app(mode="url", url="ftp://example.org/x.jpg").run()
    assert_one_message(at, "error", "http")


def test_loopback_url_is_refused_without_the_allow_flag(env, image_server):
    _, layout = env
    path = layout.valid[0]
    at = new_app(mode="url", url=f"{image_server}/images/{path.parent.name}/{path.name}").run()
    assert_one_message(at, "error")
    assert "127.0.0.1" in messages(at)[0] or "address" in messages(at)[0]


def test_missing_collection_says_how_to_build_it(app_index, monkeypatch, tmp_path):
    settings, _ = app_index
    point_env(monkeypatch, settings.replace(qdrant_path=tmp_path / "empty-qdrant"), tmp_path)
    at = new_app(q=QUERY).run()
    assert_one_message(at, "info", "initialize_db.py")
    assert at.text_input(key="q").value == QUERY  # the page is still there


def test_empty_collection_says_how_to_build_it(app_index, monkeypatch, tmp_path):
    settings, _ = app_index
    empty = test_settings(tmp_path, settings.embedder_name)
    builder = IndexBuilder.start_build(empty, dim=64)
    builder.publish()
    builder.close()
    point_env(monkeypatch, empty, tmp_path)
    at = new_app(q=QUERY).run()
    assert_one_message(at, "info", "No artworks indexed yet")


def test_qdrant_unreachable(app_index, monkeypatch, tmp_path):
    settings, _ = app_index
    point_env(monkeypatch, settings, tmp_path, QDRANT_URL=f"http://127.0.0.1:{free_port()}")
    at = new_app(q=QUERY).run()
    assert_one_message(at, "error", "Cannot reach Qdrant")
    assert at.multiselect(key="f_artist").disabled


def test_a_malformed_setting_is_one_error(app_index, monkeypatch, tmp_path):
    settings, _ = app_index
    point_env(monkeypatch, settings, tmp_path, ARTSEARCH_STORAGE_BACKEND="ftp")
    at = new_app().run()
    assert_clean(at)
    assert len(at.error) == 1 and "BACKEND" in at.error[0].value
