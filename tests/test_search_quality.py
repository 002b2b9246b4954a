"""Search that means something: the trained tiny CLIP, a held-out synthetic collection, the normal pipeline.

The collection is written by ``artsearch.testing.synthetic`` with a seed the model never saw, one
folder per colour and shape ("green_triangle"), so the folder source makes that the
"artist". Everything runs through the code users run: rebuild -> SearchService -> eval ->
the page. These tests fail if text and images stop meeting in one space: a tower swapped,
a preprocessing mismatch between ingest and query, a model mix-up.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from PIL import Image

from artsearch.evaluate import evaluate, near_duplicate
from artsearch.model.encoder import Encoder
from artsearch.rebuild import rebuild
from artsearch.search import Query, SearchService
from artsearch.sources import SourceOptions
from artsearch.testing.synthetic import COLOURS, SHAPES, write_dataset
from tests.support.app import card_titles
from tests.support.indexes import test_settings

TRAINED = str(Path(__file__).resolve().parents[1] / "models" / "tiny-clip-shapes")
HELD_OUT_SEED = 4242  # the model was trained on seed 0 and evaluated on 12345 and 2024
PER_COMBO = 8
CHANCE = 1 / (len(COLOURS) * len(SHAPES))


@pytest.fixture(scope="module")
def trained_encoder() -> Encoder:
    return Encoder(TRAINED, device="cpu", batch_size=32)


@pytest.fixture(scope="module")
def shapes_index(tmp_path_factory, trained_encoder):
    root = tmp_path_factory.mktemp("shapes")
    written = write_dataset(
        root / "shapes", len(COLOURS) * len(SHAPES) * PER_COMBO, seed=HELD_OUT_SEED, image_format="jpg"
    )
    settings = test_settings(root, TRAINED, batch_size=32)
    report = rebuild(
        settings, SourceOptions(source="folder", images_dir=root / "shapes"), encoder=trained_encoder, progress=False
    )
    assert report.indexed == len(written) and not report.skipped
    service = SearchService(settings, encoder=trained_encoder)
    yield settings, written, service
    service.index.close()


def precision_at(hits, label: str, k: int) -> float:
    return sum(h.artist_name == label for h in hits[:k]) / k


def test_text_queries_find_the_described_shapes(shapes_index):
    _, _, service = shapes_index
    precisions = {}
    for colour in COLOURS:
        for shape in SHAPES:
            hits = service.page(Query(text=f"a {colour} {shape}", k=5)).hits
            precisions[f"{colour} {shape}"] = precision_at(hits, f"{colour} {shape}", 5)
    mean = sum(precisions.values()) / len(precisions)
    # Chance is 1/30; the trained model reaches about 0.7 on held-out data.
    assert mean >= 0.6, precisions
    assert precisions["green triangle"] >= 0.6


def test_colour_words_are_understood_almost_perfectly(shapes_index):
    _, _, service = shapes_index
    for colour in COLOURS:
        hits = service.page(Query(text=f"a {colour} shape on a plain background", k=10)).hits
        assert sum(h.artist_name.startswith(colour) for h in hits) >= 8, (colour, [h.artist_name for h in hits])


def test_filters_and_text_combine_inside_qdrant(shapes_index):
    from artsearch.index.filters import Filters

    _, _, service = shapes_index
    hits = service.page(Query(text="a red circle", k=20, filters=Filters(artist=["blue square"]))).hits
    assert len(hits) == PER_COMBO and {h.artist_name for h in hits} == {"blue square"}


def test_altered_copies_find_their_original_first(shapes_index):
    _, written, service = shapes_index
    rng = random.Random(7)
    found = 0
    chosen = rng.sample(written, 40)
    for sample in chosen:
        copy = near_duplicate(Image.open(sample.path).convert("RGB"), rng)
        hits = service.page(Query(image=_jpeg(copy), k=1)).hits
        found += Path(hits[0].payload["image_key"]).name == sample.path.name
    assert found / len(chosen) >= 0.8


def test_an_indexed_image_finds_itself_with_score_one(shapes_index):
    _, written, service = shapes_index
    hits = service.page(Query(image=written[3].path.read_bytes(), k=3)).hits
    assert Path(hits[0].payload["image_key"]).name == written[3].path.name and hits[0].score >= 0.99


def test_eval_command_reports_meaning_well_above_chance(shapes_index):
    _, _, service = shapes_index
    report = evaluate(service, sample=120, duplicates=40, artist_template="a {artist}", min_label_count=3, seed=1)
    assert report.get("text->image artist precision@10") >= 0.5 > 5 * CHANCE
    assert report.get("image->image artist match@1") >= 0.25  # chance is 7/239, about 0.03
    assert report.get("near-duplicate recall@1") >= 0.7
    assert report.get("ANN recall@10 vs exact") >= 0.99
    print("\n" + report.table())


def test_the_page_shows_matching_shapes_first(shapes_index, monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    from artsearch.web import resources

    settings, _, _ = shapes_index
    for name, value in {
        "QDRANT_URL": "",
        "QDRANT_PATH": str(settings.qdrant_path),
        "ARTSEARCH_DATA_DIR": str(settings.data_dir),
        "EMBEDDER_NAME": TRAINED,
        "ARTSEARCH_DEVICE": "cpu",
        "ARTSEARCH_SECRETS": str(tmp_path / "none.toml"),
    }.items():
        monkeypatch.setenv(name, value)
    resources._service.clear()
    # The module's service holds the embedded folder; the page opens its own (one client per folder).
    shapes_index[2].index.close()
    try:
        at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
        at.query_params["q"] = "a yellow star"
        at.query_params["k"] = "4"
        at.run()
        assert not at.exception and not at.error
        titles = [t.split(" ", 1)[1] for t in card_titles(at)]  # "00110 yellow star on green": number, shape
        assert len(titles) == 4, [e.value for e in at.info]
        # Colour is near perfect for this model; star vs triangle is its known weak spot (see its README).
        assert all(t.startswith("yellow") for t in titles) and titles[0].startswith("yellow star"), titles
    finally:
        resources._service.clear()


def _jpeg(image: Image.Image) -> bytes:
    import io

    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=85)
    return buf.getvalue()
