"""The committed multilingual student ``models/tiny-clip-shapes-multilingual`` and the measures it is judged by.

The student is loaded with plain ``SentenceTransformer``, as the real
``clip-ViT-B-32-multilingual-v1`` would be, and must put French, German, Spanish and Italian
captions it never saw where the teacher (``models/tiny-clip-shapes``) puts the English ones:
a held-out collection of images, embedded by the teacher's image tower, must rank the same
way for a translated caption as for the English one. A student with its Dense layer
re-initialised, or its vocabulary shuffled, must fail that same check.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import numpy as np
import pytest

from artsearch.testing import glossary, multilingual

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODELS = Path(__file__).resolve().parents[1] / "models"
STUDENT_DIR = MODELS / "tiny-clip-shapes-multilingual"
TEACHER_DIR = MODELS / "tiny-clip-shapes"
COLLECTION_SEED = 2026  # neither the teachers' training (0) nor the training script's evaluation (4242)
N_IMAGES = 300  # 10 per colour x shape
#: Measured on this collection: top-10 overlap 0.94-0.95 against the teacher's English ranking and
#: 0.99 against the student's own, for every language; p@10 0.357 in every language, the
#: teacher's English 0.362 (full captions name a background, which pulls in other shapes).
MIN_OVERLAP = 0.85
#: A broken student must stay below this. Measured: Dense re-initialised 0.02, vocabulary
#: shuffled 0.03-0.06; chance for 10 of 300 images is about 0.03.
BROKEN_OVERLAP = 0.5


@pytest.fixture(scope="module")
def teacher():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(TEACHER_DIR), device="cpu")


@pytest.fixture(scope="module")
def student():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(STUDENT_DIR), device="cpu")


@pytest.fixture(scope="module")
def images(teacher) -> tuple[np.ndarray, list[str]]:
    samples = multilingual.collection(N_IMAGES, seed=COLLECTION_SEED)
    vectors = teacher.encode([s.image for s in samples], batch_size=64)
    return vectors, [s.label for s in samples]


def measures(teacher, student, images) -> dict[str, dict[str, float]]:
    vectors, labels = images
    _train, held_out = multilingual.split_combinations()
    return multilingual.cross_lingual_measures(
        lambda texts: teacher.encode(texts), lambda texts: student.encode(texts), vectors, labels, held_out
    )


@pytest.fixture(scope="module")
def report(teacher, student, images) -> dict[str, dict[str, float]]:
    return measures(teacher, student, images)


# --- the committed model -------------------------------------------------------------------------


def test_model_folder_is_small_safetensors_with_a_readme_and_metrics() -> None:
    files = {p.relative_to(STUDENT_DIR).as_posix() for p in STUDENT_DIR.rglob("*") if p.is_file()}
    assert {"modules.json", "config.json", "model.safetensors", "2_Dense/model.safetensors", "tokenizer.json"} <= files
    assert {"README.md", "metrics.json", "sentence_bert_config.json", "1_Pooling/config.json"} <= files
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pkl"))]
    assert sum(p.stat().st_size for p in STUDENT_DIR.rglob("*") if p.is_file()) < 5 * 1024 * 1024
    metrics = json.loads((STUDENT_DIR / "metrics.json").read_text())
    for language in glossary.LANGUAGES:
        assert metrics["ranking"][language]["top10_overlap_vs_teacher_en"] >= 0.8


def test_model_has_the_real_students_module_kinds(student) -> None:
    from sentence_transformers.sentence_transformer.modules import Dense, Pooling, Transformer

    modules = json.loads((STUDENT_DIR / "modules.json").read_text())
    assert [m["type"] for m in modules] == [
        "sentence_transformers.models.Transformer",
        "sentence_transformers.models.Pooling",
        "sentence_transformers.models.Dense",
    ]
    assert [type(m) for m in student] == [Transformer, Pooling, Dense]
    assert student[0].auto_model.config.model_type == "distilbert"
    assert student[1].pooling_mode == "mean"
    assert student[2].linear.bias is None
    assert student.max_seq_length == 128


def test_model_speaks_the_teachers_dimension(teacher, student) -> None:
    vectors = student.encode(["un cercle rouge", "ein roter Kreis", "a red circle"])
    assert vectors.dtype == np.float32
    assert vectors.shape == (3, teacher.get_embedding_dimension())


@pytest.mark.parametrize("language", glossary.LANGUAGES)
def test_held_out_captions_rank_images_as_the_english_ones_do(report, language: str) -> None:
    figures, english = report[language], report["en"]
    assert figures["top10_overlap_vs_teacher_en"] >= MIN_OVERLAP, report
    assert figures["top10_overlap_vs_student_en"] >= MIN_OVERLAP, report
    # Precision@10 against the true colour x shape: as good as the English query on the teacher.
    assert figures["p@10"] >= english["teacher_p@10"] - 0.05, report
    assert figures["p@10"] >= 5 / 30  # five times chance


def test_a_translation_lands_next_to_its_english_caption_not_another_one(teacher, student) -> None:
    _train, held_out = multilingual.split_combinations()
    target = teacher.encode(multilingual.held_out_queries(held_out, "en"), normalize_embeddings=True)
    for language in glossary.LANGUAGES:
        got = student.encode(multilingual.held_out_queries(held_out, language), normalize_embeddings=True)
        nearest = np.argmax(got @ target.T, axis=1)
        assert (nearest == np.arange(len(held_out))).mean() >= 0.9, language  # chance 1/60


# --- a broken student fails the same check --------------------------------------------------------


def reinitialised_dense(student):
    import torch

    broken = copy.deepcopy(student)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        broken[2].linear.reset_parameters()
    return broken


def shuffled_vocabulary(student):
    import torch

    broken = copy.deepcopy(student)
    embeddings = broken[0].auto_model.get_input_embeddings().weight
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        embeddings.copy_(embeddings[torch.randperm(len(embeddings), generator=generator)])
    return broken


@pytest.mark.parametrize("breakage", [reinitialised_dense, shuffled_vocabulary])
def test_a_broken_student_fails_the_ranking_check(teacher, student, images, breakage) -> None:
    broken = measures(teacher, breakage(student), images)
    for language in glossary.LANGUAGES:
        assert broken[language]["top10_overlap_vs_teacher_en"] < BROKEN_OVERLAP, broken


# --- the split and the measures ------------------------------------------------------------------


def test_held_out_captions_are_never_trained_on_but_their_words_are() -> None:
    train, held_out = multilingual.split_combinations()
    assert len(held_out) == 60 and len(train) == 180 and not set(train) & set(held_out)
    assert sorted(train + held_out) == sorted(multilingual.all_combinations())
    pairs = multilingual.training_pairs(train)
    trained_texts = {p.text for p in pairs}
    trained_words = {w for t in trained_texts for w in glossary.words(t)}
    for language in ("en", *glossary.LANGUAGES):
        for query in multilingual.held_out_queries(held_out, language):
            assert query not in trained_texts
            assert set(glossary.words(query)) <= trained_words, query
    assert {p.language for p in pairs} == {"en", *glossary.LANGUAGES}
    assert all(p.english in trained_texts for p in pairs)  # student(english) ~ teacher(english) is trained too


def test_overlap_and_precision_measure_what_they_say() -> None:
    a = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])
    b = np.array([[3, 2, 1, 0], [4, 5, 8, 9]])
    assert multilingual.top_k_overlap(a, b).tolist() == [1.0, 0.5]
    labels = ["red circle", "red circle", "blue star", "red circle", "blue star"]
    assert multilingual.precision_at_k(
        np.array([[0, 1, 2], [2, 4, 3]]), labels, ["red circle", "blue star"]
    ).tolist() == [
        pytest.approx(2 / 3),
        pytest.approx(2 / 3),
    ]
    queries = np.array([[1.0, 0.0], [0.0, 1.0]])
    images = np.array([[10.0, 0.1], [0.0, 3.0], [0.9, 0.1], [0.2, 0.8]])  # cosine, not dot product
    assert multilingual.top_k(queries, images, k=2).tolist() == [[0, 2], [1, 3]]
