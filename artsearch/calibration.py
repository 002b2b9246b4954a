"""How good a match is: "strong match", "match" or "weak match", from the collection's own score scales.

A raw cosine means different things for different models, and text and image queries live on
different scales (CLIP's text-to-image cosines sit around 0.2-0.3, its image-to-image ones around
0.5-0.9). Each build therefore keeps a fixed random sample of its artworks (the
:data:`SAMPLE_FIELD` payload flag on up to :data:`SAMPLE_SIZE` points, chosen by a hash of their ids:
the same artworks give the same sample, so an incremental rebuild keeps it, and it is chosen again
over every point of every build). A search reads the sample's vectors once and learns, for each kind of query, what a genuine
best match scores in this collection with this model:

* text: each vocabulary term's (embedded by the service's text model) cosine to its nearest
  sampled picture;
* image: each sampled picture's cosine to its nearest other sampled picture.

A hit's *calibrated score* is the z-score of its cosine on its query's scale (0: as close as a
typical best match), and the label follows from :data:`STRONG_Z` and :data:`MATCH_Z`. A query whose
best hit is not a match gets "nothing in this collection looks much like that".

Why not the query's own distribution over the sample (its mean and spread)? Measured on the tiny CLIP
(a collection of 9 kinds of shape, queries for kinds it has and for kinds it lacks), a query that has
many matches spreads its own distribution, so its best hit's z-score is *lower* than that of a query
with none: the per-query z-score ranks out-of-collection queries above in-collection ones (AUC 0.0
for text queries, 0.32 for images), while the scales above separate them (README, Search quality).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

#: The payload field that flags the calibration sample's points (a keyword: Qdrant Edge reads a Python bool as 1).
SAMPLE_FIELD = "calibration_sample"
SAMPLE_YES, SAMPLE_NO = "yes", "no"
SAMPLE_SIZE = 1000
#: Calibrated scores (z-scores on the query's scale) from which a hit is a "match" / a "strong match", set on
#: the tiny CLIP's held-out shapes (tests/test_calibration.py; figures in the README's Search quality).
MATCH_Z = 0.0
STRONG_Z = 1.5
STRONG, MATCH, WEAK = "strong match", "match", "weak match"
NOTHING_MATCHES = "Nothing in this collection looks much like that; here are the closest."


def choose_sample(ids: Iterable[str], size: int = SAMPLE_SIZE) -> set[str]:
    """A fixed random sample of ``ids``: the ``size`` whose SHA-256 is smallest (the same ids, the same sample)."""
    keyed = sorted((hashlib.sha256(str(i).encode()).hexdigest(), str(i)) for i in ids)
    return {i for _, i in keyed[:size]}


@dataclass(frozen=True)
class Scale:
    mean: float
    std: float

    @classmethod
    def of(cls, cosines: np.ndarray) -> Scale:
        return cls(float(np.mean(cosines)), max(float(np.std(cosines)), 1e-6))

    def z(self, cosine: float) -> float:
        return (float(cosine) - self.mean) / self.std


@dataclass(frozen=True)
class Calibration:
    """The two scales of one build (and text model), learnt from its stored sample."""

    text: Scale
    image: Scale
    sample: int

    @classmethod
    def fit(cls, sample: np.ndarray, terms: np.ndarray) -> Calibration | None:
        """From the sample's unit vectors and the vocabulary's (unit) text vectors; None for fewer than 2 points."""
        sample = np.asarray(sample, dtype=np.float32)
        if len(sample) < 2:
            return None
        pairs = sample @ sample.T
        np.fill_diagonal(pairs, -np.inf)
        image = pairs.max(axis=1)  # each sampled picture's nearest other picture
        text = (np.asarray(terms, dtype=np.float32) @ sample.T).max(axis=1)  # each term's nearest picture
        return cls(Scale.of(text), Scale.of(image), len(sample))

    def score(self, cosine: float, mode: str) -> float:
        """The calibrated score of a cosine for a query of ``mode`` ("text", else an image-like query)."""
        return (self.text if mode == "text" else self.image).z(cosine)


def label(calibrated: float) -> str:
    if calibrated >= STRONG_Z:
        return STRONG
    return MATCH if calibrated >= MATCH_Z else WEAK


def is_match(label_: str | None) -> bool:
    return label_ in (STRONG, MATCH)
