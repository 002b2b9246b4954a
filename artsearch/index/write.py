"""The write side: build a collection (or append to the live one), then publish it under the alias.

A rebuild writes a new collection ``<alias>_<stamp>`` and then moves the alias to it in one
``update_collection_aliases`` call; embedded builds each get a folder of their own (see
:mod:`artsearch.index.builds`). A new collection records the image model it is built with in its
metadata (:data:`artsearch.catalog.MODEL_METADATA`); an unfinished build made with another model is
never resumed. A published embedded build is never written again, because readers' snapshots share
its files: an embedded ``--append`` copies the live build into a new one, adds to that and publishes it.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import models

from artsearch.catalog import LOOKUP_FIELDS, MODEL_METADATA, NAME_TEXT_FIELD
from artsearch.config import Settings
from artsearch.errors import ArtsearchError, ModelMismatch, QdrantUnavailable
from artsearch.files import MIN_FREE_BYTES, disk_usage, free_bytes, require_free_space
from artsearch.index import remote
from artsearch.index.builds import (
    STAMP,
    build_folders,
    delete_unless_in_use,
    folder_in_use,
    new_stamp,
    read_pointer,
    remove_stale_builds,
    write_pointer,
)
from artsearch.index.client import Qdrant
from artsearch.index.edge import folder_engine
from artsearch.index.filters import FACETS
from artsearch.index.read import VectorIndex
from artsearch.index.snapshots import sweep_snapshots
from artsearch.model.choice import IndexModel

log = logging.getLogger(__name__)


def _collection_params(settings: Settings, dim: int) -> dict[str, Any]:
    """``create_collection`` arguments: remote ones from :mod:`artsearch.index.remote`; the embedded engine
    applies its own layout (:mod:`artsearch.index.edge`)."""
    if not settings.embedded:
        return remote.collection_params(dim)
    return {"vectors_config": models.VectorParams(size=dim, distance=models.Distance.COSINE)}


def _optimize_need(folder: Path) -> int:
    """Free bytes an embedded build needs to be optimised (at publish, on close): up to its own size again, plus
    the index pages its first reader fills (files.MIN_FREE_BYTES has the measurements); never less than the margin."""
    return max(MIN_FREE_BYTES, disk_usage(folder) + MIN_FREE_BYTES // 2)


_NAME_TEXT_INDEX = models.TextIndexParams(
    type=models.TextIndexType.TEXT, tokenizer=models.TokenizerType.WORD, lowercase=True, min_token_len=3
)


def payload_indexes() -> list[tuple[str, Any]]:
    """Every payload index a collection gets, as (field, schema): keywords for the facets and lookups, integers for
    the ranges (range filters and order_by, the sidebar's bounds, inside Qdrant), words for titles and names."""
    keyword_keys = [k for f in FACETS if f.kind != "range" for k in f.index_keys]
    out: list[tuple[str, Any]] = [
        (name, models.PayloadSchemaType.KEYWORD) for name in dict.fromkeys([*keyword_keys, *LOOKUP_FIELDS])
    ]
    out += [
        (name, models.PayloadSchemaType.INTEGER)
        for name in dict.fromkeys(k for f in FACETS if f.kind == "range" for k in f.index_keys)
    ]
    out.append((NAME_TEXT_FIELD, _NAME_TEXT_INDEX))  # searches that name an artist or a title
    return out


class IndexBuilder:
    """Writes one collection: a fresh build (then :meth:`publish`) or the live one (append)."""

    def __init__(self, qdrant: Qdrant, collection: str, *, folder: str | None = None) -> None:
        self.qdrant = qdrant
        self.collection = collection
        self.folder = folder
        self.settings = qdrant.settings
        self._indexing: threading.Thread | None = None  # the payload indexes being made beside the ingest
        self._indexing_error: BaseException | None = None

    # Opening -------------------------------------------------------------------
    @classmethod
    def start_build(
        cls,
        settings: Settings,
        dim: int,
        *,
        resume: bool = True,
        model: IndexModel | None = None,
        kind: str = "rebuild",
        indexes_in_background: bool = False,
    ) -> IndexBuilder:
        """A new build collection, or the newest unfinished one when ``resume`` (and it was made with ``model``).

        ``model`` is recorded in a new collection's metadata; ``kind`` names the writer in the embedded
        folder's lock file. ``indexes_in_background``: the payload indexes are made on a thread of their own while
        the caller goes on (a rebuild lists its source and looks up its cache meanwhile; writes to the build wait
        for them, and :meth:`publish` stops on their error).
        """
        try:
            return cls._start_build(
                settings, dim, resume=resume, model=model, kind=kind, background=indexes_in_background
            )
        except ModelMismatch as exc:
            if not resume:
                raise
            log.info("not resuming the unfinished build: %s", exc)
            return cls._start_build(
                settings, dim, resume=False, model=model, kind=kind, background=indexes_in_background
            )

    @classmethod
    def _start_build(
        cls, settings: Settings, dim: int, *, resume: bool, model: IndexModel | None, kind: str, background: bool
    ) -> IndexBuilder:
        alias = settings.collection_name
        if settings.embedded:
            pointer = read_pointer(settings)
            live = pointer["folder"] if pointer else ""
            # An unfinished build made by the other engine cannot be resumed: start afresh beside it; the
            # next publish prunes it like any stale build.
            unfinished = [
                f
                for f in build_folders(settings)
                if f.name > live and not folder_in_use(f) and folder_engine(f) in (None, settings.embedded_engine)
            ]
            if resume and unfinished:
                folder = unfinished[-1]
                stamp = STAMP.match(folder.name)["stamp"]  # type: ignore[index]
            else:
                stamp = new_stamp()
                folder = Path(settings.qdrant_path) / f"{alias}-{stamp}"
            require_free_space(folder.parent)  # opening a build may write: check before the engine does
            builder = cls(Qdrant.embedded(settings, folder, kind=kind), f"{alias}_{stamp}", folder=folder.name)
        else:
            qdrant = Qdrant.remote(settings)
            builder = cls(qdrant, f"{alias}_{new_stamp()}")
            if resume:
                live = builder.alias_target()
                with qdrant.call() as c:
                    names = sorted(
                        col.name
                        for col in c.get_collections().collections
                        if (m := STAMP.match(col.name)) and m["alias"] == alias and col.name > (live or "")
                    )
                if names:
                    builder.collection = names[-1]
        try:
            builder.ensure_collection(dim, model, all_indexes=True, background=background)
        except ModelMismatch:
            builder.qdrant.close()
            raise
        return builder

    @classmethod
    def open_live(cls, settings: Settings, dim: int, *, model: IndexModel | None = None) -> IndexBuilder:
        """Append to the collection the alias points at, creating a first build if there is none.

        ModelMismatch when the live collection records another model than ``model``. Embedded, the live
        build is not written in place (readers' snapshots share its files): a new build starts as a copy of
        it, through a snapshot like any reader's, and is published when the append ends.
        """
        if settings.embedded:
            builder = cls.start_build(settings, dim, resume=True, model=model, kind="append")
            if read_pointer(settings) is not None:
                try:
                    builder.copy_live()
                except BaseException:
                    builder.close()
                    raise
            return builder
        else:
            builder = cls(Qdrant.remote(settings), "")
            target = builder.alias_target()
            if target is None:
                return cls.start_build(settings, dim, resume=True, model=model)
            builder.collection = target
        try:
            builder.ensure_collection(dim, model)
        except ModelMismatch:
            builder.qdrant.close()
            raise
        return builder

    def alias_target(self) -> str | None:
        with self.qdrant.call() as c:
            for alias in c.get_aliases().aliases:
                if alias.alias_name == self.settings.collection_name:
                    return alias.collection_name
        return None

    # Room on the disk: an embedded build stops with one line before the engine meets a full disk --------------
    def _folder_path(self) -> Path | None:
        return Path(self.settings.qdrant_path) / self.folder if self.settings.embedded and self.folder else None

    def _require_space(self, extra: int = 0) -> None:
        """Embedded: a WriteError ("disk full at ...") unless MIN_FREE_BYTES plus ``extra`` are free."""
        if (path := self._folder_path()) is not None:
            require_free_space(path, MIN_FREE_BYTES + extra)

    def _room_to_optimize(self) -> bool:
        path = self._folder_path()
        return path is None or not path.exists() or free_bytes(path) >= _optimize_need(path)

    def live_collection(self) -> str | None:
        """The collection the alias points at now (embedded: the pointer file's), or None before a first build."""
        if self.settings.embedded:
            pointer = read_pointer(self.settings)
            return pointer["collection"] if pointer else None
        return self.alias_target()

    def ensure_collection(
        self, dim: int, model: IndexModel | None = None, *, all_indexes: bool = False, background: bool = False
    ) -> None:
        """Create the collection (recording ``model``) with its payload indexes, or check an existing one holds
        ``dim``-d vectors of ``model``.

        ``all_indexes``: an existing collection (a build being resumed) gets the indexes it lacks too: a build killed
        while its indexes were made has only the first ones. ``background``: the indexes are made on a thread.
        """
        self._require_space()
        with self.qdrant.call() as c:
            if c.collection_exists(self.collection):
                info = c.get_collection(self.collection)
                config = info.config
                size = getattr(config.params.vectors, "size", dim)
                if size != dim:
                    raise QdrantUnavailable(
                        f"Collection {self.collection} holds {size}-d vectors but the model makes {dim}-d ones; "
                        "rebuild without --append (python qdrant/initialize_db.py) to index with this model."
                    )
                recorded = IndexModel.from_metadata((config.metadata or {}).get(MODEL_METADATA))
                if model is not None and recorded is not None and not recorded.same_model(model):
                    raise ModelMismatch(
                        f"Collection {self.collection} was built with {recorded.describe()}, not {model.describe()}: "
                        "rebuild without --append (python qdrant/initialize_db.py) to index with this model."
                    )
                if not all_indexes:
                    return
                # Edge reports no schema (making an index it has is a no-op); Qdrant says which it has.
                have = set((info.payload_schema or {}).keys())
            else:
                metadata = {MODEL_METADATA: model.to_metadata()} if model is not None else None
                c.create_collection(self.collection, **_collection_params(self.settings, dim), metadata=metadata)
                have = set()
        wanted = [(name, schema) for name, schema in payload_indexes() if name not in have]
        if not background:
            self._create_payload_indexes(wanted)
            return
        self._indexing = threading.Thread(
            target=self._create_payload_indexes, args=(wanted, True), name="payload-indexes", daemon=True
        )
        self._indexing.start()

    def _create_payload_indexes(self, wanted: list[tuple[str, Any]], keep_error: bool = False) -> None:
        """Make these payload indexes, in one hold of the client (writes wait for them); ``keep_error``: on a thread,
        whose error :meth:`wait_for_indexes` raises."""
        try:
            with self.qdrant.call() as c, warnings.catch_warnings():
                # Embedded Qdrant scans payloads anyway and warns that indexes have no effect there.
                warnings.simplefilter("ignore", UserWarning)
                for name, schema in wanted:
                    c.create_payload_index(self.collection, name, schema)
        except BaseException as exc:
            if not keep_error:
                raise
            self._indexing_error = exc

    def wait_for_indexes(self) -> None:
        """Let the payload indexes being made on their thread finish; raise what stopped them."""
        if self._indexing is not None:
            self._indexing.join()
            self._indexing = None
        error, self._indexing_error = self._indexing_error, None
        if error is not None:
            raise error

    def copy_live(self, batch: int = 512) -> int:
        """Copy every point (vector and payload) of the live collection into this build; returns how many.

        Idempotent (same ids), so an append that was interrupted copies again and loses nothing."""
        live = VectorIndex(self.settings)
        copied, offset = 0, None
        try:
            while True:
                points, offset = live.scroll_page(limit=batch, offset=offset, with_vectors=True)
                if points:
                    vectors = np.asarray([p.vector for p in points], dtype=np.float32)
                    self.upsert([str(p.id) for p in points], vectors, [p.payload or {} for p in points])
                    copied += len(points)
                if offset is None:
                    break
        finally:
            live.close()
        log.info("copied %d artworks of the live build into %s", copied, self.collection)
        return copied

    # Writing -------------------------------------------------------------------
    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        with self.qdrant.call() as c:
            found = c.retrieve(self.collection, ids=list(ids), with_payload=False, with_vectors=False)
        return {str(p.id) for p in found}

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[dict[str, Any]]) -> None:
        points = [
            models.PointStruct(id=i, vector=v.tolist(), payload=p)
            for i, v, p in zip(ids, vectors, payloads, strict=True)
        ]
        self._require_space()
        with self.qdrant.call() as c:
            c.upsert(self.collection, points=points, wait=True)

    def all_ids(self, batch: int = 1000) -> Iterator[str]:
        offset = None
        while True:
            with self.qdrant.call() as c:
                points, offset = c.scroll(
                    self.collection, limit=batch, offset=offset, with_payload=False, with_vectors=False
                )
            yield from (str(p.id) for p in points)
            if offset is None:
                return

    def prune(self, keep: set[str]) -> int:
        """Delete points whose ids are not in ``keep``; returns how many."""
        stale = [i for i in self.all_ids() if i not in keep]
        for start in range(0, len(stale), 1000):
            self._require_space()
            with self.qdrant.call() as c:
                c.delete(self.collection, points_selector=models.PointIdsList(points=stale[start : start + 1000]))
        return len(stale)

    def count(self) -> int:
        with self.qdrant.call() as c:
            return c.count(self.collection, exact=True).count

    # Publishing ----------------------------------------------------------------
    def publish(self) -> None:
        """Point the alias at this collection in one call, then drop the old build."""
        self.wait_for_indexes()
        if (path := self._folder_path()) is not None:
            require_free_space(path, _optimize_need(path))  # publishing optimises the build
        alias = self.settings.collection_name
        old = self.alias_target()
        ops: list[Any] = []
        if old is not None:
            ops.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
        ops.append(
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name=self.collection, alias_name=alias)
            )
        )
        with self.qdrant.call() as c:
            if old != self.collection:
                c.update_collection_aliases(change_aliases_operations=ops)
            if not self.settings.embedded and old and old != self.collection:
                c.delete_collection(old)
        if self.settings.embedded and self.folder:
            # Let go of the folder first: a reader that follows the new pointer never finds the build held.
            self.qdrant.close()
            write_pointer(self.settings, self.folder, self.collection)

    # The map: every vector read back, then x and y written into the payloads ------------------------
    def iter_points(self, batch: int = 1000, *, with_payload: bool = True) -> Iterator[list[models.Record]]:
        """Every point of this build with its vector (and payload), a page at a time."""
        offset = None
        while True:
            with self.qdrant.call() as c:
                points, offset = c.scroll(
                    self.collection, limit=batch, offset=offset, with_payload=with_payload, with_vectors=True
                )
            yield points
            if offset is None:
                return

    def set_payloads(self, updates: dict[str, dict[str, Any]], batch: int = 256) -> None:
        """Merge payload keys into many points, a batch of set-payload operations per call."""
        ids = list(updates)
        for start in range(0, len(ids), batch):
            ops = [
                models.SetPayloadOperation(set_payload=models.SetPayload(payload=updates[i], points=[i]))
                for i in ids[start : start + batch]
            ]
            self._require_space()
            with self.qdrant.call() as c:
                c.batch_update_points(self.collection, update_operations=ops, wait=True)

    def close_unpublished(self) -> None:
        """Close a build that failed before it was published: kept to be resumed when it holds points, deleted
        when it holds none (a source that could not be read leaves nothing behind)."""
        self._join_indexing()
        try:
            empty = not self.qdrant.closed and self.count() == 0
        except ArtsearchError:
            empty = False
        if empty and not self.settings.embedded:
            with self.qdrant.call() as c:
                if c.collection_exists(self.collection) and self.alias_target() != self.collection:
                    c.delete_collection(self.collection)
        self.close()
        if empty and self.settings.embedded and self.folder:
            delete_unless_in_use(Path(self.settings.qdrant_path) / self.folder)

    def _join_indexing(self) -> None:
        """Wait for the payload indexes' thread before the client closes; its error is the failed run's, not news."""
        try:
            self.wait_for_indexes()
        except BaseException as exc:  # noqa: BLE001 - closing after a failure: the first error is the one to tell
            log.debug("the payload indexes were not all made: %s", exc)

    def close(self) -> None:
        self._join_indexing()
        self.qdrant.close(optimize=self._room_to_optimize())
        if self.settings.embedded:
            remove_stale_builds(self.settings, keep=[self.folder] if self.folder else [])
            sweep_snapshots(Path(self.settings.qdrant_path))
