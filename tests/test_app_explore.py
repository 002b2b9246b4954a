"""The exploring features of the search page (map, refine, mixed queries, copies, groups, load more, surprise), through AppTest against real indexes and the tiny CLIP.

Two indexes: a private copy of the session's Kaggle-layout index (four
artists, titles that name them), and a small folder index holding a picture
with resized, re-compressed and cropped copies of it beside distinct ones.
Nothing is mocked; a map click is sent as the widget state a browser sends.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

from artsearch.config import Settings, load_settings
from artsearch.projection import Projection
from artsearch.search import Query
from artsearch.storage.local import LocalStorage
from artsearch.web import resources
from tests.support.app import QUERY, SECRETS, card_titles, cards, new_app, point_env, result_captions, upload
from tests.support.cli import run_cli
from tests.support.indexes import build_dupes_index, copy_index

pytestmark = pytest.mark.timeout(300)


# --- fixtures and helpers --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def explore_index(kaggle_index, tmp_path_factory) -> Settings:
    return copy_index(kaggle_index, tmp_path_factory.mktemp("explore_index"))[0]


@pytest.fixture(autouse=True)
def fresh_services() -> Iterator[None]:
    resources._service.clear()
    resources._map_points.clear()
    yield
    resources._service.clear()


@pytest.fixture
def env(explore_index, monkeypatch, tmp_path) -> Settings:
    point_env(monkeypatch, explore_index, tmp_path)
    return explore_index


def service():
    return resources.get_service(load_settings(secrets=SECRETS, env=os.environ))


def everything() -> dict[str, dict]:
    """id -> payload of every point, through the app's own cached service (one client per folder)."""
    return {str(p.id): dict(p.payload) for p in service().index.scroll(limit=1000)}


