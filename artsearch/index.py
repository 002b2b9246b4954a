"""Qdrant: connect, build collections, swap aliases, query.

One code path for embedded and remote Qdrant; only the client's constructor
differs. The app always reads the alias (``COLLECTION_NAME``, default
``artworks``). A rebuild writes a new collection ``<alias>_<stamp>`` and then
moves the alias to it in one ``update_collection_aliases`` call.

Embedded mode has one extra rule: only one process may open a Qdrant folder.
So every build gets its own folder, ``<QDRANT_PATH>/<alias>-<stamp>/``, and a
small pointer file ``<QDRANT_PATH>/<alias>.current.json`` names the live one,
replaced atomically when a build completes. A rebuild therefore never needs
the folder the app has open, and the app notices the new pointer on its next
search and switches without a restart. Old folders are deleted once no
process holds them.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from artsearch.catalog import KEYWORD_FIELDS, NAME_TEXT_FIELD
from artsearch.config import Settings
from artsearch.errors import CollectionMissing, NotFound, QdrantUnavailable
from artsearch.files import atomic_write_json

log = logging.getLogger(__name__)

_STAMP = re.compile(r"^(?P<alias>.+)[_-](?P<stamp>\d{8}T\d{6}\d*)$")


def new_stamp() -> str:
    """A sortable build stamp, unique to the microsecond."""
    now = time.time()
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now * 1e6) % 1_000_000:06d}"


@dataclass
class Filters:
    """Payload filters applied inside Qdrant (any of the values, per field)."""

    artists: list[str] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    nationalities: list[str] = field(default_factory=list)

    def to_qdrant(self, exclude_ids: Sequence[str] = ()) -> models.Filter | None:
        must: list[models.Condition] = []
        for key, values in (("artist", self.artists), ("genre", self.genres), ("nationality", self.nationalities)):
            if values:
                must.append(models.FieldCondition(key=key, match=models.MatchAny(any=list(values))))
        must_not: list[models.Condition] = [models.HasIdCondition(has_id=list(exclude_ids))] if exclude_ids else []
        if not must and not must_not:
            return None
        return models.Filter(must=must or None, must_not=must_not or None)

    def __bool__(self) -> bool:
        return bool(self.artists or self.genres or self.nationalities)


def _describe_qdrant_error(settings: Settings, exc: BaseException) -> str:
    """One line for a failed Qdrant call, never echoing the API key."""
    reason = f"{type(exc).__name__}: {str(exc)[:160]}"
    if settings.qdrant_key:
        reason = reason.replace(settings.qdrant_key, "***")
    if settings.embedded:
        return f"Cannot open the embedded index at {settings.qdrant_path} ({reason})."
    status = getattr(exc, "status_code", None)
    if status in (401, 403):
        return f"Qdrant at {settings.qdrant_url} refused the API key (HTTP {status}); check QDRANT_KEY."
    return (
        f"Cannot reach Qdrant at {settings.qdrant_url} ({reason}). Check QDRANT_URL and QDRANT_KEY and that the "
        "cluster is running, or unset QDRANT_URL to use the embedded index."
    )


MISSING_POINT = "That artwork is no longer in the collection (a rebuild may have removed it); start a new search."


def _is_missing_point(exc: BaseException) -> bool:
    """A point id the collection does not hold (local: 'Point x is not found', server: 'No point with id x')."""
    text = str(exc).lower()
    return (text.startswith("point ") and "not found" in text) or "no point with id" in text


def _as_query(query: Any) -> Any:
    """numpy vectors as plain float lists (what the client serialises); ids and query objects unchanged."""
    return query.astype(np.float32).tolist() if isinstance(query, np.ndarray) else query


def _is_not_found(exc: BaseException) -> bool:
    text = str(exc).lower()
    return getattr(exc, "status_code", None) == 404 or ("not found" in text and "collection" in text)


class Qdrant:
    """A Qdrant client plus the error translation and locking every call needs.

    Embedded Qdrant is a pure-Python store that is not safe for concurrent
    writers and readers, so its calls are serialised; the remote client is
    thread-safe and is not.
    """

    def __init__(self, settings: Settings, client: QdrantClient, location: str) -> None:
        self.settings = settings
        self.client = client
        self.location = location
        self._lock: threading.RLock | None = threading.RLock() if settings.embedded else None
        self.closed = False

    @classmethod
    def remote(cls, settings: Settings) -> Qdrant:
        client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_key or None, timeout=10)
        return cls(settings, client, str(settings.qdrant_url))

    @classmethod
    def embedded(cls, settings: Settings, folder: Path) -> Qdrant:
        """Open one build folder with the configured engine: Qdrant Edge ("edge") or qdrant-client ("local")."""
        from typing import cast

        from artsearch.edge_client import EdgeClient, folder_engine

        engine = settings.embedded_engine
        folder.mkdir(parents=True, exist_ok=True)
        found = folder_engine(folder)
        if found is not None and found != engine:
            raise QdrantUnavailable(
                f"The embedded index {folder} was built with the '{found}' engine, but ARTSEARCH_EMBEDDED_ENGINE is "
                f"'{engine}': set ARTSEARCH_EMBEDDED_ENGINE={found}, or rebuild without --append "
                "(python qdrant/initialize_db.py)."
            )
        try:
            # EdgeClient implements the part of QdrantClient's API this module uses.
            client = cast(QdrantClient, EdgeClient(folder)) if engine == "edge" else QdrantClient(path=str(folder))
        except (RuntimeError, OSError) as exc:
            if "already accessed" in str(exc):
                raise QdrantUnavailable(
                    f"The embedded index {folder} is open in another process (the app, or another rebuild). "
                    "Stop that process, or rebuild without --append so the new index is built alongside."
                ) from None
            raise QdrantUnavailable(_describe_qdrant_error(settings, exc)) from None
        return cls(settings, client, str(folder))

    @contextmanager
    def call(self) -> Iterator[QdrantClient]:
        """Use the client; Qdrant and network errors become QdrantUnavailable."""
        from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

        try:
            if self._lock is None:
                yield self.client
            else:
                with self._lock:
                    yield self.client
        except (ResponseHandlingException, UnexpectedResponse, ConnectionError, TimeoutError, OSError) as exc:
            if _is_missing_point(exc):
                raise NotFound(MISSING_POINT) from None
            if _is_not_found(exc):
                raise CollectionMissing(missing_message(self.settings)) from None
            raise QdrantUnavailable(_describe_qdrant_error(self.settings, exc)) from None
        except ValueError as exc:  # local mode: "Collection x not found", "Point x is not found in the collection"
            if _is_missing_point(exc):
                raise NotFound(MISSING_POINT) from None
            if "not found" in str(exc).lower():
                raise CollectionMissing(missing_message(self.settings)) from None
            raise

    def close(self) -> None:
        """Close the client once the calls in flight on it have finished (embedded: under the call lock)."""
        if self._lock is None:
            self._close()
            return
        with self._lock:
            self._close()

    def _close(self) -> None:
        self.closed = True
        try:
            self.client.close()
        except Exception:  # closing is best effort; nothing to recover
            log.debug("closing Qdrant client failed", exc_info=True)


def missing_message(settings: Settings) -> str:
    return (
        f"No artworks indexed yet in collection '{settings.collection_name}' "
        f"({settings.qdrant_url or settings.qdrant_path}): run python qdrant/initialize_db.py first."
    )


# --- embedded build folders -------------------------------------------------


def pointer_path(settings: Settings) -> Path:
    return Path(settings.qdrant_path) / f"{settings.collection_name}.current.json"


def read_pointer(settings: Settings) -> dict[str, str] | None:
    try:
        data = json.loads(pointer_path(settings).read_text())
        return {"folder": str(data["folder"]), "collection": str(data["collection"])}
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        log.warning("ignoring unreadable %s", pointer_path(settings))
        return None


def write_pointer(settings: Settings, folder: str, collection: str) -> None:
    atomic_write_json(pointer_path(settings), {"folder": folder, "collection": collection})


def build_folders(settings: Settings) -> list[Path]:
    """Embedded build folders for this alias, oldest first."""
    root = Path(settings.qdrant_path)
    if not root.is_dir():
        return []
    prefix = f"{settings.collection_name}-"
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(prefix) and _STAMP.match(p.name)]
    return sorted(found, key=lambda p: p.name)


def folder_in_use(folder: Path) -> bool:
    """True when some process holds the folder's Qdrant lock."""
    import portalocker

    lock = folder / ".lock"
    if not lock.exists():
        return False
    with lock.open("r+") as fh:
        try:
            portalocker.lock(fh, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
        except portalocker.exceptions.LockException:
            return True
        portalocker.unlock(fh)
    return False


def remove_stale_builds(settings: Settings, keep: Iterable[str] = ()) -> list[Path]:
    """Delete embedded build folders that are neither live, kept, nor open anywhere."""
    pointer = read_pointer(settings)
    live = {pointer["folder"]} if pointer else set()
    keep_set = set(keep) | live
    removed = []
    folders = build_folders(settings)
    newest = folders[-1].name if folders else None
    live_stamp = pointer["folder"] if pointer else ""
    for folder in folders:
        # A folder newer than the live one is an unfinished build: keep it for resuming.
        if folder.name in keep_set or (folder.name == newest and folder.name > live_stamp):
            continue
        if folder_in_use(folder):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


# --- the read side ------------------------------------------------------------


class VectorIndex:
    """The live collection behind the alias: what search and the app use.

    In embedded mode it follows the pointer file: when a rebuild finishes,
    the next call opens the new folder and releases the old one.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._qdrant: Qdrant | None = None
        self._pointer: dict[str, str] | None = None
        self._switch_lock = threading.Lock()

    @property
    def alias(self) -> str:
        return self.settings.collection_name

    def qdrant(self) -> Qdrant:
        """The current connection, reopened if an embedded rebuild moved the pointer."""
        if not self.settings.embedded:
            if self._qdrant is None:
                with self._switch_lock:
                    if self._qdrant is None:
                        self._qdrant = Qdrant.remote(self.settings)
            return self._qdrant
        pointer = read_pointer(self.settings)
        if pointer is None:
            raise CollectionMissing(missing_message(self.settings))
        current = self._qdrant
        if current is not None and pointer == self._pointer:
            return current
        with self._switch_lock:
            # Read again under the lock: a pointer read before another thread switched may be older than
            # the one now open, and switching back to it would open a folder already deleted.
            pointer = read_pointer(self.settings)
            if pointer is None:
                raise CollectionMissing(missing_message(self.settings))
            if self._qdrant is not None and pointer == self._pointer:
                return self._qdrant
            folder = Path(self.settings.qdrant_path) / pointer["folder"]
            try:
                if not folder.is_dir():
                    raise QdrantUnavailable(
                        f"The index folder {folder} named by {pointer_path(self.settings)} is missing; "
                        "rebuild it with python qdrant/initialize_db.py."
                    )
                new = Qdrant.embedded(self.settings, folder)
            except QdrantUnavailable as exc:
                if self._qdrant is None:
                    raise
                # Still held by the rebuild that just published it (or gone): keep answering from the
                # open build and try again on the next call.
                log.debug("keeping %s for now: %s", self._pointer, exc)
                return self._qdrant
            old, self._qdrant, self._pointer = self._qdrant, new, pointer
            if old is not None:
                log.info("switched to the rebuilt index %s", pointer["folder"])
                old.close()  # waits for the calls in flight on it; later ones see .closed and retry
                remove_stale_builds(self.settings)
            return new

    @contextmanager
    def _call(self) -> Iterator[QdrantClient]:
        """The live client for one call, retried on the new build when a switch closed the old one meanwhile."""
        for _ in range(5):
            q = self.qdrant()
            with q.call() as client:
                if q.closed:  # checked under the call lock, which close() takes too
                    continue
                yield client
                return
        raise QdrantUnavailable(f"The index at {self.settings.qdrant_path} kept changing under this search; retry.")

    def close(self) -> None:
        if self._qdrant is not None:
            self._qdrant.close()
            self._qdrant = None

    # Every query goes through the alias, so embedded and remote share it.
    def count(self) -> int:
        with self._call() as c:
            return c.count(self.alias, exact=True).count

    def vector_size(self) -> int | None:
        with self._call() as c:
            params = c.get_collection(self.alias).config.params.vectors
        return getattr(params, "size", None)

    def require_points(self) -> int:
        n = self.count()
        if n == 0:
            raise CollectionMissing(missing_message(self.settings))
        return n

    def query(
        self,
        query: Sequence[float] | str | models.RecommendQuery | models.SampleQuery,
        *,
        filters: Filters | None = None,
        limit: int = 12,
        offset: int = 0,
        exclude_ids: Sequence[str] = (),
        with_vectors: bool = False,
    ) -> list[models.ScoredPoint]:
        """Nearest artworks to a vector, a stored point id, or a recommend/sample query."""
        query = _as_query(query)
        flt = (filters or Filters()).to_qdrant(exclude_ids)
        with self._call() as c:
            return c.query_points(
                self.alias,
                query=query,
                query_filter=flt,
                limit=limit,
                offset=offset or None,
                with_payload=True,
                with_vectors=with_vectors,
            ).points

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[models.Record]:
        with self._call() as c:
            return c.retrieve(self.alias, ids=list(ids), with_payload=True, with_vectors=with_vectors)

    def scroll(self, *, filters: Filters | None = None, limit: int = 8) -> list[models.Record]:
        with self._call() as c:
            points, _ = c.scroll(self.alias, scroll_filter=(filters or Filters()).to_qdrant(), limit=limit)
        return points

    def facet(self, key: str, limit: int = 500) -> list[tuple[str, int]]:
        """Distinct values of a keyword field with their counts, most common first."""
        with self._call() as c:
            hits = c.facet(self.alias, key=key, limit=limit, exact=True).hits
        return [(str(h.value), int(h.count)) for h in hits]

    # --- exploring: the map, fused name search, recommend, random, grouped, paging (issue 6) ---------
    def live_collection(self) -> str | None:
        """The build collection the alias names now (its map lives under that name in storage)."""
        if self.settings.embedded:
            pointer = read_pointer(self.settings)
            return pointer["collection"] if pointer else None
        with self._call() as c:
            for alias in c.get_aliases().aliases:
                if alias.alias_name == self.alias:
                    return alias.collection_name
        return None

    def query_fused(
        self,
        vector: Sequence[float],
        words: Sequence[str],
        *,
        filters: Filters | None = None,
        limit: int = 12,
        offset: int = 0,
        exclude_ids: Sequence[str] = (),
        with_vectors: bool = False,
    ) -> list[models.ScoredPoint]:
        """Vector similarity fused (reciprocal rank fusion) with a full-text match of ``words`` on titles and artists.

        Two prefetches in one ``query_points``: the nearest artworks, and the
        nearest among those whose ``name_text`` (title and artist) holds any of
        the words. An artwork in both lists beats one in only the first, so a
        named artist's works rise while visual relevance still orders them.
        An engine without prefetch (Qdrant Edge) gets the same fusion from two
        plain queries, fused here with qdrant-client's own RRF.
        """
        vector = [float(v) for v in vector]
        base = (filters or Filters()).to_qdrant(exclude_ids)
        text = models.FieldCondition(key=NAME_TEXT_FIELD, match=models.MatchTextAny(text_any=" ".join(words)))
        named = models.Filter(must=[text, *([base] if base is not None else [])])
        depth = max(50, 2 * (limit + offset))
        with self._call() as c:
            try:
                return c.query_points(
                    self.alias,
                    prefetch=[
                        models.Prefetch(query=vector, filter=base, limit=depth),
                        models.Prefetch(query=vector, filter=named, limit=depth),
                    ],
                    query=models.RrfQuery(rrf=models.Rrf(k=RRF_K)),
                    limit=limit,
                    offset=offset or None,
                    with_payload=True,
                    with_vectors=with_vectors,
                ).points
            except NotImplementedError:
                from qdrant_client.hybrid.fusion import reciprocal_rank_fusion

                lists = [
                    c.query_points(
                        self.alias, query=vector, query_filter=flt, limit=depth, with_vectors=with_vectors
                    ).points
                    for flt in (base, named)
                ]
                return reciprocal_rank_fusion(lists, limit=limit + offset, ranking_constant_k=RRF_K)[offset:]

    def query_grouped(
        self,
        query: Sequence[float] | models.RecommendQuery,
        *,
        group_by: str,
        group_size: int,
        limit: int,
        filters: Filters | None = None,
        exclude_ids: Sequence[str] = (),
        exclude_groups: Sequence[str] = (),
        with_vectors: bool = False,
    ) -> list[models.PointGroup]:
        """Best ``group_size`` hits of each of the ``limit`` best groups, leaving out ids and whole groups."""
        query = _as_query(query)
        flt = (filters or Filters()).to_qdrant(exclude_ids)
        if exclude_groups:
            skip = models.FieldCondition(key=group_by, match=models.MatchAny(any=list(exclude_groups)))
            flt = models.Filter(must=[flt] if flt is not None else None, must_not=[skip])
        with self._call() as c:
            return c.query_points_groups(
                self.alias,
                query=query,
                group_by=group_by,
                group_size=group_size,
                limit=limit,
                query_filter=flt,
                with_payload=True,
                with_vectors=with_vectors,
            ).groups

    def sample(self, *, limit: int = 1, filters: Filters | None = None) -> list[models.ScoredPoint]:
        """Random artworks (Qdrant's random sample query)."""
        return self.query(models.SampleQuery(sample=models.Sample.RANDOM), filters=filters, limit=limit)

    def scroll_page(
        self, *, limit: int = 1000, offset: Any = None, fields: Sequence[str] | None = None, with_vectors: bool = False
    ) -> tuple[list[models.Record], Any]:
        """One page of every point (the map reads the whole collection this way); returns (points, next offset)."""
        with self._call() as c:
            return c.scroll(
                self.alias,
                limit=limit,
                offset=offset,
                with_payload=list(fields) if fields is not None else True,
                with_vectors=with_vectors,
            )


# --- the write side -------------------------------------------------------------


def _collection_params(settings: Settings, dim: int) -> dict[str, Any]:
    params: dict[str, Any] = {"vectors_config": models.VectorParams(size=dim, distance=models.Distance.COSINE)}
    if not settings.embedded:
        # A server builds HNSW; int8 scalar quantisation keeps the vectors' RAM a quarter of float32,
        # with rescoring on the originals kept on disk.
        params["vectors_config"] = models.VectorParams(size=dim, distance=models.Distance.COSINE, on_disk=True)
        params["quantization_config"] = models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99, always_ram=True)
        )
    return params


