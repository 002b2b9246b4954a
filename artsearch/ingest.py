"""Ingest: source -> decode (threads) -> encode (batches) -> upsert (batches).

Streaming: at most a few batches of images are in memory at once. Decoding
(file read or download, Pillow decode with JPEG ``draft``) and CLIP's
preprocessing (resize, crop, normalise) run on a small thread pool a couple of
batches ahead of the model, and each batch's upsert runs on a writer thread
while the model embeds the next batch, so reading, embedding and writing all
overlap. The main thread only joins tensors and runs the model.

Resumable and idempotent: point ids are UUIDv5 of ``(source, source_id)``,
ids already in the target collection are skipped before their bytes are even
read, and a rebuild prunes points the source no longer yields. A run killed
at any moment and started again ends with exactly one point per valid image.
"""

from __future__ import annotations

import io
import itertools
import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from artsearch.catalog import Artist
from artsearch.config import Settings
from artsearch.dedupe import dhash
from artsearch.errors import ArtsearchError
from artsearch.images import WEB_FORMATS, image_format, load_image
from artsearch.index.write import IndexBuilder
from artsearch.model.encoder import Encoder, Features
from artsearch.sources.base import Source, SourceItem
from artsearch.storage.base import Storage

log = logging.getLogger(__name__)

# CLIP looks at 224 px; JPEG draft decodes at the smallest power-of-two scale at least this big.
DRAFT_SIZE = (224, 224)
CHECK_CHUNK = 256


@dataclass
class IngestReport:
    """What a run did. ``skipped`` lists (path or URL, reason) for every unusable record."""

    indexed: int = 0
    already_indexed: int = 0
    pruned: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    collection: str = ""

    @property
    def images_per_second(self) -> float:
        return self.indexed / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        lines = [
            f"Indexed {self.indexed} new artworks into {self.collection} in {self.seconds:.1f} s "
            f"({self.images_per_second:.1f} images/s); {self.already_indexed} were already indexed"
            + (f"; removed {self.pruned} no longer in the source" if self.pruned else "")
            + f"; skipped {len(self.skipped)}."
        ]
        for origin, reason in self.skipped:
            lines.append(f"  skipped {origin}: {reason}")
        return "\n".join(lines)


@dataclass
class _Decoded:
    item: SourceItem
    features: Features  # this one image, preprocessed for the model


def _decode(item: SourceItem, storage: Storage, max_pixels: int, encoder: Encoder) -> _Decoded:
    """Read, validate, keep and preprocess one image. Runs on a decode thread.

    Pillow's decode and resize release the GIL, so with two decode threads the
    per-image CPU work (about 6 ms with ``draft``) runs beside the model's forward.
    A picture in a format browsers do not show (TGA, PSD, JPEG 2000...) is kept in
    storage as a JPEG copy, which is what the page shows.
    """
    data = item.read()
    image = load_image(data, max_pixels=max_pixels, draft_size=DRAFT_SIZE, name=item.origin, formats=item.formats)
    art = item.artwork
    width, height, kind = image_format(data, item.formats)
    if art.width is None or art.height is None:
        art.width, art.height = width, height
    art.extra["phash"] = dhash(image)  # a perceptual hash: near-duplicate results collapse on it
    if kind not in WEB_FORMATS and kind != "MPO":
        art.image_key = f"{art.image_key}.jpg"
        if not storage.has_image(art.image_key):
            storage.put_image(art.image_key, display_copy(data, item, max_pixels))
    elif not storage.has_image(art.image_key):
        storage.put_image(art.image_key, data)
    return _Decoded(item, encoder.preprocess_images([image]))


def display_copy(data: bytes, item: SourceItem, max_pixels: int) -> bytes:
    """The picture as a JPEG at its full size, for a format the page cannot show as it is."""
    full = load_image(data, max_pixels=max_pixels, name=item.origin, formats=item.formats)
    out = io.BytesIO()
    full.save(out, "JPEG", quality=90)
    return out.getvalue()


