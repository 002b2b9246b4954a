"""Ingest: source -> reuse or decode (threads) -> encode (batches) -> upsert (batches).

Incremental: every image's vector and pixel fields are kept in the vector cache
(:mod:`artsearch.vector_cache`) by the SHA-256 of its bytes and the model that made them. An image whose
bytes and model are unchanged is not decoded or embedded again: its cached vector (bit for bit) and pixel
fields (:mod:`artsearch.pixels`) go into the new build with the source's current metadata. A file whose
fingerprint (size and mtime) is unchanged is not even read: the cache remembers its hash. Only new or
changed images are decoded and embedded, and the model is loaded only when one is (see
:class:`EncoderOnDemand`).

Streaming: at most a few batches of images are in memory at once. Reading, hashing, decoding (Pillow with
JPEG ``draft``) and CLIP's preprocessing run on a small thread pool a couple of batches ahead of the
model, and each batch's upsert runs on a writer thread while the model embeds the next batch, so
reading, embedding and writing all overlap. The main thread only joins tensors and runs the model.

Resumable and idempotent: point ids are UUIDv5 of ``(source, source_id)``. A rebuild upserts every
artwork the source yields (from the cache where it can, which is what makes a resumed build cheap and
always right: a resumed build gets today's metadata and model too), then prunes points the source no
longer yields; ``--append`` skips ids already in the live collection. A run killed at any moment and
started again ends with exactly one point per valid image.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from artsearch import pixels
from artsearch.catalog import Artist
from artsearch.config import Settings
from artsearch.errors import ArtsearchError, WriteError
from artsearch.images import WEB_FORMATS, image_format, load_image
from artsearch.index.write import IndexBuilder
from artsearch.model.encoder import Encoder, Features
from artsearch.model.identity import ModelId, identify
from artsearch.projection import Projection
from artsearch.sources.base import Source, SourceItem
from artsearch.storage.base import Storage
from artsearch.vector_cache import BuildRecord, Cached, Entry, VectorCache, content_hash

log = logging.getLogger(__name__)

# CLIP looks at 224 px; JPEG draft decodes at the smallest power-of-two scale at least this big.
DRAFT_SIZE = (224, 224)
CHECK_CHUNK = 256
#: Reused points are upserted in batches of this many (no model forward to wait for, so larger ones).
REUSE_BATCH = 1024


@dataclass
class IngestReport:
    """What a run did. ``skipped`` lists (path or URL, reason) for every unusable record.

    ``indexed`` = ``embedded`` + ``reused``: the points this run wrote. ``updated``: reused points whose
    metadata differs from the live build's; ``new`` and ``removed``: artworks the live build does not hold,
    and those it holds that the source no longer has (None when the cache has no record of the live build).
    """

    indexed: int = 0
    embedded: int = 0
    reused: int = 0
    new: int | None = None  # artworks the live build does not hold (None: no record of it)
    updated: int = 0
    removed: int | None = None
    #: Points whose vector the live build does not hold under their id (new artworks, re-embedded images): what a
    #: rebuild placed on the live map rather than carried over (see ``rebuild.kept_live_map``).
    new_vectors: int = 0
    #: Points written with the live build's annotations (terms, subjects, sample flag), carried over from the
    #: cache's record of it: the same artwork and content, annotated under this run's ``annotation_key``.
    carried: int = 0
    already_indexed: int = 0  # --append: already in the live collection, left as they are
    pruned: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    collection: str = ""
    model: str = ""
    #: The live build's model label when it differs from this run's (its vectors could not be reused).
    previous_model: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def same_vectors(self) -> bool:
        """The build holds exactly the live build's artworks with the same vectors (metadata may differ)."""
        return self.removed == 0 and self.new == 0 and self.embedded == 0

    @property
    def images_per_second(self) -> float:
        """Images decoded and embedded per second of the run."""
        return self.embedded / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        removed = self.removed if self.removed is not None else self.pruned
        lines = [
            f"Indexed {self.indexed} artworks into {self.collection} in {self.seconds:.1f} s: "
            f"embedded {self.embedded} ({self.images_per_second:.1f} images/s), "
            f"reused {self.reused} unchanged from the vector cache, updated the metadata of {self.updated}, "
            f"removed {removed} no longer in the source"
            + (f"; {self.already_indexed} were already indexed" if self.already_indexed else "")
            + f"; skipped {len(self.skipped)}."
        ]
        if self.previous_model:
            lines.append(
                f"  The live build was made with {self.previous_model} and this one with {self.model}: "
                "vectors of the old model or path are never reused, so "
                + (
                    "every image was embedded again."
                    if not self.reused
                    else "only images embedded before by this one were reused."
                )
            )
        lines.extend(f"  {note}" for note in self.notes)
        for origin, reason in self.skipped:
            lines.append(f"  skipped {origin}: {reason}")
        return "\n".join(lines)


