"""Rebuild the index from the configured source: what initialize_db.py runs.

Chooses the source, opens the vector cache and a build collection (or resumes an unfinished one), runs the
ingest (which reuses every unchanged image's vector and embeds only new or changed ones), and publishes the
new collection under the alias the app reads. A failed or empty build publishes nothing: the old index
keeps serving.

A rebuild uses the configured model (default clip-ViT-B-32) and records it in the collection; ``--append``
uses the live index's own model unless one is configured, and refuses one that differs. The model is loaded
only if something needs embedding: the cache remembers which model files a model setting resolved to when
it was last loaded (:mod:`artsearch.model.identity`), and when those files are unchanged the rebuild finds
its cached vectors without loading it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from artsearch.annotate import TextEncoder, annotate_build, annotation_key, build_vectors
from artsearch.config import Settings
from artsearch.errors import ArtsearchError, ModelLoadError, ModelMismatch, SourceError
from artsearch.index.read import VectorIndex
from artsearch.index.write import IndexBuilder
from artsearch.ingest import EncoderOnDemand, IngestReport, ModelChanged, run_ingest
from artsearch.model.choice import IndexModel, model_for_index
from artsearch.model.encoder import Encoder
from artsearch.model.identity import identify, predicted_device
from artsearch.model.locate import locate
from artsearch.model.pairing import check_text_model
from artsearch.projection import Projection, fit
from artsearch.sources import SourceOptions, open_source
from artsearch.storage import open_storage
from artsearch.storage.base import Storage
from artsearch.vector_cache import VectorCache

log = logging.getLogger(__name__)


def rebuild(
    settings: Settings,
    options: SourceOptions,
    *,
    append: bool = False,
    encoder: Encoder | None = None,
    progress: bool = True,
    reuse: bool = True,
) -> IngestReport:
    """Build (or resume) a new collection from the source and publish it under the alias.

    With ``append``, new artworks are added to the live collection instead
    (cheaper, but in embedded mode the app must not have the index open).
    ``reuse=False`` (``--reembed``) embeds every image again instead of taking unchanged ones from the
    vector cache. ``encoder``: an already loaded model (tests, benchmarks); by default it is loaded when
    the first image needs embedding.
    """
    storage = open_storage(settings)
    source = open_source(options, settings, storage)
    name = model_for_index(settings, live_model(settings)) if append else settings.model_name
    cache = VectorCache.open(settings.vector_cache_path)
    published = False
    try:
        lazy = model_on_demand(settings, cache, encoder, name)
        recorded = index_model(lazy, name)  # what the build records, and what a text model must fit
        if append:
            builder = IndexBuilder.open_live(settings, lazy.model.dim, model=recorded)
        else:
            # The payload indexes are made while the source is listed and the cache looked up (on a loaded disk,
            # their files and fsyncs are most of an unchanged rebuild's fixed cost); the first write waits for them.
            builder = IndexBuilder.start_build(settings, lazy.model.dim, model=recorded, indexes_in_background=True)
        location = index_location(settings)
        try:
            previous = cache.live_build(location, builder.live_collection())
            projection = live_map(storage, settings, previous.collection if previous is not None else None)
            if append and previous is not None and previous.collection != builder.collection:
                cache.copy_items(previous.collection, builder.collection)  # the embedded append's copy of it
            while True:
                cache.begin_build(builder.collection, location, lazy.model)
                vocabulary_key, encode_vocabulary = vocabulary_model(settings, lazy, recorded)
                annotations = annotation_key(settings, lazy.model.key, vocabulary_key)
                try:
                    report = run_ingest(
                        source,
                        settings=settings,
                        encoder=lazy,
                        storage=storage,
                        builder=builder,
                        limit=options.limit,
                        progress=progress,
                        prune=not append,
                        cache=cache,
                        previous=previous,
                        reuse=reuse,
                        projection=projection,
                        annotation_key=annotations,
                    )
                    break
                except ModelChanged as changed:  # its files changed in a way the record could not see
                    log.warning("%s: starting the ingest again with it", changed)
                    cache.remember_model(model_setting(settings, name), changed.model)
                    lazy = EncoderOnDemand.loaded(changed.encoder)
            if builder.count() == 0:
                raise SourceError(
                    f"No valid images came from the {source.name} source, so nothing was published and the "
                    "previous index is unchanged. Check --images-dir / --source and the skipped list above."
                    + (f" First problem: {report.skipped[0][0]}: {report.skipped[0][1]}" if report.skipped else "")
                )
            kept_map = kept_live_map(projection, report, builder.count())
            if kept_map is not None:
                # The same vectors as the live build, or a few more or fewer: its map (a PCA of them) is this
                # build's, and every payload already has its x, y (new points were placed on it as written).
                storage.write_map(builder.collection, kept_map.to_json())
            else:
                add_map(builder, storage, settings)
            if previous is not None and carried_annotations(report, builder.count()):
                cache.copy_annotations(previous.collection, builder.collection)
            else:
                written = annotate_build(builder, settings, vocabulary_key, encode_vocabulary)
                cache.record_annotations(builder.collection, annotations, written)
            live = builder.live_collection()
            builder.publish()
            published = True
            cache.published(builder.collection, location)
        finally:
            if published:
                builder.close()
            else:
                builder.close_unpublished()  # an empty build is deleted: there is nothing in it to resume
        prune_maps(storage, keep={builder.collection, live})
    finally:
        cache.close()
    return report


#: A rebuild keeps the live build's map instead of fitting it again while the artworks added, re-embedded and removed
#: since the map was fitted are at most this share of the build: the new points are placed on the live PCA as they are
#: written (as a query is), two principal axes of a collection barely move when 5% of it changes, and every other
#: artwork keeps its place on the map. Fitting again reads every vector back, solves the 512 x 512 covariance and
#: rewrites every payload's x, y: at 256 artworks the largest cost of a rebuild that adds 1%, beyond embedding them.
#: The changes add up over rebuilds (``Projection.drift``), so a collection that keeps growing is refitted in time.
MAP_KEEP_SHARE = 0.05


def kept_live_map(projection: Projection | None, report: IngestReport, points: int) -> Projection | None:
    """The live build's map for this build (its drift updated), or None when the map must be fitted again."""
    if projection is None:
        return None
    if report.same_vectors:
        return projection
    if report.new is None or report.removed is None or points == 0:
        return None  # no record of the live build's artworks: nothing says how much changed
    drift = projection.drift + report.new_vectors + report.removed
    if drift > MAP_KEEP_SHARE * points:
        return None
    return dataclasses.replace(projection, drift=drift)


