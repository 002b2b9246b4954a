"""The page with the search-quality features, through AppTest on an index of the trained tiny CLIP: queries in
another language (TEXT_EMBEDDER_NAME = the multilingual student)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from artsearch.model.encoder import Encoder
from artsearch.web import resources
from tests.support.app import assert_clean, new_app, point_env, result_captions, search_text
from tests.support.indexes import STUDENT, TRAINED_CLIP, build_shapes_index

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    encoder = Encoder(TRAINED_CLIP, device="cpu", batch_size=32)
    return build_shapes_index(tmp_path_factory.mktemp("app_quality"), 150, 2027, encoder)


@pytest.fixture(autouse=True)
def fresh_services() -> Iterator[None]:
    resources._service.clear()
    yield
    resources._service.clear()


def test_the_search_box_takes_any_language_with_a_text_model(shapes, monkeypatch, tmp_path):
    settings, _ = shapes
    point_env(monkeypatch, settings, tmp_path, TEXT_EMBEDDER_NAME=STUDENT)
    at = new_app().run()
    assert at.text_input(key="q").label == "Describe the artwork, in any language"
    at = search_text(at, "un carré jaune", k=5)
    assert_clean(at)
    captions = result_captions(at)
    assert len(captions) == 5
    # "jaune" is understood (every result yellow) and the shape too (the best one a square).
    assert all(c.startswith("yellow") for c in captions) and captions[0].startswith("yellow square"), captions