class ModelChanged(Exception):
    """The model, once loaded, is not the one its record predicted: the ingest starts again with it."""

    def __init__(self, model: ModelId, encoder: Encoder) -> None:
        super().__init__(f"the model is now {model.label}")
        self.model = model
        self.encoder = encoder


class EncoderFailed(Exception):
    """Loading the model failed on the way: the run stops with ``error`` (it is not one image's problem)."""

    def __init__(self, error: ArtsearchError) -> None:
        super().__init__(str(error))
        self.error = error


class EncoderOnDemand:
    """The encoder, loaded the first time an image needs embedding, and the :class:`ModelId` known before that.

    Loading CLIP takes seconds; a rebuild in which every image is reused never pays for it. When it does
    load, the loaded model must be the predicted one (the cache's vectors were looked up under that key),
    or :class:`ModelChanged` is raised.
    """

    def __init__(self, model: ModelId, load: Callable[[], Encoder] | None = None, encoder: Encoder | None = None):
        if load is None and encoder is None:
            raise ValueError("give a loaded encoder or a way to load one")
        self.model = model
        self._load = load
        self._encoder = encoder
        self._lock = threading.Lock()

    @classmethod
    def loaded(cls, encoder: Encoder) -> EncoderOnDemand:
        return cls(identify(encoder), encoder=encoder)

    @property
    def is_loaded(self) -> bool:
        return self._encoder is not None

    def get(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                assert self._load is not None
                try:
                    encoder = self._load()
                except ArtsearchError as exc:  # raised on a decode thread: must not pass for a bad image
                    raise EncoderFailed(exc) from None
                self._encoder = encoder
                actual = identify(encoder)
                if actual.key != self.model.key:
                    raise ModelChanged(actual, encoder)
            return self._encoder


@dataclass
class _Prepared:
    """One image ready for the build: its vector from the cache, or its features to embed."""

    item: SourceItem
    sha256: str
    derived: pixels.Derived
    vector: np.ndarray | None = None  # reused, bit for bit
    features: Features | None = None  # preprocessed for the model
    cache_row: bool = False  # the cache's row must be written (a new vector, or new pixel fields)


@dataclass
class _Context:
    """What the decode threads share."""

    storage: Storage
    max_pixels: int
    max_decode_bytes: int
    cache: VectorCache
    encoder: EncoderOnDemand
    reuse: bool
    #: What :meth:`prefetch` found for the items coming up (origin -> content hash, content hash -> vector), taken
    #: by the decode threads as they reach each item; what is not here is asked of the cache one at a time.
    hashes: dict[str, str | None] = field(default_factory=dict)
    vectors: dict[str, Cached | None] = field(default_factory=dict)

    def prefetch(self, items: list[SourceItem]) -> None:
        """Look a chunk of items up in the cache in two queries (one per image was most of an unchanged rebuild's
        per-image cost), before the decode threads reach them."""
        hashes = self.cache.content_hashes((i.origin, i.fingerprint) for i in items)
        if self.reuse:
            self.vectors.update(self.cache.get_many({h for h in hashes.values() if h}, self.encoder.model))
        self.hashes.update(hashes)

    def content_hash(self, item: SourceItem) -> str | None:
        if item.origin in self.hashes:
            return self.hashes.pop(item.origin)
        return self.cache.content_hash(item.origin, item.fingerprint)

    def lookup(self, sha256: str) -> Cached | None:
        if not self.reuse:
            return None
        if sha256 in self.vectors:
            return self.vectors.pop(sha256)
        return self.cache.get(sha256, self.encoder.model)

    def keep(self, item: SourceItem, data: bytes | None) -> None:
        """Make sure storage holds the image (read only if it does not).

        A picture in a format browsers do not show (TGA, PSD, JPEG 2000...) is kept as a JPEG copy under its
        key + ``.jpg``, which is what the page shows. A reused image (``data`` None: its content is unchanged)
        keeps the copy it already has.
        """
        art = item.artwork
        copy_key = f"{art.image_key}.jpg"
        if data is None:
            if self.storage.has_image(art.image_key):
                return
            if item.formats != WEB_FORMATS and self.storage.has_image(copy_key):
                art.image_key = copy_key
                return
            data = item.read()
        kind = image_format(data, item.formats)[2]
        if kind not in WEB_FORMATS and kind != "MPO":
            art.image_key = copy_key
            if not self.storage.has_image(copy_key):
                self._put(copy_key, display_copy(data, item, self.max_pixels, self.max_decode_bytes))
        elif not self.storage.has_image(art.image_key):
            self._put(art.image_key, data)

    def _put(self, key: str, data: bytes) -> None:
        try:
            self.storage.put_image(key, data)
        except WriteError:
            raise
        except ArtsearchError as exc:  # a bucket refusing a write: our failure too, not a bad image
            raise WriteError(f"{exc} Nothing was published; run the same command again to resume.") from None


def display_copy(data: bytes, item: SourceItem, max_pixels: int, max_decode_bytes: int) -> bytes:
    """The picture as a JPEG at its full size, for a format the page cannot show as it is."""
    full = load_image(
        data, max_pixels=max_pixels, max_decode_bytes=max_decode_bytes, name=item.origin, formats=item.formats
    )
    out = io.BytesIO()
    full.save(out, "JPEG", quality=90)
    return out.getvalue()


def _prepare(item: SourceItem, ctx: _Context) -> _Prepared:
    """Reuse or decode one image. Runs on a decode thread.

    The vector cache is asked first: by the file's fingerprint for its content hash (else the bytes are read
    and hashed), then by that hash for the vector. Only a miss is decoded; Pillow's decode and resize release
    the GIL, so with two decode threads the per-image CPU work (about 6 ms with ``draft``) runs beside the
    model's forward.
    """
    data: bytes | None = None
    sha = ctx.content_hash(item)
    if sha is None:
        data = item.read()
        sha = content_hash(data)
    cached = ctx.lookup(sha)
    if cached is None or pixels.missing(cached.derived):
        if data is None:  # the hash came from the fingerprint, but the pixels are needed: trust what is read
            data = item.read()
            if content_hash(data) != sha:
                sha = content_hash(data)
                cached = ctx.lookup(sha)
    if cached is not None and not pixels.missing(cached.derived):
        ctx.keep(item, data)
        return _Prepared(item, sha, cached.derived, vector=cached.vector)
    assert data is not None
    image = load_image(
        data,
        max_pixels=ctx.max_pixels,
        draft_size=DRAFT_SIZE,
        max_decode_bytes=ctx.max_decode_bytes,
        name=item.origin,
        formats=item.formats,
    )
    if cached is not None:  # the vector stands; only pixel fields are new
        prepared = _Prepared(
            item, sha, pixels.derive(data, image, known=cached.derived), vector=cached.vector, cache_row=True
        )
    else:
        features = ctx.encoder.get().preprocess_images([image])
        prepared = _Prepared(item, sha, pixels.derive(data, image), features=features, cache_row=True)
    ctx.keep(item, data)
    return prepared


def metadata_hash(payload: dict[str, Any]) -> str:
    """A short hash of an artwork's metadata payload: a change in it means the point's payload is updated."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _batched(items: Iterable[SourceItem], n: int) -> Iterator[list[SourceItem]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, n)):
        yield chunk


def run_ingest(
    source: Source,
    *,
    settings: Settings,
    encoder: Encoder | EncoderOnDemand,
    storage: Storage,
    builder: IndexBuilder,
    limit: int | None = None,
    progress: bool = True,
    prune: bool = False,
    cache: VectorCache | None = None,
    previous: BuildRecord | None = None,
    reuse: bool = True,
    projection: Projection | None = None,
    annotation_key: str | None = None,
) -> IngestReport:
    """Write every artwork of ``source`` into ``builder``'s collection, reusing what ``cache`` holds.

    With ``prune`` (a rebuild), every artwork is upserted and points whose ids the source did not yield are
    deleted at the end, so the collection mirrors the source exactly. Without it (``--append``), ids
    already in the collection are left alone. ``previous`` is the cache's record of the live build, for
    the report's new, updated and removed counts; ``reuse=False`` embeds every image again (the cache is
    still written). ``projection``: the live build's map, to place every point on it as it is written (the
    rebuild keeps it when the vectors turn out to be the same, and fits a new one otherwise). ``annotation_key``:
    every reused point that the live build holds with the same content gets the annotations the cache recorded for
    it under this key (the rebuild keeps them when the build turns out to hold the same vectors, and annotates it
    again otherwise).
    """
    lazy = encoder if isinstance(encoder, EncoderOnDemand) else EncoderOnDemand.loaded(encoder)
    cache = cache if cache is not None else VectorCache.disabled()
    model = lazy.model
    report = IngestReport(collection=builder.collection, model=model.label, new=0 if previous is not None else None)
    if cache.note:
        report.notes.append(cache.note)
    if previous is not None and previous.model != model.key:
        report.previous_model = previous.label
    started = time.perf_counter()
    seen: set[str] = set()
    kept: set[str] = set()
    items: Iterable[SourceItem] = source.items()
    if limit is not None:
        items = itertools.islice(items, limit)
    bar = tqdm(total=limit, unit="img", desc="ingest", disable=not progress)

    def todo_items() -> Iterator[SourceItem]:
        """Items to write, a chunk at a time: duplicate ids are reported; --append leaves existing ids alone."""
        for chunk in _batched(items, CHECK_CHUNK):
            fresh = []
            for item in chunk:
                aid = item.artwork.artwork_id
                if aid in seen:
                    report.skipped.append((item.origin, "duplicate of an earlier record with the same id"))
                    continue
                seen.add(aid)
                fresh.append(item)
            existing: set[str] = set()
            if not prune:
                existing = builder.existing_ids([i.artwork.artwork_id for i in fresh])
                report.already_indexed += len(existing)
                kept.update(existing)
            bar.update(len(chunk) - len(fresh) + len(existing))
            todo = [i for i in fresh if i.artwork.artwork_id not in existing]
            ctx.prefetch(todo)
            yield from todo

    to_embed: list[_Prepared] = []
    to_reuse: list[_Prepared] = []
    writing: list[Future[Any]] = []  # at most one upsert in flight

    def wait_for_writer() -> None:
        """Let the previous batch's upsert finish; its errors surface here, in the main thread."""
        while writing:
            writing.pop().result()

    def write(batch: list[_Prepared], vectors: np.ndarray) -> None:
        """Record the batch in the cache, then upsert it on the writer thread."""
        arts = [p.item.artwork for p in batch]
        metadata = [a.payload() for a in arts]
        metas = [metadata_hash(m) for m in metadata]
        ids = [a.artwork_id for a in arts]
        before = cache.items(previous.collection, ids) if previous is not None else {}
        carried = (
            cache.annotations(previous.collection, annotation_key, ids)
            if previous is not None and annotation_key is not None
            else {}
        )
        same_content: list[bool] = []  # reused, and the live build holds this artwork with this very content
        for p, art, meta in zip(batch, arts, metas, strict=True):
            old = before.get(art.artwork_id)
            same = p.features is None and old is not None and old[0] == p.sha256
            same_content.append(same)
            if same and old is not None and old[1] != meta:
                report.updated += 1
            if previous is not None and old is None:
                report.new = (report.new or 0) + 1
            if old is None or p.features is not None:
                report.new_vectors += 1
        entries = [
            Entry(
                artwork_id=a.artwork_id,
                origin=p.item.origin,
                fingerprint=p.item.fingerprint,
                sha256=p.sha256,
                meta=meta,
                derived=p.derived,
                vector=v if p.cache_row else None,
            )
            for p, a, meta, v in zip(batch, arts, metas, vectors, strict=True)
        ]
        cache.write_batch(builder.collection, model, entries)
        payloads = [
            dict(pixels.apply(m, p.derived), fingerprint=p.item.fingerprint)
            for m, p in zip(metadata, batch, strict=True)
        ]
        if projection is not None:
            for payload, (x, y) in zip(payloads, projection.scale(projection.raw(vectors)), strict=True):
                payload["x"], payload["y"] = round(float(x), 5), round(float(y), 5)
        for payload, same, aid in zip(payloads, same_content, ids, strict=True):
            if same and aid in carried:
                payload.update(carried[aid])
                report.carried += 1
        wait_for_writer()
        writing.append(writer.submit(builder.upsert, ids, vectors, payloads))
        kept.update(a.artwork_id for a in arts)
        report.indexed += len(batch)
        bar.update(len(batch))

    def flush_embedded() -> None:
        if to_embed:
            try:
                enc = lazy.get()
            except EncoderFailed as exc:
                raise exc.error from None
            vectors = enc.encode_features(enc.collate_features([p.features for p in to_embed]))
            write(to_embed, vectors)
            report.embedded += len(to_embed)
            to_embed.clear()

    def flush_reused() -> None:
        if to_reuse:
            write(to_reuse, np.stack([p.vector for p in to_reuse]))
            report.reused += len(to_reuse)
            to_reuse.clear()

    ctx = _Context(storage, settings.max_image_pixels, settings.max_decode_bytes, cache, lazy, reuse)
    window = max(2 * settings.batch_size, 2 * settings.decode_workers)
    pending: deque[tuple[SourceItem, Future[_Prepared]]] = deque()
    todo = todo_items()
    with (
        ThreadPoolExecutor(max_workers=settings.decode_workers, thread_name_prefix="decode") as pool,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="upsert") as writer,
    ):

        def refill() -> None:
            while len(pending) < window:
                item = next(todo, None)
                if item is None:
                    return
                pending.append((item, pool.submit(_prepare, item, ctx)))

        refill()
        while pending:
            item, future = pending.popleft()
            refill()
            try:
                prepared = future.result()
            except WriteError:  # our storage failed (a full disk): the run stops, the live build stays
                raise
            except EncoderFailed as exc:
                raise exc.error from None
            except ArtsearchError as exc:
                report.skipped.append((item.origin, str(exc)))
                bar.update(1)
                continue
            except (OSError, ValueError) as exc:  # a source bug must not abort the whole run
                log.debug("unexpected error decoding %s", item.origin, exc_info=True)
                report.skipped.append((item.origin, f"{type(exc).__name__}: {exc}"))
                bar.update(1)
                continue
            if prepared.features is None:
                to_reuse.append(prepared)
                if len(to_reuse) >= REUSE_BATCH:
                    flush_reused()
            else:
                to_embed.append(prepared)
                if len(to_embed) >= settings.batch_size:
                    flush_embedded()
        flush_embedded()
        flush_reused()
        wait_for_writer()
    bar.close()

    report.skipped.extend(source.skipped())
    merge_artists(storage, source.artists())
    if prune:
        report.pruned = builder.prune(kept)
        cache.forget_items(builder.collection, kept)
    if prune and previous is not None and previous.collection != builder.collection:
        report.removed = cache.missing_from(previous.collection, builder.collection)
    report.seconds = time.perf_counter() - started
    return report


def merge_artists(storage: Storage, artists: dict[str, Artist]) -> None:
    """Add or complete artist records in storage's artists.json (never loses existing ones)."""
    if not artists:
        return
    merged = dict(storage.read_artists())
    for slug, artist in artists.items():
        merged[slug] = artist.merged_with(merged[slug]) if slug in merged else artist
    storage.write_artists(merged)