def carried_annotations(report: IngestReport, points: int) -> bool:
    """Whether every point of the build was written with the live build's annotations and they still hold: the
    build holds exactly the live build's artworks with the same vectors, so its terms (standardised over the
    build's vectors) and calibration sample (chosen from its ids) would come out the same."""
    return report.same_vectors and report.new_vectors == 0 and points > 0 and report.carried == points


def vocabulary_model(
    settings: Settings, lazy: EncoderOnDemand, image_model: IndexModel
) -> tuple[str, Callable[[], TextEncoder]]:
    """The model that embeds the vocabulary at a build: the text model when it fits this build's image model
    (else the image model, with a warning), as (its identity key, how to load it)."""
    text = settings.text_embedder_name
    if text:
        try:
            files = locate(text)
            check_text_model(files, image_model, allow_other=settings.allow_other_model)
            return (
                f"text:{files.name}:{files.fingerprint}",
                lambda: Encoder.from_settings(settings, name=text).encode_texts,
            )
        except (ModelMismatch, ArtsearchError) as exc:
            log.warning("the vocabulary is embedded with the image model: %s", exc)
    return lazy.model.key, lambda: lazy.get().encode_texts


def prune_maps(storage: Storage, keep: set[str | None]) -> list[str]:
    """Delete the maps of builds other than the live one and the one before it.

    The previous build's map stays: an app that has not yet noticed the publish may still read it.
    A map that cannot be deleted is left for the next rebuild; the build is published either way.
    """
    removed = []
    try:
        for collection in storage.map_collections():
            if collection not in keep:
                storage.delete_map(collection)
                removed.append(collection)
    except ArtsearchError as exc:
        log.warning("old maps were not pruned (%s); the next rebuild tries again", exc)
    if removed:
        log.info("pruned the maps of %d old builds", len(removed))
    return removed


