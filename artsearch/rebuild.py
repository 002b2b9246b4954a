"""Rebuild the index from the configured source: what initialize_db.py runs.

Chooses the source, opens a build collection (or resumes an unfinished one),
runs the ingest, and publishes the new collection under the alias the app
reads. A failed or empty build publishes nothing: the old index keeps serving.
"""

from __future__ import annotations

import logging

import numpy as np

from artsearch.config import Settings
from artsearch.errors import SourceError
from artsearch.index.write import IndexBuilder
from artsearch.ingest import IngestReport, run_ingest
from artsearch.model.encoder import Encoder
from artsearch.projection import fit
from artsearch.sources import SourceOptions, open_source
from artsearch.storage import open_storage
from artsearch.storage.base import Storage

log = logging.getLogger(__name__)


def rebuild(
    settings: Settings,
    options: SourceOptions,
    *,
    append: bool = False,
    encoder: Encoder | None = None,
    progress: bool = True,
) -> IngestReport:
    """Build (or resume) a new collection from the source and publish it under the alias.

    With ``append``, new artworks are added to the live collection instead
    (cheaper, but in embedded mode the app must not have the index open).
    """
    storage = open_storage(settings)
    source = open_source(options, settings, storage)
    # A batch job may pay for the one-off ONNX export, so the app finds it ready and never does.
    encoder = encoder or Encoder.from_settings(settings, export_missing=True)
    builder = (IndexBuilder.open_live if append else IndexBuilder.start_build)(settings, encoder.dim)
    published = False
    try:
        report = run_ingest(
            source,
            settings=settings,
            encoder=encoder,
            storage=storage,
            builder=builder,
            limit=options.limit,
            progress=progress,
            prune=not append,
        )
        if builder.count() == 0:
            raise SourceError(
                f"No valid images came from the {source.name} source, so nothing was published and the previous "
                "index is unchanged. Check --images-dir / --source and the skipped list above."
                + (f" First problem: {report.skipped[0][0]}: {report.skipped[0][1]}" if report.skipped else "")
            )
        add_map(builder, storage, settings)
        builder.publish()
        published = True
    finally:
        if published:
            builder.close()
        else:
            builder.close_unpublished()  # an empty build is deleted: there is nothing in it to resume
    return report


#: The projection is fitted on at most this many vectors (a random sample), then applied to all of them.
MAP_FIT_SAMPLE = 20_000


def add_map(builder: IndexBuilder, storage: Storage, settings: Settings) -> None:
    """Fit the collection map over every vector of the build, write ``x, y`` into each payload, keep the fit.

    Runs after the ingest and before publishing, so the app never sees a
    build without its map. The fitted projection goes to storage as JSON
    (``maps/<collection>.json``) so a query can be placed on the same map.
    """
    ids: list[str] = []
    chunks: list[np.ndarray] = []
    for points in builder.iter_points():
        ids.extend(str(p.id) for p in points)
        if points:
            chunks.append(np.asarray([p.vector for p in points], dtype=np.float32))
    if not ids:
        return
    vectors = np.concatenate(chunks)
    sample = vectors
    if len(vectors) > MAP_FIT_SAMPLE:
        rng = np.random.default_rng(0)
        sample = vectors[np.sort(rng.choice(len(vectors), MAP_FIT_SAMPLE, replace=False))]
    projection, coords = fit(sample, settings.projection)
    if sample is not vectors:
        if projection.method != "pca":  # a layout method maps only what it was fitted on
            projection, coords = fit(vectors, settings.projection)
        else:
            raw = projection.raw(vectors)
            projection.low, projection.high = raw.min(axis=0), raw.max(axis=0)
            coords = projection.scale(raw)
    updates = {i: {"x": round(float(x), 5), "y": round(float(y), 5)} for i, (x, y) in zip(ids, coords, strict=True)}
    builder.set_payloads(updates)
    storage.write_map(builder.collection, projection.to_json())
    log.info("map of %d artworks (%s) written for %s", len(ids), projection.method, builder.collection)
