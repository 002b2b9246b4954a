"""The read side: the live collection behind the alias, as the search and the app use it.

The app always reads the alias (``COLLECTION_NAME``, default ``artworks``). In embedded mode
:class:`VectorIndex` follows the build pointer and reads the live build through a snapshot of its own
(:mod:`artsearch.index.snapshots`), so the app, any number of CLI searches and a rebuild share one index:
when a rebuild publishes, the next call opens a snapshot of the new build and releases the old one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from artsearch.catalog import MODEL_METADATA, NAME_TEXT_FIELD
from artsearch.config import Settings
from artsearch.errors import CollectionMissing, QdrantUnavailable
from artsearch.index import remote
from artsearch.index.builds import BuildGone, pointer_path, read_pointer, remove_stale_builds
from artsearch.index.client import Qdrant, missing_message
from artsearch.index.filters import Filters
from artsearch.index.snapshots import sweep_snapshots
from artsearch.model.choice import IndexModel

log = logging.getLogger(__name__)

#: Reciprocal rank fusion's constant: 60 (the RRF paper's) rather than Qdrant's default 2, so a name match
#: counts as much as visual rank: a work in both lists beats one in the vector list alone.
RRF_K = 60


def _as_query(query: Any) -> Any:
    """numpy vectors as plain float lists (what the client serialises); ids and query objects unchanged."""
    return query.astype(np.float32).tolist() if isinstance(query, np.ndarray) else query


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

    @property
    def search_params(self) -> models.SearchParams | None:
        """Remote searches' parameters (:data:`artsearch.index.remote.SEARCH`); the embedded engines use their own."""
        return None if self.settings.embedded else remote.SEARCH

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
            for _ in range(5):
                pointer = read_pointer(self.settings)
                if pointer is None:
                    raise CollectionMissing(missing_message(self.settings))
                if self._qdrant is not None and pointer == self._pointer:
                    return self._qdrant
                try:
                    new = self._open(pointer)
                    break
                except BuildGone:
                    continue  # pruned after a newer build was published: the pointer names that one now
                except QdrantUnavailable as exc:
                    if self._qdrant is None:
                        raise
                    # Still held by the rebuild that just published it (or gone): keep answering from the
                    # open build and try again on the next call.
                    log.debug("keeping %s for now: %s", self._pointer, exc)
                    return self._qdrant
            else:
                if self._qdrant is not None:
                    return self._qdrant
                raise QdrantUnavailable(f"The index at {self.settings.qdrant_path} kept changing while opening; retry.")
            old, self._qdrant, self._pointer = self._qdrant, new, pointer
            if old is not None:
                log.info("switched to the rebuilt index %s", pointer["folder"])
                old.close()  # waits for the calls in flight on it; later ones see .closed and retry
                remove_stale_builds(self.settings)
                sweep_snapshots(Path(self.settings.qdrant_path))
            return new

    def _open(self, pointer: dict[str, str]) -> Qdrant:
        """A snapshot of the build ``pointer`` names; with a build already open, a held one is not waited for."""
        folder = Path(self.settings.qdrant_path) / pointer["folder"]
        if not folder.is_dir():
            if read_pointer(self.settings) != pointer:
                raise BuildGone(f"{folder} was replaced by a newer build")
            raise QdrantUnavailable(
                f"The index folder {folder} named by {pointer_path(self.settings)} is missing; "
                "rebuild it with python qdrant/initialize_db.py."
            )
        if self._qdrant is not None:
            return Qdrant.reader(self.settings, folder, wait_s=0)
        return Qdrant.reader(self.settings, folder)

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

    def recorded_model(self) -> IndexModel | None:
        """The model the live collection records it was built with (None for an index built before models were
        recorded)."""
        with self._call() as c:
            metadata = c.get_collection(self.alias).config.metadata
        return IndexModel.from_metadata((metadata or {}).get(MODEL_METADATA))

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
        exclude_ids: Sequence[str] = (),
        with_vectors: bool = False,
        score_threshold: float | None = None,
    ) -> list[models.ScoredPoint]:
        """Nearest artworks to a vector, a stored point id, or a recommend/sample query (those scoring at least
        ``score_threshold`` when given)."""
        query = _as_query(query)
        flt = (filters or Filters()).to_qdrant(exclude_ids)
        with self._call() as c:
            return c.query_points(
                self.alias,
                query=query,
                query_filter=flt,
                search_params=self.search_params,
                limit=limit,
                with_payload=True,
                with_vectors=with_vectors,
                score_threshold=score_threshold,
            ).points

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[models.Record]:
        with self._call() as c:
            return c.retrieve(self.alias, ids=list(ids), with_payload=True, with_vectors=with_vectors)

    def scroll(self, *, filters: Filters | None = None, limit: int = 8) -> list[models.Record]:
        with self._call() as c:
            points, _ = c.scroll(self.alias, scroll_filter=(filters or Filters()).to_qdrant(), limit=limit)
        return points

    def scroll_filtered(
        self, flt: models.Filter | None, *, limit: int, with_vectors: bool = False
    ) -> list[models.Record]:
        """Up to ``limit`` points a raw Qdrant filter keeps (in id order): the colour search's tiers."""
        with self._call() as c:
            points, _ = c.scroll(self.alias, scroll_filter=flt, limit=max(1, limit), with_vectors=with_vectors)
        return points

    def facet(self, key: str, limit: int = 500, *, filters: Filters | None = None) -> list[tuple[str, int]]:
        """Distinct values of a keyword field with their counts among the artworks ``filters`` keeps, most common
        first."""
        flt = (filters or Filters()).to_qdrant()
        with self._call() as c:
            hits = c.facet(self.alias, key=key, limit=limit, exact=True, facet_filter=flt).hits
        return [(str(h.value), int(h.count)) for h in hits]

    def span_bounds(self, lower_key: str, upper_key: str, *, filters: Filters | None = None) -> tuple[int, int] | None:
        """The lowest ``lower_key`` and the highest ``upper_key`` among the artworks ``filters`` keeps (two
        ordered scrolls on their integer indexes), or None when none has them."""
        flt = (filters or Filters()).to_qdrant()
        ends = []
        for key, direction in ((lower_key, models.Direction.ASC), (upper_key, models.Direction.DESC)):
            with self._call() as c:
                points, _ = c.scroll(
                    self.alias,
                    scroll_filter=flt,
                    limit=1,
                    order_by=models.OrderBy(key=key, direction=direction),
                    with_payload=[key],
                )
            value = (points[0].payload or {}).get(key) if points else None
            if not isinstance(value, (int, float)):
                return None
            ends.append(int(value))
        return ends[0], ends[1]

    # --- beyond one nearest-neighbour query: the map, fused name search, groups, random samples ---------
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
        exclude_ids: Sequence[str] = (),
        with_vectors: bool = False,
    ) -> list[models.ScoredPoint]:
        """Vector similarity fused (reciprocal rank fusion) with a full-text match of ``words`` on titles and artists.

        Two prefetches in one ``query_points``: the nearest artworks, and the
        nearest among those whose ``name_text`` (title and artist) holds any of
        the words. An artwork in both lists beats one in only the first, so a
        named artist's works rise while visual relevance still orders them.
        """
        vector = [float(v) for v in vector]
        base = (filters or Filters()).to_qdrant(exclude_ids)
        text = models.FieldCondition(key=NAME_TEXT_FIELD, match=models.MatchTextAny(text_any=" ".join(words)))
        named = models.Filter(must=[text, *([base] if base is not None else [])])
        depth = max(50, 2 * limit)
        with self._call() as c:
            return c.query_points(
                self.alias,
                prefetch=[
                    models.Prefetch(query=vector, filter=base, limit=depth, params=self.search_params),
                    models.Prefetch(query=vector, filter=named, limit=depth, params=self.search_params),
                ],
                query=models.RrfQuery(rrf=models.Rrf(k=RRF_K)),
                limit=limit,
                with_payload=True,
                with_vectors=with_vectors,
            ).points

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
                search_params=self.search_params,
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

    def flagged_vectors(self, key: str, value: str, *, limit: int = 5000) -> np.ndarray:
        """The vectors of the points whose payload ``key`` is ``value`` (the calibration sample a build keeps)."""
        flag = models.Filter(must=[models.FieldCondition(key=key, match=models.MatchValue(value=value))])
        out: list[Any] = []
        offset = None
        with self._call() as c:
            while len(out) < limit:
                points, offset = c.scroll(
                    self.alias,
                    scroll_filter=flag,
                    limit=min(1000, limit - len(out)),
                    offset=offset,
                    with_payload=False,
                    with_vectors=True,
                )
                out.extend(p.vector for p in points)
                if offset is None:
                    break
        return np.asarray(out, dtype=np.float32)