def clean(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def search(at: AppTest, text: str = QUERY, k: int = 12) -> AppTest:
    at.slider(key="k").set_value(k)
    at.text_input(key="q").input(text)
    return clean(at.run())


def chart(at: AppTest):
    found = list(at.get("vega_lite_chart"))
    assert len(found) == 1, found
    return found[0]


def map_rows(at: AppTest) -> list[dict]:
    import pyarrow as pa

    (dataset,) = chart(at).proto.datasets
    return pa.ipc.open_stream(dataset.data.data).read_all().to_pylist()


def click_on_map(at: AppTest, artwork_id: str) -> AppTest:
    """What the browser sends when a visitor clicks a point: the chart's selection state, then a rerun."""
    states = at._tree.get_widget_states()
    state = WidgetState(id=chart(at).proto.id)
    state.string_value = json.dumps({"selection": {"pick": [{"id": artwork_id}]}})
    states.widgets.append(state)
    return clean(at._run(widget_state=states))


def artists_of(ids: list[str]) -> list[str]:
    payloads = everything()
    return [payloads[i]["artist"] for i in ids]


# --- the ingest stores what the features need --------------------------------------------------------


def test_every_point_has_map_coordinates_a_hash_and_name_text_and_the_fit_is_kept(env):
    payloads = everything()
    assert len(payloads) == 22
    for p in payloads.values():
        assert 0.0 <= p["x"] <= 1.0 and 0.0 <= p["y"] <= 1.0
        assert len(p["phash"]) == 96 and p["name_text"] == f"{p['title']} {p['artist']}"
    xs, ys = [p["x"] for p in payloads.values()], [p["y"] for p in payloads.values()]
    assert min(xs) == min(ys) == 0.0 and max(xs) == max(ys) == 1.0  # scaled to the unit square
    collection = service().index.live_collection()
    raw = LocalStorage(env.data_dir).read_map(collection)
    projection = Projection.from_json(raw)
    assert projection.method == "pca" and b"pickle" not in raw
    records = service().index.retrieve(list(payloads)[:5], with_vectors=True)
    for r in records:  # the kept fit places a stored vector where its payload says it is
        assert np.allclose(projection.place(r.vector), (r.payload["x"], r.payload["y"]), atol=1e-4)


# --- 1. the map ----------------------------------------------------------------------------------------


def test_map_shows_every_artwork_highlights_the_results_and_places_the_query(env):
    at = new_app().run()
    at.toggle(key="show_map").set_value(True)
    at = search(at, k=5)
    rows = map_rows(at)
    payloads = everything()
    artworks = [r for r in rows if r["kind"] != "query"]
    assert {r["id"] for r in artworks} == set(payloads)  # all 22, not a sample
    results = [r["id"] for r in sorted(rows, key=lambda r: r["rank"]) if r["kind"] == "result"]
    assert results == cards(at)
    assert all(r["image"].startswith("data:image/jpeg;base64,") for r in rows if r["kind"] == "result")
    (query,) = [r for r in rows if r["kind"] == "query"]
    assert 0 <= query["x"] <= 1 and 0 <= query["y"] <= 1
    spec = json.loads(chart(at).proto.spec)
    assert spec["layer"][0]["encoding"]["color"]["field"] == "artist"
    at.radio(key="map_colour").set_value("genre").run()
    assert json.loads(chart(at).proto.spec)["layer"][0]["encoding"]["color"]["field"] == "genre"


def test_clicking_a_point_on_the_map_runs_more_like_this(env):
    at = new_app().run()
    at.toggle(key="show_map").set_value(True)
    at = search(at, k=4)
    outside = next(i for i in everything() if i not in cards(at))
    at = click_on_map(at, outside)
    assert at.query_params["mode"] == "like" and at.query_params["like"] == outside
    assert len(cards(at)) == 4 and outside not in cards(at)
    title = everything()[outside]["title"]
    assert any(m.value.startswith("More like **") and title.split()[0] in m.value for m in at.markdown)


# --- 2. refine with feedback -----------------------------------------------------------------------------


def test_refine_moves_liked_neighbours_up_and_disliked_out(env):
    at = search(new_app().run(), k=8)
    before = cards(at)
    liked, disliked = before[6], before[0]
    at.button(key=f"up_{liked}").click().run()  # only the card's actions and the feedback bar rerun
    assert at.button(key=f"up_{liked}").proto.type == "primary" and at.button(key=f"up_{liked}").label == "Liked"
    assert cards(at.run()) == before  # a full rerun draws the same page
    at.button(key=f"down_{disliked}").click().run()
    at.run()  # feedback survives reruns
    assert at.session_state["fb"] == {liked: 1, disliked: -1}
    assert cards(at) == before  # nothing changes until Refine
    at.button(key="refine").click().run()
    clean(at)
    after = cards(at)
    assert disliked not in after
    assert liked in after and after.index(liked) < before.index(liked)
    # the liked artwork's own nearest neighbours rise too
    neighbours = [h.artwork_id for h in service().page(Query(like_id=liked, k=3)).hits]
    ranks_before = [before.index(n) if n in before else 99 for n in neighbours]
    ranks_after = [after.index(n) if n in after else 99 for n in neighbours]
    assert sum(ranks_after) < sum(ranks_before)
    assert any("Refined: 1 liked, 1 disliked" in c.value for c in at.caption)
    at = search(at, text="a portrait of a woman", k=8)  # a new search clears the feedback
    assert at.session_state["fb"] == {} and not any("Refined" in c.value for c in at.caption)


# --- 3. mixed queries -----------------------------------------------------------------------------------


def closeness_to(ids: list[str], text: str) -> float:
    """How near the top of ``ids`` the artworks most like ``text`` are: cosine to it, discounted by rank (DCG)."""
    svc = service()
    target = svc.text_vector(text)
    vectors = {str(r.id): np.asarray(r.vector) for r in svc.index.retrieve(ids, with_vectors=True)}
    return float(sum(vectors[i] @ target / np.linalg.norm(vectors[i]) / np.log2(n + 2) for n, i in enumerate(ids)))


def test_query_arithmetic_weights_move_the_ranking_the_expected_way(env):
    at = new_app().run()
    ranked = {
        text: cards(search(at, text, k=22)) for text in ("sunflowers", "sunflowers + 4*blue", "sunflowers - blue")
    }
    assert all(len(ids) == 22 for ids in ranked.values())
    base, heavy, minus = (closeness_to(ranked[t], "blue") for t in ranked)
    assert minus < base < heavy
    svc = service()
    blue = svc.text_vector("blue")
    weights = [svc.arithmetic_vector(f"sunflowers + {w}*blue") @ blue for w in (0.5, 1, 2, 4)]
    assert weights == sorted(weights)  # more weight, nearer to blue
    assert any("sunflowers + blue - yellow" in (at.text_input(key="q").help or "") for _ in [0])
    # bad syntax is searched as plain words, never an error
    for text in ("sunflowers +", "+ blue", "sunflowers + - blue", "blue:abc + red", "2* + x"):
        assert len(cards(search(at, text, k=6))) == 6


def test_an_image_plus_words_blends_both(env):
    payloads = everything()
    image_key = next(p["image_key"] for p in payloads.values() if p["artist"] == "Vincent van Gogh")
    data = LocalStorage(env.data_dir).read_image(image_key)
    at = upload(new_app().run(), "vg.jpg", data)
    clean(at)
    alone = cards(at)
    assert payloads[alone[0]]["image_key"] == image_key
    at.text_input(key="mix").input("in winter").run()
    clean(at)
    svc = service()
    expected = svc.mixed_vector(svc.image_vector(data), "in winter")
    assert at.query_params["mix"] == "in winter"
    got = [h.artwork_id for h in svc.page(Query(image=data, text="in winter", k=12)).hits]
    assert cards(at) == got and expected is not None


# --- 5. one per artist, 6. load more -----------------------------------------------------------------------


def test_one_per_artist_never_shows_an_artist_twice_even_after_load_more(env):
    at = new_app().run()
    at.toggle(key="one_per_artist").set_value(True)
    at = search(at, k=3)
    first = cards(at)
    assert len(first) == 3 and len(set(artists_of(first))) == 3
    at.button(key="more").click().run()
    ids = cards(clean(at))
    assert ids[:3] == first and len(ids) == 4  # the collection has four artists
    assert len(set(artists_of(ids))) == len(ids)
    at.slider(key="per_artist").set_value(2).run()
    ids = cards(clean(at))
    counts = {a: artists_of(ids).count(a) for a in artists_of(ids)}
    assert max(counts.values()) == 2 and len(ids) == 3


def test_load_more_appends_the_next_page_and_never_repeats(env):
    at = search(new_app().run(), k=5)
    first = cards(at)
    at.button(key="more").click().run()
    second = cards(clean(at))
    at.button(key="more").click().run()
    third = cards(clean(at))
    assert second[:5] == first and third[:10] == second
    assert len(third) == 15 == len(set(third))
    at.button(key="more").click().run()
    at.button(key="more").click().run()  # past the end: what is left, still without repeats
    ids = cards(clean(at))
    assert len(ids) == len(set(ids)) == 22
    assert at.button(key="search") and not [b for b in at.button if b.key == "more"]


# --- 7. surprise me ---------------------------------------------------------------------------------------


def test_surprise_me_shows_a_random_artwork_from_the_collection_and_more_like_it(env):
    at = new_app().run()
    seen = set()
    for _ in range(4):
        at.button(key="surprise").click().run()
        clean(at)
        picked = at.query_params["like"]
        assert at.query_params["mode"] == "like" and picked in everything()
        assert len(cards(at)) == 12 and picked not in cards(at)
        assert any(m.value.startswith("More like **") for m in at.markdown)
        seen.add(picked)
    assert len(seen) > 1  # random, not always the same one


# --- 8. names count ----------------------------------------------------------------------------------------


def test_naming_an_artist_ranks_their_works_higher(env):
    at = new_app().run()
    van_gogh = {i for i, p in everything().items() if p["artist"] == "Vincent van Gogh"}
    plain = cards(search(at, "sunflowers in a vase", k=22))
    named = cards(search(at, "sunflowers in a vase van Gogh", k=22))
    rank = lambda ids: np.mean([ids.index(i) for i in van_gogh])  # noqa: E731
    assert rank(named) < rank(plain)
    assert set(named[: len(van_gogh)]) == van_gogh  # all four on top
    captions = result_captions(at)
    # The works the name moved up say so, instead of a similarity lower than the cards under them ...
    assert all(c.startswith("Vincent van Gogh") and c.endswith("· name match") for c in captions[:4]), captions
    # ... and the similarities shown fall down the page, never climbing back up.
    scores = [float(c.rsplit("similarity ", 1)[1]) for c in captions[4:]]
    assert len(scores) == 18 and scores == sorted(scores, reverse=True), captions


# --- 4. near-duplicate collapse ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dupes_index(tmp_path_factory, tiny_clip_path, shared_encoder) -> tuple[Settings, Path]:
    return build_dupes_index(tmp_path_factory.mktemp("dupes_index"), tiny_clip_path, shared_encoder)


def test_copies_of_one_picture_collapse_to_one_card_with_the_count(dupes_index, monkeypatch, tmp_path):
    settings, original = dupes_index
    point_env(monkeypatch, settings, tmp_path)
    at = upload(new_app().run(), "sunset.jpg", original.read_bytes())
    clean(at)
    ids = cards(at)
    assert len(ids) == 7  # 10 artworks: the picture and its 3 copies are one card, 6 others stay separate
    assert card_titles(at)[0] == "Sunset"
    assert [b.label for b in at.button if b.key.startswith("copies_")] == ["4 copies"]
    assert "similarity 1\\.00" in [c.value for c in at.caption]
    assert sum(c.startswith("Others") for c in result_captions(at)) == 6
    at.toggle(key="collapse").set_value(False).run()
    assert len(cards(clean(at))) == 10 and not [b for b in at.button if b.key.startswith("copies_")]


def test_cli_search_folds_copies_like_the_page_and_can_list_them(dupes_index):
    settings, original = dupes_index
    args = ["-m", "artsearch", "search", "--image", str(original), "--k", "10"]
    folded = run_cli([*args, "--json"], settings)
    assert folded.returncode == 0, folded.stderr
    hits = json.loads(folded.stdout)
    assert len(hits) == 7 and hits[0]["title"] == "Sunset" and len(hits[0]["copies"]) == 3
    listed = json.loads(run_cli([*args, "--json", "--all-copies"], settings).stdout)
    assert len(listed) == 10 and not any(h["copies"] for h in listed)
    folded_ids = {h["artwork_id"]: h["artist"] for h in listed if h["artwork_id"] in hits[0]["copies"]}
    assert len(folded_ids) == 3 and all(artist.startswith("Copyist") for artist in folded_ids.values())
    text = run_cli(args, settings).stdout.splitlines()
    assert len(text) == 7 and "(+3 copies: " in text[0]
    per_artist = json.loads(run_cli([*args, "--json", "--all-copies", "--per-artist", "1"], settings).stdout)
    assert len({h["artist"] for h in per_artist}) == len(per_artist) == 5  # Original, 3 copyists, Others


def test_collapse_is_a_setting(dupes_index, monkeypatch, tmp_path):
    settings, original = dupes_index
    point_env(monkeypatch, settings, tmp_path, ARTSEARCH_COLLAPSE_DUPLICATES="false")
    at = upload(new_app().run(), "sunset.jpg", original.read_bytes())
    assert at.toggle(key="collapse").value is False and len(cards(clean(at))) == 10