#: Reciprocal rank fusion's constant: 60 (the RRF paper's) rather than Qdrant's default 2, so a name match
#: counts as much as visual rank: a work in both lists beats one in the vector list alone.
RRF_K = 60
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
    def start_build(cls, settings: Settings, dim: int, *, resume: bool = True) -> IndexBuilder:
        """A new build collection, or the newest unfinished one when ``resume``."""
        alias = settings.collection_name
        if settings.embedded:
            from artsearch.edge_client import folder_engine

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
                stamp = _STAMP.match(folder.name)["stamp"]  # type: ignore[index]
            else:
                stamp = new_stamp()
                folder = Path(settings.qdrant_path) / f"{alias}-{stamp}"
            builder = cls(Qdrant.embedded(settings, folder), f"{alias}_{stamp}", folder=folder.name)
        else:
            qdrant = Qdrant.remote(settings)
            builder = cls(qdrant, f"{alias}_{new_stamp()}")
            if resume:
                live = builder.alias_target()
                with qdrant.call() as c:
                    names = sorted(
                        col.name
                        for col in c.get_collections().collections
                        if (m := _STAMP.match(col.name)) and m["alias"] == alias and col.name > (live or "")
                    )
                if names:
                    builder.collection = names[-1]
        builder.ensure_collection(dim)
        return builder

    @classmethod
    def open_live(cls, settings: Settings, dim: int) -> IndexBuilder:
        """Append to the collection the alias points at, creating a first build if there is none."""
        if settings.embedded:
            pointer = read_pointer(settings)
            if pointer is None:
                return cls.start_build(settings, dim, resume=True)
            folder = Path(settings.qdrant_path) / pointer["folder"]
            builder = cls(Qdrant.embedded(settings, folder), pointer["collection"], folder=pointer["folder"])
        else:
            builder = cls(Qdrant.remote(settings), "")
            target = builder.alias_target()
            if target is None:
                return cls.start_build(settings, dim, resume=True)
            builder.collection = target
        builder.ensure_collection(dim)
        return builder

    def alias_target(self) -> str | None:
        with self.qdrant.call() as c:
            for alias in c.get_aliases().aliases:
                if alias.alias_name == self.settings.collection_name:
                    return alias.collection_name
        return None

    def ensure_collection(self, dim: int) -> None:
        with self.qdrant.call() as c:
            if c.collection_exists(self.collection):
                size = getattr(c.get_collection(self.collection).config.params.vectors, "size", dim)
                if size != dim:
                    raise QdrantUnavailable(
                        f"Collection {self.collection} holds {size}-d vectors but the model makes {dim}-d ones; "
                        "rebuild without --append (python qdrant/initialize_db.py) to index with this model."
                    )
                return
            c.create_collection(self.collection, **_collection_params(self.settings, dim))
            with warnings.catch_warnings():
                # Embedded Qdrant scans payloads anyway and warns that indexes have no effect there.
                warnings.simplefilter("ignore", UserWarning)
                for name in KEYWORD_FIELDS:
                    c.create_payload_index(self.collection, name, models.PayloadSchemaType.KEYWORD)
                # Titles and artist names as words, for searches that name an artist or a title.
                c.create_payload_index(self.collection, NAME_TEXT_FIELD, _NAME_TEXT_INDEX)

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
            with self.qdrant.call() as c:
                c.delete(self.collection, points_selector=models.PointIdsList(points=stale[start : start + 1000]))
        return len(stale)

    def count(self) -> int:
        with self.qdrant.call() as c:
            return c.count(self.collection, exact=True).count

    # Publishing ----------------------------------------------------------------
    def publish(self) -> None:
        """Point the alias at this collection in one call, then drop the old build."""
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
            write_pointer(self.settings, self.folder, self.collection)

    # Exploring: the map and the perceptual hashes are written after the ingest (issue 6) ------------
    def iter_points(self, batch: int = 1000) -> Iterator[list[models.Record]]:
        """Every point of this build with its vector and payload, a page at a time."""
        offset = None
        while True:
            with self.qdrant.call() as c:
                points, offset = c.scroll(
                    self.collection, limit=batch, offset=offset, with_payload=True, with_vectors=True
                )
            yield points
            if offset is None:
                return

    def set_payloads(self, updates: dict[str, dict[str, Any]], batch: int = 256) -> None:
        """Merge payload keys into many points, a batch of set-payload operations per call.

        Engines without ``batch_update_points`` (Qdrant Edge) get each point
        re-upserted with its merged payload instead.
        """
        ids = list(updates)
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            ops = [
                models.SetPayloadOperation(set_payload=models.SetPayload(payload=updates[i], points=[i])) for i in chunk
            ]
            with self.qdrant.call() as c:
                if hasattr(c, "batch_update_points"):
                    c.batch_update_points(self.collection, update_operations=ops, wait=True)
                    continue
                found = c.retrieve(self.collection, ids=chunk, with_payload=True, with_vectors=True)
                points = [
                    models.PointStruct(id=p.id, vector=p.vector, payload={**(p.payload or {}), **updates[str(p.id)]})
                    for p in found
                ]
                c.upsert(self.collection, points=points, wait=True)

    def close(self) -> None:
        self.qdrant.close()
        if self.settings.embedded:
            remove_stale_builds(self.settings, keep=[self.folder] if self.folder else [])
