"""Queries in other languages through the real service: an index built with the trained tiny CLIP, text queries
embedded by the multilingual student (``TEXT_EMBEDDER_NAME``), captions the student never saw.

The figures are ``eval``'s: per language, top-10 overlap with the same query in English and text->image
precision@10. They must fail when the text model is ignored (the tiny CLIP reading French) or broken (a
student whose Dense layer is re-initialised).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from artsearch import crosslingual
from artsearch.evaluate import evaluate
from artsearch.model.encoder import Encoder
from artsearch.search import Query, SearchService
from artsearch.testing import glossary, multilingual
from tests.support.cli import run_cli
from tests.support.indexes import STUDENT, TRAINED_CLIP, build_shapes_index

N_IMAGES = 300  # 10 per colour x shape
SEED = 2026  # no model trained on it
LANGUAGES = ("fr", "de", "es")
#: The issue's target; measured here: 0.94-0.95 (see the README's Search quality section).
MIN_OVERLAP = 0.8


def held_out_queries() -> crosslingual.QuerySet:
    """Each held-out combination's full caption in English, French, German, Spanish and Italian, expecting its
    colour x shape (the folder's "artist")."""
    _, held_out = multilingual.split_combinations()
    return crosslingual.QuerySet(
        [
            crosslingual.ParallelQuery(
                {lang: multilingual.full_caption_query(c, lang) for lang in ("en", *glossary.LANGUAGES)},
                artist=f"{c[0]} {c[1]}",
            )
            for c in held_out
        ]
    )


@pytest.fixture(scope="module")
def clip() -> Encoder:
    return Encoder(TRAINED_CLIP, device="cpu", batch_size=32)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory, clip):
    return build_shapes_index(tmp_path_factory.mktemp("crosslingual"), N_IMAGES, SEED, clip)


def service_with(settings, clip, **changes) -> SearchService:
    return SearchService(settings.replace(**changes), encoder=clip)


def test_queries_in_french_german_spanish_find_what_the_english_query_finds(shapes, clip):
    settings, _ = shapes
    service = service_with(settings, clip, text_embedder_name=STUDENT)
    try:
        report = evaluate(service, sample=20, duplicates=0, queries=held_out_queries())
        figures = {m.name: m.value for m in report.metrics}
        for lang in LANGUAGES:
            assert figures[f"{lang} query: top-10 overlap with English"] >= MIN_OVERLAP, figures
            assert figures[f"{lang} query: top-10 overlap with English via the image model"] >= MIN_OVERLAP, figures
            # As precise as English (full captions name a background too: the English figure is about 0.36).
            precision = figures[f"{lang} query: text->image artist precision@10"]
            assert precision >= 0.9 * figures["en query: text->image artist precision@10"] > 0.2, figures
        assert service.text_encoder.name == STUDENT and service.text_encoder.max_tokens == 128
        assert service.encoder.max_tokens == 77  # each model's own token limit
    finally:
        service.index.close()


def test_the_page_search_in_french_finds_the_shape(shapes, clip):
    settings, _ = shapes
    service = service_with(settings, clip, text_embedder_name=STUDENT)
    try:
        # The tiny models find about 3 in 4 of a colour x shape in English (tests/test_search_quality.py).
        for text, label in (("un cercle rouge", "red circle"), ("ein grünes Dreieck", "green triangle")):
            hits = service.page(Query(text=text, k=5)).hits
            assert sum(h.artist_name == label for h in hits) >= 3, (text, [h.artist_name for h in hits])
    finally:
        service.index.close()


def test_without_the_text_model_other_languages_fail_the_same_measure(shapes, clip):
    """The check that catches a service ignoring TEXT_EMBEDDER_NAME: the tiny CLIP reading French."""
    settings, _ = shapes
    service = service_with(settings, clip)
    try:
        figures = crosslingual.measure(service, held_out_queries().queries)
        assert max(figures[lang]["overlap"] for lang in LANGUAGES) < MIN_OVERLAP, figures
    finally:
        service.index.close()


def test_a_broken_student_fails_the_measure(shapes, clip, tmp_path):
    """The same student with its Dense layer re-initialised (its record still names the right image model)."""
    settings, _ = shapes
    broken = tmp_path / "broken-student"
    shutil.copytree(STUDENT, broken)
    weights = load_file(broken / "2_Dense" / "model.safetensors")
    rng = np.random.default_rng(0)
    save_file(
        {k: rng.normal(0, 0.1, v.shape).astype(v.dtype) for k, v in weights.items()},
        broken / "2_Dense" / "model.safetensors",
    )
    service = service_with(settings, clip, text_embedder_name=str(broken))
    try:
        figures = crosslingual.measure(service, held_out_queries().queries)
        # Translations still agree with the broken student's own English, but not with the image model's,
        # and find nothing right (chance is 1/30).
        assert max(figures[lang]["overlap_image_model"] for lang in LANGUAGES) < 0.5, figures
        assert max(figures[lang]["precision"] for lang in LANGUAGES) < 0.1, figures
    finally:
        service.index.close()


def test_eval_prints_the_cross_lingual_measures(shapes, tmp_path):
    settings, _ = shapes
    queries = held_out_queries()
    path = tmp_path / "queries.json"
    path.write_text(json.dumps({"queries": [{**q.texts, "artist": q.artist} for q in queries.queries]}))
    args = ["-m", "artsearch", "eval", "--sample", "10", "--duplicates", "0", "--text-model", STUDENT]
    result = run_cli([*args, "--queries", str(path), "--json"], settings)
    assert result.returncode == 0, result.stderr
    metrics = {m["name"]: m for m in json.loads(result.stdout)["metrics"]}
    for lang in LANGUAGES:
        assert metrics[f"{lang} query: top-10 overlap with English"]["value"] >= MIN_OVERLAP
        assert metrics[f"{lang} query: top-10 overlap with English"]["n"] == len(queries.queries)
    table = run_cli([*args, "--queries", str(path)], settings)
    assert "fr query: top-10 overlap with English" in table.stdout, table.stderr


def test_the_default_queries_file_reads_and_a_broken_one_is_one_line(tmp_path):
    default = crosslingual.load_queries()
    assert len(default.queries) >= 10 and default.templates
    assert all({"en", "fr", "de", "es"} <= set(q.texts) for q in default.queries)
    bad = tmp_path / "bad.json"
    bad.write_text('{"queries": [{"fr": "sans anglais"}]}')
    with pytest.raises(Exception, match="needs an English text"):
        crosslingual.load_queries(bad)
