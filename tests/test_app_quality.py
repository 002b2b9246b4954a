"""The page with the search-quality features, through AppTest on indexes of the trained tiny CLIP: queries in
another language (TEXT_EMBEDDER_NAME = the multilingual student), match labels with "nothing matches" and
"Hide weak matches", why each result matched and the Subjects filter."""

from __future__ import annotations

import pytest

from artsearch.calibration import NOTHING_MATCHES
from artsearch.model.encoder import Encoder
from tests.support.app import assert_clean, new_app, point_env, result_captions, search_text, unescaped
from tests.support.indexes import (
    SHAPES_VOCABULARY,
    STUDENT,
    TRAINED_CLIP,
    build_partial_shapes_index,
    build_shapes_index,
)

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.usefixtures("fresh_services"),
]  # a fresh page service per test (conftest)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    encoder = Encoder(TRAINED_CLIP, device="cpu", batch_size=32)
    return build_shapes_index(tmp_path_factory.mktemp("app_quality"), 150, 2027, encoder)


@pytest.fixture(scope="module")
def partial(tmp_path_factory):
    encoder = Encoder(TRAINED_CLIP, device="cpu", batch_size=32)
    return build_partial_shapes_index(tmp_path_factory.mktemp("app_partial"), encoder, n=600)


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


def test_cards_carry_their_label_and_why_and_nothing_matching_is_said(partial, monkeypatch, tmp_path):
    settings, _ = partial
    point_env(monkeypatch, settings, tmp_path, ARTSEARCH_VOCABULARY=str(SHAPES_VOCABULARY))
    at = search_text(new_app().run(), "a red circle", k=4)
    assert_clean(at)
    assert len(result_captions(at)) == 4
    notes = [unescaped(c.value) for c in at.caption if unescaped(c.value).startswith(("strong match", "match"))]
    assert len(notes) == 4, notes
    assert all("circle" in n or "red" in n for n in notes), notes  # why: the terms close to both
    assert not [w.value for w in at.warning]
    assert "Subjects" in [m.label for m in at.multiselect]

    at = search_text(at, "a purple star", k=4)
    assert [w.value for w in at.warning] == [NOTHING_MATCHES]
    assert len(result_captions(at)) == 4
    assert len([c for c in at.caption if unescaped(c.value).startswith("weak match")]) == 4
    at.toggle(key="hide_weak").set_value(True)
    at = at.run()
    assert result_captions(at) == [] and "Hide weak matches" in at.warning[0].value