def model_setting(settings: Settings, name: str) -> str:
    """What the cache files a model record under: the model's name and the settings that choose how it runs."""
    return json.dumps([name, settings.inference, settings.device])


def model_on_demand(settings: Settings, cache: VectorCache, encoder: Encoder | None, name: str) -> EncoderOnDemand:
    """The model ``name`` as the settings run it: loaded now only when its identity cannot be told from its files."""
    setting = model_setting(settings, name)
    if encoder is not None:
        lazy = EncoderOnDemand.loaded(encoder)
        same = (encoder.name, encoder.inference) == (name, settings.inference)
        if same and predicted_device(settings.device) == lazy.model.device:
            cache.remember_model(setting, lazy.model)  # what these settings load: a later rebuild need not load it
        return lazy

    def load() -> Encoder:
        # A batch job may pay for the one-off ONNX export, so the app finds it ready and never does.
        encoder = Encoder.from_settings(settings, name=name, export_missing=True)
        if not encoder.has_images:  # a text model (TEXT_EMBEDDER_NAME's kind) given as the image model
            raise ModelLoadError(
                f"The model {name} is a text model: it cannot embed images. Build with an image model (CLIP) as "
                "EMBEDDER_NAME (--model), and set this one as TEXT_EMBEDDER_NAME (--text-model) for searches."
            )
        return encoder

    record = cache.model_record(setting)
    if record is not None and predicted_device(settings.device) == record.device and record.still_current():
        log.info(
            "model %s unchanged since it was last loaded; loading it only if an image needs embedding", record.label
        )
        return EncoderOnDemand(record, load=load)
    loaded = load()
    model = identify(loaded)
    cache.remember_model(setting, model)
    return EncoderOnDemand(model, encoder=loaded)


def index_model(lazy: EncoderOnDemand, name: str) -> IndexModel:
    """What the build records about its model: from the loaded encoder, else from its files (not loaded)."""
    if lazy.is_loaded:
        return lazy.get().index_model()
    return IndexModel.of(locate(name), lazy.model.dim, lazy.model.inference)


def live_map(storage: Storage, settings: Settings, collection: str | None) -> Projection | None:
    """The live build's fitted map, when it is a PCA (which places any vector) and still the configured method."""
    if collection is None or settings.projection != "pca":
        return None
    try:
        projection = Projection.from_json(storage.read_map(collection))
    except (ArtsearchError, ValueError, KeyError, TypeError):
        return None
    return projection if projection.method == "pca" else None


def index_location(settings: Settings) -> str:
    """Which index a build belongs to, for the cache's records: the Qdrant URL (without credentials) or the
    embedded folder, and the alias."""
    if settings.qdrant_url:
        parts = urlsplit(settings.qdrant_url)
        where = f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"
    else:
        where = str(Path(settings.qdrant_path).resolve())
    return f"{where}#{settings.collection_name}"


def live_model(settings: Settings) -> IndexModel | None:
    """The model the live index records, or None (no index yet, or one built before models were recorded)."""
    index = VectorIndex(settings)
    try:
        return index.recorded_model()
    except ArtsearchError:
        return None
    finally:
        index.close()


#: The projection is fitted on at most this many vectors (a random sample), then applied to all of them.
MAP_FIT_SAMPLE = 20_000


def add_map(builder: IndexBuilder, storage: Storage, settings: Settings) -> None:
    """Fit the collection map over every vector of the build, write ``x, y`` into each payload, keep the fit.

    Runs after the ingest and before publishing, so the app never sees a
    build without its map. The fitted projection goes to storage as JSON
    (``maps/<collection>.json``) so a query can be placed on the same map.
    """
    ids, vectors = build_vectors(builder)
    if not ids:
        return
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