def _batched(items: Iterable[SourceItem], n: int) -> Iterator[list[SourceItem]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, n)):
        yield chunk


def run_ingest(
    source: Source,
    *,
    settings: Settings,
    encoder: Encoder,
    storage: Storage,
    builder: IndexBuilder,
    limit: int | None = None,
    progress: bool = True,
    prune: bool = False,
) -> IngestReport:
    """Index every new artwork of ``source`` into ``builder``'s collection.

    With ``prune`` (a full rebuild), points whose ids the source did not yield
    are deleted at the end, so the collection mirrors the source exactly.
    """
    report = IngestReport(collection=builder.collection)
    started = time.perf_counter()
    seen: set[str] = set()
    kept: set[str] = set()
    items: Iterable[SourceItem] = source.items()
    if limit is not None:
        items = itertools.islice(items, limit)
    bar = tqdm(total=limit, unit="img", desc="ingest", disable=not progress)

    def new_items() -> Iterator[SourceItem]:
        """Items not yet in the collection, checked a chunk at a time."""
        for chunk in _batched(items, CHECK_CHUNK):
            fresh = []
            for item in chunk:
                aid = item.artwork.artwork_id
                if aid in seen:
                    report.skipped.append((item.origin, "duplicate of an earlier record with the same id"))
                    continue
                seen.add(aid)
                fresh.append(item)
            existing = builder.existing_ids([i.artwork.artwork_id for i in fresh])
            report.already_indexed += len(existing)
            kept.update(existing)
            bar.update(len(chunk) - len(fresh) + len(existing))
            yield from (i for i in fresh if i.artwork.artwork_id not in existing)

    batch: list[_Decoded] = []
    writing: list[Future[Any]] = []  # at most one upsert in flight

    def wait_for_writer() -> None:
        """Let the previous batch's upsert finish; its errors surface here, in the main thread."""
        while writing:
            writing.pop().result()

    def flush() -> None:
        if not batch:
            return
        vectors = encoder.encode_features(encoder.collate_features([d.features for d in batch]))
        arts = [d.item.artwork for d in batch]
        payloads = [dict(a.payload(), fingerprint=d.item.fingerprint) for a, d in zip(arts, batch, strict=True)]
        wait_for_writer()
        writing.append(writer.submit(builder.upsert, [a.artwork_id for a in arts], vectors, payloads))
        kept.update(a.artwork_id for a in arts)
        report.indexed += len(batch)
        bar.update(len(batch))
        batch.clear()

    window = max(2 * settings.batch_size, 2 * settings.decode_workers)
    pending: deque[tuple[SourceItem, Future[_Decoded]]] = deque()
    todo = new_items()
    with (
        ThreadPoolExecutor(max_workers=settings.decode_workers, thread_name_prefix="decode") as pool,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="upsert") as writer,
    ):

        def refill() -> None:
            while len(pending) < window:
                item = next(todo, None)
                if item is None:
                    return
                pending.append((item, pool.submit(_decode, item, storage, settings.max_image_pixels, encoder)))

        refill()
        while pending:
            item, future = pending.popleft()
            refill()
            try:
                batch.append(future.result())
            except ArtsearchError as exc:
                report.skipped.append((item.origin, str(exc)))
                bar.update(1)
            except (OSError, ValueError) as exc:  # a source bug must not abort the whole run
                log.debug("unexpected error decoding %s", item.origin, exc_info=True)
                report.skipped.append((item.origin, f"{type(exc).__name__}: {exc}"))
                bar.update(1)
            if len(batch) >= settings.batch_size:
                flush()
        flush()
        wait_for_writer()
    bar.close()

    report.skipped.extend(source.skipped())
    merge_artists(storage, source.artists())
    if prune:
        report.pruned = builder.prune(kept)
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
