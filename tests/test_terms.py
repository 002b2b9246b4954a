"""Why a result matched, and the Subjects facet: the vocabulary embedded at build with the text model, each
artwork's closest terms in its payload, computed from its vector. On the trained tiny CLIP with its shapes
vocabulary, for images it never trained on, the terms must be the picture's own colour, shape and background.
"""

from __future__ import annotations

import json

import pytest

from artsearch.index.filters import Filters
from artsearch.model.encoder import Encoder
from artsearch.rebuild import rebuild
from artsearch.search import Query, SearchService
from artsearch.sources import SourceOptions
from artsearch.terms import SUBJECTS_FIELD, TERMS_FIELD
from artsearch.vocabulary import load_vocabulary
from tests.support.cli import run_cli
from tests.support.indexes import SHAPES_VOCABULARY, TRAINED_CLIP, all_payloads, build_shapes_index

#: The vocabulary has 20 terms and a picture 3 true ones: a chance of 0.15. Measured: 0.72 (README).
MIN_PRECISION = 0.6


@pytest.fixture(scope="module")
def clip() -> Encoder:
    return Encoder(TRAINED_CLIP, device="cpu", batch_size=32)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory, clip):
    return build_shapes_index(tmp_path_factory.mktemp("terms"), 300, 2026, clip, vocabulary=SHAPES_VOCABULARY)


def truth(payload) -> set[str]:
    """A picture's colour, shape and background, from its file name ("00012_red_circle_on_blue.jpg")."""
    _, colour, shape, _, background = payload["title"].split(" ")
    return {colour, shape, f"{background} background"}


def top3_precision(payloads) -> float:
    return sum(len(set(p[SUBJECTS_FIELD]) & truth(p)) for p in payloads) / (3 * len(payloads))


def test_the_top_three_terms_of_held_out_images_are_their_colour_shape_and_background(shapes):
    settings, _ = shapes
    payloads = all_payloads(settings)
    assert all(len(p[SUBJECTS_FIELD]) == 3 and len(p[TERMS_FIELD]) == 8 for p in payloads)
    assert top3_precision(payloads) >= MIN_PRECISION


def test_a_vocabulary_embedded_wrongly_gives_wrong_terms_and_a_new_vocabulary_shows_at_the_next_build(
    shapes, clip, tmp_path
):
    """Each label embedded with another label's text (the embedding broken on purpose): the terms go to chance.
    The rebuild reuses every vector, so this also shows the terms are recomputed on every build."""
    settings, written = shapes
    vocabulary = load_vocabulary(SHAPES_VOCABULARY)
    shifted = vocabulary.texts[1:] + vocabulary.texts[:1]
    broken = tmp_path / "broken.txt"
    broken.write_text("".join(f"{label} | {text}\n" for label, text in zip(vocabulary.labels, shifted, strict=True)))
    images = written[0].path.parents[1]
    try:
        report = rebuild(
            settings.replace(vocabulary=broken), SourceOptions(source="folder", images_dir=images), encoder=clip
        )
        assert report.embedded == 0  # nothing decoded or embedded again
        assert top3_precision(all_payloads(settings)) < 0.3
    finally:
        rebuild(settings, SourceOptions(source="folder", images_dir=images), encoder=clip)
    assert top3_precision(all_payloads(settings)) >= MIN_PRECISION


def test_results_say_why_they_matched_and_the_subjects_filter_them(shapes, clip):
    settings, _ = shapes
    service = SearchService(settings, encoder=clip)
    try:
        hits = service.page(Query(text="a red shape on a blue background", k=5)).hits
        assert all(h.why and set(h.why) <= set(h.payload[TERMS_FIELD]) for h in hits)
        assert sum("red" in h.why or "blue background" in h.why for h in hits) >= 4, [h.why for h in hits]
        subjects = dict(service.facets()["subject"])
        assert {"red", "circle", "blue background"} <= set(subjects)
        filtered = service.page(Query(text="a shape", k=10, filters=Filters(subject=["circle"]))).hits
        assert filtered and all("circle" in h.payload[SUBJECTS_FIELD] for h in filtered)
    finally:
        service.index.close()


def test_the_command_line_filters_by_subject_and_prints_why(shapes):
    settings, _ = shapes
    env = {"ARTSEARCH_VOCABULARY": str(SHAPES_VOCABULARY)}
    result = run_cli(["-m", "artsearch", "search", "a green square", "--subject", "green", "--json"], settings, env)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert hits and all("green" in h["subjects"] and h["why"] for h in hits)


def test_a_vocabulary_that_cannot_be_used_is_one_line(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    with pytest.raises(Exception, match="holds no terms"):
        load_vocabulary(empty)
    with pytest.raises(Exception, match="Cannot read the vocabulary"):
        load_vocabulary(tmp_path / "missing.txt")
    assert len(load_vocabulary()) >= 250  # the shipped art vocabulary
