"""Why a result matched: the vocabulary's terms closest to each artwork, kept in its payload, and at query time
those of them closest to the query too ("winter · snow · grey sky").

At every build (:func:`artsearch.annotate.annotate_build`) the vocabulary is embedded with the text model
(the image model when no text model is set), and each artwork keeps, computed from its stored vector
(no image is decoded again), the :data:`TERMS_PER_WORK` terms that describe it best: ``terms`` in its
payload, the first :data:`SUBJECTS_PER_WORK` of them also as ``subjects``, the "Subjects" facet. "Best"
is the cosine standardised per term over the collection, so a term close to every picture (CLIP has
such hub words) does not describe them all.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TERMS_FIELD = "terms"
SUBJECTS_FIELD = "subjects"
TERMS_PER_WORK = 8
SUBJECTS_PER_WORK = 3
WHY_TERMS = 3  # terms a result shows


def term_statistics(vectors: np.ndarray, terms: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Each term's mean and standard deviation of cosine over ``vectors`` (unit rows), in chunks."""
    total = np.zeros(len(terms), dtype=np.float64)
    squares = np.zeros(len(terms), dtype=np.float64)
    for start in range(0, len(vectors), chunk):
        sims = vectors[start : start + chunk] @ terms.T
        total += sims.sum(axis=0)
        squares += (sims.astype(np.float64) ** 2).sum(axis=0)
    n = max(1, len(vectors))
    mean = total / n
    return mean.astype(np.float32), np.sqrt(np.maximum(squares / n - mean**2, 1e-12)).astype(np.float32)


def top_terms(
    vectors: np.ndarray, terms: np.ndarray, labels: Sequence[str], k: int = TERMS_PER_WORK
) -> list[list[str]]:
    """Per vector, the labels of its ``k`` best terms (cosine standardised per term over ``vectors``), best first."""
    vectors = np.asarray(vectors, dtype=np.float32)
    terms = np.asarray(terms, dtype=np.float32)
    if not len(vectors) or not len(terms):
        return [[] for _ in range(len(vectors))]
    mean, std = term_statistics(vectors, terms)
    k = min(k, len(labels))
    out = []
    for start in range(0, len(vectors), 4096):
        z = (vectors[start : start + 4096] @ terms.T - mean) / std
        best = np.argsort(-z, axis=1, kind="stable")[:, :k]
        out.extend([labels[j] for j in row] for row in best)
    return out


def why(
    query: np.ndarray, work_terms: Sequence[str], term_vectors: dict[str, np.ndarray], k: int = WHY_TERMS
) -> list[str]:
    """Of an artwork's own terms, the ``k`` closest to the query, closest first: close to both."""
    known = [t for t in work_terms if t in term_vectors]
    if not known:
        return []
    sims = np.asarray([float(term_vectors[t] @ query) for t in known])
    return [known[i] for i in np.argsort(-sims, kind="stable")[:k]]
