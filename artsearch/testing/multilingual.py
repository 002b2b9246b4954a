"""Data and measures for the tiny multilingual student (``models/tiny-clip-shapes-multilingual``).

The student is trained by multilingual knowledge distillation (Reimers & Gurevych, 2020): for
each English caption ``e`` and its translation ``t``, student(e) ~ teacher(e) and student(t) ~
teacher(e). Here the teacher is the text tower of ``models/tiny-clip-shapes`` and the captions
are those of :mod:`artsearch.testing.synthetic`, translated by :mod:`artsearch.testing.glossary`.

* :func:`split_combinations`: whole (colour, shape, background) combinations held out of
  training, two backgrounds per colour x shape, so every word is seen but never these captions.
* :func:`training_pairs`: every caption phrasing of the training combinations, in English and
  each language, paired with its English caption.
* :func:`cross_lingual_measures`: how a translated query ranks a collection of images embedded
  by the teacher's image tower, next to the same query in English: top-k overlap and precision@k.

Nothing runs at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from artsearch.testing import glossary, synthetic

Combination = tuple[str, str, str]  # (colour, shape, background)

#: Held-out combinations per colour x shape (of the 8 backgrounds each can have).
HELD_OUT_PER_PAIR = 2
SPLIT_SEED = 18
#: Images of the held-out collection come from this synthetic seed; the tiny CLIP trained on seed 0.
COLLECTION_SEED = 4242
TOP_K = 10


def all_combinations() -> list[Combination]:
    """Every (colour, shape, background) a synthetic sample can have: 6 x 5 x 8 = 240."""
    return [(c, s, b) for c in synthetic.COLOURS for s in synthetic.SHAPES for b in synthetic.BACKGROUNDS if b != c]


def split_combinations(
    seed: int = SPLIT_SEED, per_pair: int = HELD_OUT_PER_PAIR
) -> tuple[list[Combination], list[Combination]]:
    """(training, held-out) combinations: ``per_pair`` backgrounds of each colour x shape are held out."""
    rng = np.random.default_rng(seed)
    train: list[Combination] = []
    held_out: list[Combination] = []
    for colour in synthetic.COLOURS:
        for shape in synthetic.SHAPES:
            backgrounds = [b for b in synthetic.BACKGROUNDS if b != colour]
            chosen = set(rng.choice(len(backgrounds), size=per_pair, replace=False).tolist())
            for i, background in enumerate(backgrounds):
                (held_out if i in chosen else train).append((colour, shape, background))
    return train, held_out


@dataclass(frozen=True)
class Pair:
    """One distillation example: ``text`` (in ``language``) should embed like the English ``english``."""

    english: str
    text: str
    language: str


def training_pairs(
    combinations: Sequence[Combination], languages: Sequence[str] = ("en", *glossary.LANGUAGES)
) -> list[Pair]:
    """Every phrasing of each combination (with and without a size) in each language, deduplicated.

    Phrasings without a background ("a red circle") are the same for every background, so
    they are in training even for held-out combinations' colour x shape; only the captions
    that name a held-out combination's background are unseen.
    """
    pairs: dict[tuple[str, str], Pair] = {}
    for colour, shape, background in combinations:
        for size in glossary.SIZES:
            english = synthetic.caption_variants(colour, shape, background, size)
            for language in languages:
                translated = glossary.caption_variants(colour, shape, background, size, language=language)
                for e, t in zip(english, translated, strict=True):
                    pairs.setdefault((e, t), Pair(e, t, language))
    return list(pairs.values())


def full_caption_query(combination: Combination, language: str) -> str:
    """The combination's full caption: "un cercle rouge sur un fond bleu" (unseen for a held-out one)."""
    return glossary.make_caption(*combination, language)


def colour_shape_query(combination: Combination, language: str) -> str:
    """The combination's colour and shape only: "un cercle rouge" (a phrasing every colour x shape trains on)."""
    colour, shape, _background = combination
    return glossary.caption_variants(colour, shape, "white", language=language)[1]


QueryPhrasing = Callable[[Combination, str], str]


def held_out_queries(
    combinations: Sequence[Combination], language: str, query: QueryPhrasing = full_caption_query
) -> list[str]:
    """One query per combination in ``language``, phrased by ``query`` (the full caption by default)."""
    return [query(c, language) for c in combinations]


def collection(n: int = 600, seed: int = COLLECTION_SEED) -> list[synthetic.ShapeSample]:
    """The evaluation collection: ``n`` synthetic images from a seed no model was trained on."""
    return synthetic.generate(n, seed)


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-12)


def top_k(queries: np.ndarray, images: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """Indices of the ``k`` images closest (cosine) to each query, best first: (queries, k)."""
    sims = _normalise(queries) @ _normalise(images).T
    return np.argsort(-sims, axis=1, kind="stable")[:, :k]


def top_k_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per query, the share of ``a``'s top k that is also in ``b``'s top k (order ignored)."""
    return np.array([len(set(x.tolist()) & set(y.tolist())) / len(x) for x, y in zip(a, b, strict=True)])


def precision_at_k(top: np.ndarray, image_labels: Sequence[str], query_labels: Sequence[str]) -> np.ndarray:
    """Per query, the share of its top k images whose label ("red circle") is the query's."""
    labels = np.asarray(image_labels)
    return np.array([(labels[row] == label).mean() for row, label in zip(top, query_labels, strict=True)])


Encoder = Callable[[list[str]], np.ndarray]


def cross_lingual_measures(
    teacher_text: Encoder,
    student_text: Encoder,
    image_vectors: np.ndarray,
    image_labels: Sequence[str],
    combinations: Sequence[Combination],
    languages: Sequence[str] = glossary.LANGUAGES,
    k: int = TOP_K,
    query: QueryPhrasing = full_caption_query,
) -> dict[str, dict[str, float]]:
    """Per language, means over the combinations' queries of how the student ranks the images.

    ``top{k}_overlap_vs_teacher_en``: top-k overlap of student(translation) with teacher(English),
    the ranking the English query gets from the plain CLIP; ``top{k}_overlap_vs_student_en``:
    with the student's own English ranking (what a service using the student for every query
    shows); ``p@{k}``: precision@k against the images' colour x shape labels. Key ``"en"`` holds
    the English figures: the teacher's and the student's precision, the student against the teacher.
    """
    query_labels = [f"{c} {s}" for c, s, _b in combinations]
    english = held_out_queries(combinations, "en", query)
    teacher_top = top_k(teacher_text(english), image_vectors, k)
    student_en_top = top_k(student_text(english), image_vectors, k)
    report = {
        "en": {
            f"teacher_p@{k}": float(precision_at_k(teacher_top, image_labels, query_labels).mean()),
            f"p@{k}": float(precision_at_k(student_en_top, image_labels, query_labels).mean()),
            f"top{k}_overlap_vs_teacher_en": float(top_k_overlap(student_en_top, teacher_top).mean()),
        }
    }
    for language in languages:
        top = top_k(student_text(held_out_queries(combinations, language, query)), image_vectors, k)
        report[language] = {
            f"top{k}_overlap_vs_teacher_en": float(top_k_overlap(top, teacher_top).mean()),
            f"top{k}_overlap_vs_student_en": float(top_k_overlap(top, student_en_top).mean()),
            f"p@{k}": float(precision_at_k(top, image_labels, query_labels).mean()),
        }
    return report
