"""What a build adds to every payload after its ingest, from the stored vectors alone (no image decoded again):
the calibration sample's flag (:mod:`artsearch.calibration`) and each artwork's terms (:mod:`artsearch.terms`).

Run over every point of every build, full or incremental, so a new sample, a changed vocabulary or another
text model shows up at once, except a rebuild that holds exactly the live build's artworks with the same vectors,
annotated under the same :func:`annotation_key`: terms are standardised over the build's vectors and the sample is
chosen from its ids, so every point's annotation would come out as the live build's, and the ingest carried it over
from the vector cache's record of the live build instead (no vector read back, no payload rewritten). The
vocabulary's vectors are kept in ``<cache>/vocabulary/`` under the text model's identity and the terms' hash (JSON,
never a pickle), so a rebuild that embeds no image loads no model.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from artsearch.calibration import SAMPLE_FIELD, SAMPLE_NO, SAMPLE_SIZE, SAMPLE_YES, choose_sample
from artsearch.config import Settings
from artsearch.files import atomic_write_json
from artsearch.terms import SUBJECTS_FIELD, SUBJECTS_PER_WORK, TERMS_FIELD, TERMS_PER_WORK, top_terms
from artsearch.vocabulary import Vocabulary, load_vocabulary

log = logging.getLogger(__name__)

TextEncoder = Callable[[list[str]], np.ndarray]
#: The payload fields :func:`annotate_build` writes.
ANNOTATION_FIELDS = (SAMPLE_FIELD, TERMS_FIELD, SUBJECTS_FIELD)
#: Bump when the rule that turns (ids, vectors, vocabulary) into annotations changes: no build's are carried over.
ANNOTATION_RULE = 1


def annotation_key(settings: Settings, image_model: str, text_model: str) -> str:
    """What a build's annotations depend on beyond its ids and vectors: the rule, the vocabulary, the model that
    embeds it and the one that made the vectors. Two builds of the same artworks and vectors under one key have the
    same annotations."""
    vocabulary = load_vocabulary(settings.vocabulary)
    parts = [ANNOTATION_RULE, SAMPLE_SIZE, TERMS_PER_WORK, SUBJECTS_PER_WORK, image_model, text_model]
    parts += [vocabulary.labels, vocabulary.texts]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def vocabulary_vectors(
    settings: Settings, vocabulary: Vocabulary, model_key: str, encode: Callable[[], TextEncoder]
) -> np.ndarray:
    """The vocabulary's unit vectors by the text model: from the cache when this model embedded these terms before."""
    digest = hashlib.sha256(json.dumps([model_key, list(vocabulary.texts)]).encode()).hexdigest()[:32]
    path = Path(settings.export_cache_dir) / "vocabulary" / f"{digest}.json"
    try:
        data = json.loads(path.read_text())
        vectors = np.asarray(data["vectors"], dtype=np.float32)
        if vectors.shape[0] == len(vocabulary):
            return vectors
    except (OSError, ValueError, KeyError, TypeError):
        pass
    vectors = np.asarray(encode()(list(vocabulary.texts)), dtype=np.float32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, {"model": model_key, "vectors": vectors.round(7).tolist()})
    except OSError as exc:  # a cache we cannot write costs only time
        log.info("could not keep the vocabulary's vectors in %s: %s", path, exc)
    return vectors


def build_vectors(builder) -> tuple[list[str], np.ndarray]:
    """Every point's id and vector in ``builder``'s build (the map and the annotations are fitted over them)."""
    ids: list[str] = []
    chunks: list[np.ndarray] = []
    for points in builder.iter_points(with_payload=False):
        ids.extend(str(p.id) for p in points)
        if points:
            chunks.append(np.asarray([p.vector for p in points], dtype=np.float32))
    return ids, (np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32))


def annotate_build(
    builder, settings: Settings, model_key: str, encode: Callable[[], TextEncoder]
) -> dict[str, dict[str, object]]:
    """Flag the calibration sample and store every artwork's terms, over every point of ``builder``'s build;
    returns what was written (id -> its :data:`ANNOTATION_FIELDS`), for the cache's record of the build."""
    ids, vectors = build_vectors(builder)
    if not ids:
        return {}
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    vocabulary = load_vocabulary(settings.vocabulary)
    terms = top_terms(vectors, vocabulary_vectors(settings, vocabulary, model_key, encode), vocabulary.labels)
    sample = choose_sample(ids)
    annotations: dict[str, dict[str, object]] = {
        i: {
            SAMPLE_FIELD: SAMPLE_YES if i in sample else SAMPLE_NO,
            TERMS_FIELD: t,
            SUBJECTS_FIELD: t[:SUBJECTS_PER_WORK],
        }
        for i, t in zip(ids, terms, strict=True)
    }
    builder.set_payloads(annotations)
    log.info("calibration sample of %d and terms of %d artworks for %s", len(sample), len(ids), builder.collection)
    return annotations
