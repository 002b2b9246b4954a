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


class IndexBuilder:
    """Writes one collection: a fresh build (then :meth:`publish`) or the live one (append)."""

    def __init__(self, qdrant: Qdrant, collection: str, *, folder: str | None = None) -> None:
        self.qdrant = qdrant
        self.collection = collection
        self.folder = folder
        self.settings = qdrant.settings

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
    ) -> IndexBuilder:
        """A new build collection, or the newest unfinished one when ``resume`` (and it was made with ``model``).

        ``model`` is recorded in a new collection's metadata; ``kind`` names the writer in the embedded
        folder's lock file.
        """
        try:
            return cls._start_build(settings, dim, resume=resume, model=model, kind=kind)
        except ModelMismatch as exc:
            if not resume:
                raise
            log.info("not resuming the unfinished build: %s", exc)
            return cls._start_build(settings, dim, resume=False, model=model, kind=kind)

    @classmethod
    def _start_build(
        cls, settings: Settings, dim: int, *, resume: bool, model: IndexModel | None, kind: str
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
            builder.ensure_collection(dim, model)
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

    def ensure_collection(self, dim: int, model: IndexModel | None = None) -> None:
        """Create the collection (recording ``model``), or check an existing one holds ``dim``-d vectors of ``model``."""
        self._require_space()
        with self.qdrant.call() as c:
            if c.collection_exists(self.collection):
                config = c.get_collection(self.collection).config
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
                return
            metadata = {MODEL_METADATA: model.to_metadata()} if model is not None else None
            c.create_collection(self.collection, **_collection_params(self.settings, dim), metadata=metadata)
            with warnings.catch_warnings():
                # Embedded Qdrant scans payloads anyway and warns that indexes have no effect there.
                warnings.simplefilter("ignore", UserWarning)
                keyword_keys = [k for f in FACETS if f.kind != "range" for k in f.index_keys]
                for name in dict.fromkeys([*keyword_keys, *LOOKUP_FIELDS]):
                    c.create_payload_index(self.collection, name, models.PayloadSchemaType.KEYWORD)
                for name in dict.fromkeys(k for f in FACETS if f.kind == "range" for k in f.index_keys):
                    # Integer indexes: range filters and order_by (the sidebar's bounds) inside Qdrant.
                    c.create_payload_index(self.collection, name, models.PayloadSchemaType.INTEGER)
                # Titles and artist names as words, for searches that name an artist or a title.
                c.create_payload_index(self.collection, NAME_TEXT_FIELD, _NAME_TEXT_INDEX)

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

    def close(self) -> None:
        self.qdrant.close(optimize=self._room_to_optimize())
        if self.settings.embedded:
            remove_stale_builds(self.settings, keep=[self.folder] if self.folder else [])
            sweep_snapshots(Path(self.settings.qdrant_path))
