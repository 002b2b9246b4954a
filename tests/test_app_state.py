"""What a rerun of the page does, through AppTest against a real index and the tiny CLIP: what it encodes,
fetches and asks Qdrant, how a page of k cards is filled when copies fold, and the sidebar's live counts.

The app's own cached SearchService is reached through ``artsearch.web.resources`` and its real encoder
and index are wrapped to count their calls; nothing is mocked.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from artsearch.index.filters import FACETS
from artsearch.search import Query, SearchService
from artsearch.web import resources
from tests.support.app import (
    app_settings,
    assert_clean,
    card_titles,
    cards,
    detail_text,
    new_app,
    open_artwork,
    payloads,
    point_env,
    search_text,
    upload,
)
from tests.support.indexes import build_dupes_index, copy_index

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.usefixtures("fresh_services"),
]  # a fresh page service per test (conftest)

ENCODER_CALLS = ("encode_texts", "encode_images")
INDEX_CALLS = ("query", "query_fused", "query_grouped", "retrieve", "count", "scroll", "scroll_page", "facet", "sample")


@pytest.fixture(scope="module")
def state_index(kaggle_index, tmp_path_factory):
    return copy_index(kaggle_index, tmp_path_factory.mktemp("state_index"))


@pytest.fixture
def env(state_index, monkeypatch, tmp_path):
    settings, layout = state_index
    point_env(monkeypatch, settings, tmp_path)
    return settings, layout


class _CountingHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def image_server(state_index) -> Iterator[tuple[str, list[str]]]:
    """A local web server with the indexed images, counting the requests it answers."""
    _, layout = state_index
    requests: list[str] = []
    handler = functools.partial(
        type("Handler", (_CountingHandler,), {"requests": requests}), directory=str(layout.images_dir.parent)
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()


def count_calls(service: SearchService) -> Counter:
    """Wrap the service's real encoder and index so every call is counted (the warm-up has finished first)."""
    for thread in threading.enumerate():
        if thread.name == "artsearch-warm-model":
            thread.join(120)
    calls: Counter = Counter()

    def counted(name: str, real):
        @functools.wraps(real)
        def call(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        return call

    for owner, names in ((service.encoder, ENCODER_CALLS), (service.index, INDEX_CALLS)):
        for name in names:
            setattr(owner, name, counted(name, getattr(owner, name)))
    return calls


def service() -> SearchService:
    return resources.get_service(app_settings())


# --- a rerun that changes nothing about the query encodes nothing and queries nothing ---------------------------


def test_feedback_the_detail_view_and_reruns_never_encode_or_search_again(env):
    at = new_app().run()
    calls = count_calls(service())
    at = search_text(at, k=8)
    assert_clean(at)
    ids = cards(at)
    assert len(ids) == 8 and calls["encode_texts"] == 1 and calls["query"] + calls["query_fused"] == 1
    assert calls["count"] == 0  # results came back: nothing to count

    calls.clear()
    at.button(key=f"up_{ids[0]}").click().run()  # a 👍: the card's actions and the feedback bar only
    assert_clean(at)
    assert at.button(key=f"up_{ids[0]}").label == "Liked" and at.button(key="refine")
    assert not calls, calls  # not a single encoder or Qdrant call

    at.run()  # a full rerun with nothing changed
    assert cards(at) == ids and not calls, calls

    at = open_artwork(at, ids[1])
    assert_clean(at)
    assert card_titles(at) == [] and detail_text(at)  # only the detail view ran: the grid was not drawn again
    assert not any(calls[name] for name in (*ENCODER_CALLS, "query", "query_fused", "count")), calls
    at.run()  # a full rerun with the detail view open
    assert cards(at) == ids and detail_text(at)

    calls.clear()
    at.toggle(key="show_map").set_value(True).run()  # the map places the query: with the vector it has
    assert_clean(at)
    at.toggle(key="collapse").set_value(False).run()  # a new shape of the same query: searched, not encoded
    assert cards(at) == ids and calls["query"] + calls["query_fused"] == 1
    assert not any(calls[name] for name in ENCODER_CALLS), calls

    calls.clear()
    at.button(key="more").click().run()  # load more: the next page only
    assert len(cards(at)) == 16 and cards(at)[:8] == ids
    assert calls["query"] + calls["query_fused"] == 1 and not any(calls[name] for name in ENCODER_CALLS), calls

    calls.clear()
    at.text_input(key="q").input("a portrait of a woman").run()  # a new query is encoded, once
    assert calls["encode_texts"] == 1


def test_an_upload_is_encoded_once_per_search(env):
    _, layout = env
    at = new_app().run()
    calls = count_calls(service())
    at = upload(at, layout.valid[2].name, layout.valid[2].read_bytes())
    ids = cards(at)
    assert len(ids) == 12 and calls["encode_images"] == 1
    at.button(key=f"down_{ids[3]}").click().run()
    at.run()
    at = open_artwork(at, ids[0])
    at.run()
    assert calls["encode_images"] == 1, calls


def test_an_image_address_is_fetched_once_per_search(env, image_server, monkeypatch):
    _, layout = env
    monkeypatch.setenv("ARTSEARCH_ALLOW_PRIVATE_URLS", "true")
    url, requests = image_server
    path = layout.valid[5]
    at = new_app(mode="url", url=f"{url}/images/{path.parent.name}/{path.name}").run()
    calls = count_calls(service())
    assert len(cards(at)) == 12 and len(requests) == 1
    at.button(key=f"up_{cards(at)[1]}").click().run()
    at.run()
    at.run()
    assert len(requests) == 1 and not calls["encode_images"], (requests, calls)  # fetched and encoded once


# --- k cards after copies fold ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dupes_index(tmp_path_factory, tiny_clip_path, shared_encoder):
    return build_dupes_index(tmp_path_factory.mktemp("state_dupes"), tiny_clip_path, shared_encoder)


def test_a_page_still_shows_k_cards_when_copies_fold(dupes_index, monkeypatch, tmp_path):
    settings, original = dupes_index  # one picture with 3 copies, and 6 other pictures: 7 distinct pictures
    point_env(monkeypatch, settings, tmp_path)
    # k=7 shows all 7 pictures (the first fetch of 7 held the 4 copies: 4 cards, then 3 more were fetched).
    at = new_app(k="7").run()
    at = upload(at, "sunset.jpg", original.read_bytes())
    assert_clean(at)
    assert len(cards(at)) == 7 and card_titles(at)[0] == "Sunset"
    assert [b.label for b in at.button if b.key.startswith("copies_")] == ["4 copies"]
    assert not [b for b in at.button if b.key == "more"]  # the collection is exhausted: no Load more
    # k=3: three cards; the copies fold into the first and two other pictures follow
    at.slider(key="k").set_value(3).run()
    assert len(cards(at)) == 3 and [b.label for b in at.button if b.key.startswith("copies_")] == ["4 copies"]
    at.button(key="more").click().run()
    assert len(cards(at)) == 6 == len(set(cards(at)))  # load more adds k cards too, none repeated


def test_the_service_fetches_more_to_fill_the_page_and_says_when_it_ends(dupes_index):
    settings, original = dupes_index
    svc = SearchService(settings)
    try:
        page = svc.page(Query(image=original.read_bytes(), k=7))
        assert len(page.hits) == 7 and page.fetched == 10 and not page.more
        assert len(page.hits[0].copies) == 3
        two = svc.page(Query(image=original.read_bytes(), k=2))
        assert len(two.hits) == 2 and two.more  # the first fetch of 2 were copies; more were fetched
        from artsearch.search import PageOptions

        again = svc.page(Query(image=original.read_bytes(), k=2), PageOptions(pages=2), previous=two)
        assert [h.artwork_id for h in again.hits[:2]] == [h.artwork_id for h in two.hits] and len(again.hits) == 4
    finally:
        svc.index.close()


# --- the sidebar's counts follow the other filters ------------------------------------------------------------


def test_facet_counts_follow_the_other_filters_and_blank_values_are_not_offered(env):
    everything = payloads()
    at = new_app().run()
    labels = {f.name: at.multiselect(key=f"f_{f.name}") for f in FACETS if f.kind == "keyword"}
    assert "" not in labels["nationality"].options and not any(
        o.startswith(" (") for o in labels["nationality"].options
    )
    assert any(p["nationality"] == "" for p in everything)  # the unmatched artist has no nationality
    assert (
        f"Vincent van Gogh ({sum(p['artist'] == 'Vincent van Gogh' for p in everything)})" in labels["artist"].options
    )

    at.multiselect(key="f_nationality").select("German").run()
    german = [p for p in everything if p["nationality"] == "German"]
    artists = at.multiselect(key="f_artist").options
    assert artists == [f"Albrecht Dürer ({len(german)})"]  # only the artists the other filter leaves
    genres = at.multiselect(key="f_genre").options
    assert genres == [f"Northern Renaissance ({len(german)})"]
    nationalities = at.multiselect(key="f_nationality").options  # its own choices still all on offer
    assert len(nationalities) == len({p["nationality"] for p in everything if p["nationality"]})

    at.multiselect(key="f_artist").select("Albrecht Dürer").run()
    at.multiselect(key="f_nationality").unselect("German").run()
    # The chosen artist keeps its own count, and the nationalities show Dürer's only.
    assert at.multiselect(key="f_nationality").options == [f"German ({len(german)})"]
    assert at.multiselect(key="f_artist").value == ["Albrecht Dürer"]
    at = search_text(at, k=12)
    assert len(cards(at)) == len(german)
