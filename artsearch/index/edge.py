"""Qdrant Edge as the embedded engine, behind the part of ``QdrantClient`` that artsearch uses.

qdrant-client's local mode (``QdrantClient(path=...)``) is a pure-Python,
brute-force store: at 100,000 artworks it answers in about 0.1-0.25 s and
takes seconds to reopen. Qdrant Edge (``qdrant-edge-py``) runs the real
Qdrant engine in-process. :class:`EdgeClient` speaks the same method names,
argument names and ``qdrant_client.models`` objects as ``QdrantClient`` for the
calls in :mod:`artsearch.index`, and returns the same model classes, so the
index code does not know which engine it talks to.

One folder holds one collection (artsearch builds one folder per build):

``<folder>/.lock``
    held (portalocker, exclusive, non-blocking) while a client has the folder
    open, exactly like local mode, so :func:`artsearch.index.folder_in_use`
    works for both engines.
``<folder>/edge_meta.json``
    ``{"engine": "edge", "collection": {...}, "aliases": {...}}``: the
    collection's name, vector parameters and metadata (``create_collection(...,
    metadata=...)``, returned in ``get_collection(...).config.metadata``), and
    the aliases (Edge has neither names, metadata nor aliases). Replaced atomically.
``<folder>/shard/``
    the Edge shard: segments and write-ahead log.

Readers never open a published build's folder itself (Edge locks its write-ahead log, so only one
process could): :func:`link_for_reading` makes a private snapshot of it out of hard links, which an
``EdgeClient(..., read_only=True)`` opens (see :mod:`artsearch.index.snapshots`).

What Edge lacks is built on top, with Qdrant's semantics, here and nowhere
else: aliases, grouped queries (over-fetch, then group in score order), the
``average_vector`` recommend strategy, and point-id queries (the stored vector,
with the point itself left out of the results). What Edge has is passed
through: prefetches with reciprocal rank fusion, recommend (best score, sum of
scores), random sampling, batched set-payload updates.

Durability: every update is in Edge's write-ahead log when ``update`` returns,
so a process killed right after ``upsert`` loses nothing (the log is replayed
on the next open). ``flush()`` (about 0.1 s) is therefore not paid per batch,
only when a build is published and on close.

Indexing: vectors land in an appendable segment, searched exactly. When a
build is published (an alias is pointed at it), and when a client that wrote
closes, ``optimize()`` turns segments above :data:`INDEXING_THRESHOLD_KB` into
optimised ones holding int8 copies of the vectors; searches scan those and
rescore the best candidates with the float32 originals (exact ranking in
practice, recall@10 1.0 in the benchmark). With :data:`HNSW_MIN_POINTS` set, a
build of at least that many points (150,000) gets an HNSW graph over 4-bit codes when it is published (the
shard is reopened with the graph in its configuration, and ``optimize()`` builds it): past that size the exact
scan is slower than 10 ms at p95 on two cores, and at 1M the graph answers in a few ms at recall@10 0.99 in
1.5 GB with the model (see ``benchmarks/RESULTS.md`` for the measurements).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import portalocker
import qdrant_edge as qe
from qdrant_client import models
from qdrant_client.http.models import QueryResponse

from artsearch.files import atomic_write_json

log = logging.getLogger(__name__)

ENGINE = "edge"
META_FILE = "edge_meta.json"
SHARD_DIR = "shard"
LOCK_FILE = ".lock"
LOCAL_META_FILE = "meta.json"  # qdrant-client local mode's metadata
SEGMENTS_DIR = "segments"  # inside SHARD_DIR: the segments, the only part a reader's snapshot links

# optimize() turns appendable segments above this size (KB of float32 vectors; a 512-d one is 2 KB) into
# optimised, read-only ones (with int8 copies, and a graph if HNSW_M > 0). 10 MB is Qdrant's default: about
# 5,000 CLIP vectors; smaller collections stay in one appendable segment, searched exactly.
INDEXING_THRESHOLD_KB = 10_000
# The HNSW graph is chosen by collection size, when a build is published: below HNSW_MIN_POINTS artworks there is
# none and every search is an exact scan of the int8 copies, rescored with the originals (recall 1.0, builds in
# seconds); from HNSW_MIN_POINTS on, publishing builds an m=HNSW_M graph over 4-bit codes (below). A caller that
# gives hnsw_config gets exactly that instead; None: never by size. The exact scan grows linearly and stops
# meeting p95 <= 10 ms between 100k (p95 6.5-8.9 ms) and 200k (17.9 ms) on this 2-core machine; the graph answers
# 200k in p95 4.5 ms and 1M in 1.5-9.0 ms at recall@10 0.987-0.998 (filtered 1.000), with the page cache warm or
# dropped, and takes 0.5 GB less RAM at 1M than the scan's int8 codes (1.47 GB with the model), against the scan's
# 46 ms at 1M (benchmarks/RESULTS.md, scale_edge.py). It costs build time: about 1 minute more at 200k, 3 at 1M.
# The graph's earlier 1M figures (p95 250-860 ms) came from 2-bit codes, then from a disk other jobs were writing
# to: a fresh query reads about 300 KB (the originals it rescores, its hits' payloads) where the page cache lacks them.
HNSW_MIN_POINTS: int | None = 150_000
HNSW_M = 16
HNSW_EF_CONSTRUCT = 100
# A build with a graph is also quantised harder: 4-bit TurboQuant codes (a random rotation, then 4 bits a
# dimension: 256 B per 512-d vector instead of int8's 512), searched on the graph and rescored with the float32
# originals on GRAPH_OVERSAMPLING x as many candidates; codes and graph kept in RAM (GRAPH_CODES_ON_DISK,
# GRAPH_BUILDS_ON_DISK: False), originals memory-mapped. Measured at 100k vectors with the cluster density of 1M
# (400 centres, raw Edge, m=16, ef 128, x4): TurboQuant 4-bit recall@10 0.995, int8 1.000 (but twice the RAM:
# with the model, over the 1.5 GB line at 1M), while the 2-bit binary codes this first used gave 0.543 (0.953 at
# x16, 1.000 with quantisation ignored): the 0.505 measured at 1M was the codes, not the graph.
GRAPH_BUILDS_ON_DISK = False
GRAPH_CODES_ON_DISK = False
GRAPH_QUANTIZATION = "turbo-4bit"  # or "int8", "binary-2bit"
GRAPH_OVERSAMPLING = 4.0
# Whether a graph build's searches rescore their candidates with the float32 originals (memory-mapped: a query
# reads the few it rescores). Codes alone rank too coarsely: at 100k with 1M's cluster density, unrescored int8
# codes gave recall@10 0.91 (rescored 1.000), TurboQuant 4-bit 0.79 (scale_edge.py --sweep rescore=0,1).
GRAPH_RESCORE = True
# A filtered search whose matching vectors are below this size (KB: about 5,000 CLIP vectors, one artist's works)
# scans them exactly through the payload index rather than the graph.
FULL_SCAN_THRESHOLD_KB = 10_000
# ef for every query unless the caller passes search_params (only matters with a graph). At 1M clustered vectors with
# the TurboQuant graph (benchmarks/RESULTS.md), ef 128 gave recall@10 0.948-0.974, ef 256 0.980-0.997, ef 384 0.994.
DEFAULT_HNSW_EF = 256
# No graph links per payload value (keyword and text indexes get enable_hnsw=False unless the caller asks): Qdrant
# would otherwise build an extra graph for every value matching more points than full_scan_threshold (each genre
# and nationality, the one source, common title words), several times the main graph's build time at 1M. A filter
# on one artist is answered exactly through its payload index whatever the size; wider filters searched on the
# graph use ACORN (below), which keeps their recall without those links.
PAYLOAD_GRAPH_LINKS = False
# Keyword, text and integer payload indexes are memory-mapped (Memory.Cold), not loaded into RAM: at 1M artworks the
# in-RAM ones were 459 MB that every open rebuilt into hash maps, 7-8 s of a reopen with every file in the page cache
# (perf: ImmutableMapIndex::load_from_on_disk, HashMap::insert and malloc at the top), and most of the index's
# anonymous memory. A filter reads one value's posting list from the mapped file. The default exact scan at 1M,
# side by side on a quiet machine (benchmarks/RESULTS.md): reopen 2.10 s against 4.30 s in RAM, RSS with the model
# 1.62 against 2.08 GB, p95 46 against 61 ms, filtered p95 3.4 against 3.7 ms.
PAYLOAD_INDEXES_ON_DISK = True
# ACORN for filtered graph searches whose filter keeps at most this share of the points: the search also walks
# neighbours of neighbours, so a selective filter cannot cut the graph into unreachable pieces.
ACORN_MAX_SELECTIVITY = 0.4
# Optimised segments also keep the vectors as int8 (a quarter of the bytes to scan); searches score the int8
# copies and rescore OVERSAMPLING x limit candidates with the float32 originals. None: float32 only.
DEFAULT_QUANTIZATION: str | None = "int8"
OVERSAMPLING = 2.0
# With int8 copies in RAM, keep the float32 originals on disk (memory-mapped, read on demand): a search reads only
# the originals it rescores, so RSS is about half and opening does not load them.
VECTORS_ON_DISK = True
# Grouped queries fetch this many hits per wanted hit first, and four times more on each retry.
GROUP_OVERFETCH = 4
# Qdrant's reciprocal rank fusion constant when a query does not give one.
RRF_DEFAULT_K = 2

_DISTANCES = {
    models.Distance.COSINE: qe.Distance.Cosine,
    models.Distance.EUCLID: qe.Distance.Euclid,
    models.Distance.DOT: qe.Distance.Dot,
    models.Distance.MANHATTAN: qe.Distance.Manhattan,
}
_SCHEMAS = {
    models.PayloadSchemaType.KEYWORD: qe.PayloadSchemaType.Keyword,
    models.PayloadSchemaType.INTEGER: qe.PayloadSchemaType.Integer,
    models.PayloadSchemaType.FLOAT: qe.PayloadSchemaType.Float,
    models.PayloadSchemaType.GEO: qe.PayloadSchemaType.Geo,
    models.PayloadSchemaType.TEXT: qe.PayloadSchemaType.Text,
    models.PayloadSchemaType.BOOL: qe.PayloadSchemaType.Bool,
    models.PayloadSchemaType.DATETIME: qe.PayloadSchemaType.Datetime,
    models.PayloadSchemaType.UUID: qe.PayloadSchemaType.Uuid,
}


class EdgeError(OSError):
    """Qdrant Edge failed for a reason other than bad input (storage, engine state).

    An ``OSError`` so that :class:`artsearch.index.Qdrant` reports it as an
    unavailable index in one line, as it does for local mode's I/O errors.
    """


class EngineMismatch(RuntimeError):
    """The folder holds an index written by the other embedded engine."""


def folder_engine(folder: str | Path) -> str | None:
    """Which embedded engine wrote the collection in ``folder``: "edge", "local", or None if it holds none.

    A folder with only a lock file or with empty metadata (a build killed
    before its collection was created) holds nothing and belongs to neither.
    """
    folder = Path(folder)
    try:
        meta = json.loads((folder / META_FILE).read_text())
        if meta.get("collection"):
            return ENGINE
    except FileNotFoundError:
        pass
    except (ValueError, AttributeError):
        return ENGINE  # our file, but damaged: still not something local mode can open
    try:
        meta = json.loads((folder / LOCAL_META_FILE).read_text())
        if meta.get("collections"):
            return "local"
    except FileNotFoundError:
        pass
    except (ValueError, AttributeError):
        return "local"
    return None


def _edge_call(fn: Any, *args: Any) -> Any:
    """Call into Edge; its bare ``Exception`` becomes ValueError (bad input) or :class:`EdgeError`."""
    try:
        return fn(*args)
    except (ValueError, TypeError):
        raise
    except Exception as exc:  # qdrant_edge raises plain Exception for everything
        text = str(exc)
        lowered = text.lower()
        bad_input = ("wrong input", "bad input", "bad request", "dimension error", "not found", "no appropriate index")
        if any(s in lowered for s in bad_input):
            raise ValueError(text) from None
        raise EdgeError(text) from None


def _point_id(value: Any) -> int | str:
    """Ids as qdrant-client returns them: int, or the UUID as a string."""
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _input_id(value: Any) -> int | str:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (int, str)):
        return value
    raise ValueError(f"Unsupported point id {value!r}")


def _vector_output(vector: Any) -> Any:
    if isinstance(vector, dict):  # a named vector: the unnamed one is what artsearch stores
        if set(vector) == {""}:
            return vector[""]
    return vector


def _vector_input(vector: Any) -> list[float]:
    if isinstance(vector, np.ndarray):
        return vector.astype(np.float32).tolist()
    if isinstance(vector, dict):
        if set(vector) == {""}:
            return _vector_input(vector[""])
        raise NotImplementedError("Named vectors are not supported by the embedded Edge engine")
    if isinstance(vector, list) and (not vector or isinstance(vector[0], (int, float))):
        return [float(x) for x in vector]
    raise NotImplementedError(f"Vectors of type {type(vector).__name__} are not supported by the embedded Edge engine")


# --- filters --------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _match(match: Any) -> Any:
    if isinstance(match, models.MatchValue):
        return qe.MatchValue(match.value)
    if isinstance(match, models.MatchAny):
        return qe.MatchAny(list(match.any))
    if isinstance(match, models.MatchTextAny):
        return qe.MatchTextAny(match.text_any)
    raise NotImplementedError(f"{type(match).__name__} is not supported by the embedded Edge engine")


def _range(rng: Any) -> Any:
    if not isinstance(rng, models.Range):
        raise NotImplementedError(f"{type(rng).__name__} is not supported by the embedded Edge engine")
    return qe.RangeFloat(gte=rng.gte, gt=rng.gt, lte=rng.lte, lt=rng.lt)


def _condition(cond: Any) -> Any:
    if isinstance(cond, models.FieldCondition):
        unsupported = [
            n
            for n in ("geo_bounding_box", "geo_radius", "geo_polygon", "values_count", "is_empty", "is_null")
            if getattr(cond, n) is not None
        ]
        if unsupported:
            raise NotImplementedError(f"{unsupported[0]} conditions are not supported by the embedded Edge engine")
        return qe.FieldCondition(
            key=cond.key,
            match=_match(cond.match) if cond.match is not None else None,
            range=_range(cond.range) if cond.range is not None else None,
        )
    if isinstance(cond, models.HasIdCondition):
        return qe.HasIdCondition({_input_id(i) for i in cond.has_id})
    if isinstance(cond, models.Filter):
        return _filter(cond)
    raise NotImplementedError(f"{type(cond).__name__} is not supported by the embedded Edge engine")


def _filter(flt: models.Filter | None, exclude_ids: Iterable[Any] = ()) -> Any:
    """A qdrant_client Filter as an Edge Filter, with ``exclude_ids`` added to must_not."""
    exclude = {_input_id(i) for i in exclude_ids}
    if flt is None and not exclude:
        return None
    must = [_condition(c) for c in _as_list(flt.must)] if flt else []
    should = [_condition(c) for c in _as_list(flt.should)] if flt else []
    must_not = [_condition(c) for c in _as_list(flt.must_not)] if flt else []
    if exclude:
        must_not.append(qe.HasIdCondition(exclude))
    if flt is not None and flt.min_should is not None:
        raise NotImplementedError("min_should is not supported by the embedded Edge engine")
    return qe.Filter(must=must or None, should=should or None, must_not=must_not or None)


def _with_payload(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return bool(value) if value is not None else True
    if isinstance(value, models.PayloadSelectorInclude):
        return qe.PayloadSelector.Include(list(value.include))
    if isinstance(value, models.PayloadSelectorExclude):
        return qe.PayloadSelector.Exclude(list(value.exclude))
    if isinstance(value, list):
        return [str(v) for v in value]
    raise NotImplementedError(f"with_payload={value!r} is not supported by the embedded Edge engine")


def _with_vectors(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return bool(value)
    return [str(v) for v in value]


def _search_params(params: models.SearchParams | None, oversampling: float = OVERSAMPLING, rescore: bool = True) -> Any:
    """Edge's search parameters: the caller's, with the collection's rescoring (``rescore``, ``oversampling``) and
    ACORN for what it leaves unset."""
    default_quant = qe.QuantizationSearchParams(rescore=rescore, oversampling=oversampling)
    acorn = qe.AcornSearchParams(enable=True, max_selectivity=ACORN_MAX_SELECTIVITY)
    if params is None:
        return qe.SearchParams(hnsw_ef=DEFAULT_HNSW_EF, quantization=default_quant, acorn=acorn)
    quant = default_quant
    if params.quantization is not None:
        q = params.quantization
        quant = qe.QuantizationSearchParams(ignore=bool(q.ignore), rescore=q.rescore, oversampling=q.oversampling)
    if params.acorn is not None:
        acorn = qe.AcornSearchParams(enable=bool(params.acorn.enable), max_selectivity=params.acorn.max_selectivity)
    return qe.SearchParams(
        hnsw_ef=params.hnsw_ef if params.hnsw_ef is not None else DEFAULT_HNSW_EF,
        exact=bool(params.exact),
        quantization=quant,
        indexed_only=bool(params.indexed_only),
        acorn=acorn,
    )


def _quantization(config: Any) -> Any:
    if config is None or isinstance(config, models.Disabled):
        return None
    if isinstance(config, models.ScalarQuantization):
        s = config.scalar
        return qe.ScalarQuantizationConfig(qe.ScalarType.Int8, quantile=s.quantile, always_ram=s.always_ram)
    raise NotImplementedError(f"{type(config).__name__} is not supported by the embedded Edge engine")


def _index_schema(schema: Any) -> Any:
    """A payload index type or parameter object as Edge's: text and keyword parameters kept, others by type.

    Keyword and text indexes build no graph links of their own unless asked (:data:`PAYLOAD_GRAPH_LINKS`);
    keyword, text and integer indexes are memory-mapped (:data:`PAYLOAD_INDEXES_ON_DISK`) unless the caller
    says ``on_disk``."""
    links = PAYLOAD_GRAPH_LINKS
    given_on_disk = getattr(schema, "on_disk", None)
    memory = qe.Memory.Cold if PAYLOAD_INDEXES_ON_DISK and given_on_disk is None else None
    if isinstance(schema, models.TextIndexParams):
        tokenizer = getattr(qe.TokenizerType, schema.tokenizer.value.capitalize()) if schema.tokenizer else None
        return qe.TextIndexParams(
            tokenizer=tokenizer,
            min_token_len=schema.min_token_len,
            max_token_len=schema.max_token_len,
            lowercase=schema.lowercase,
            ascii_folding=schema.ascii_folding,
            phrase_matching=schema.phrase_matching,
            on_disk=schema.on_disk,
            enable_hnsw=schema.enable_hnsw if schema.enable_hnsw is not None else links,
            memory=memory,
        )
    if isinstance(schema, models.KeywordIndexParams):
        return qe.KeywordIndexParams(
            is_tenant=schema.is_tenant,
            on_disk=schema.on_disk,
            enable_hnsw=schema.enable_hnsw if schema.enable_hnsw is not None else links,
            memory=memory,
        )
    if not isinstance(schema, models.PayloadSchemaType):
        # A plain string, or another parameter object, which carries its type.
        schema = models.PayloadSchemaType(getattr(schema, "type", schema))
    if schema == models.PayloadSchemaType.KEYWORD:
        return qe.KeywordIndexParams(enable_hnsw=links, memory=memory)
    if schema == models.PayloadSchemaType.INTEGER:
        return qe.IntegerIndexParams(lookup=True, range=True, memory=memory)
    return _SCHEMAS[schema]


def _payload_value(payload: dict[str, Any], key: str) -> list[Any] | None:
    """Values at a dotted payload path, lists flattened (like Qdrant's group_by); None when absent."""
    current: list[Any] = [payload]
    for part in key.replace("[]", "").split("."):
        nxt: list[Any] = []
        for item in current:
            if isinstance(item, dict) and part in item:
                value = item[part]
                nxt.extend(value if isinstance(value, list) else [value])
        current = nxt
    return current or None


def _select_payload(payload: dict[str, Any] | None, with_payload: Any) -> dict[str, Any] | None:
    if payload is None or with_payload is True:
        return payload
    if with_payload is False or with_payload is None:
        return None
    if isinstance(with_payload, models.PayloadSelectorInclude):
        return {k: v for k, v in payload.items() if k in with_payload.include}
    if isinstance(with_payload, models.PayloadSelectorExclude):
        return {k: v for k, v in payload.items() if k not in with_payload.exclude}
    if isinstance(with_payload, list):
        return {k: v for k, v in payload.items() if k in with_payload}
    return payload


def _edge_config(col: dict[str, Any]) -> Any:
    """The shard configuration the collection's metadata describes (metadata written before these keys existed
    holds only the vector size, distance and graph settings: the module's defaults fill in the rest)."""
    quant = col.get("quantization", {"quantile": 0.99, "always_ram": True} if DEFAULT_QUANTIZATION else None)
    on_disk = col.get("graph_on_disk", False)
    codes_on_disk = col.get("codes_on_disk", on_disk)  # metadata older than the key: codes placed with the graph
    codes_memory = qe.Memory.Cold if codes_on_disk else qe.Memory.Cached
    scalar: Any = None
    kind = quant.get("kind") if quant is not None else None
    if kind == "binary-2bit":
        scalar = qe.BinaryQuantizationConfig(
            encoding=qe.BinaryQuantizationEncoding.TwoBits,
            query_encoding=qe.BinaryQuantizationQueryEncoding.Scalar8Bits,
            memory=codes_memory,
        )
    elif kind == "turbo-4bit":
        scalar = qe.TurboQuantQuantizationConfig(bits=qe.TurboQuantBitSize.Bits4, memory=codes_memory)
    elif quant is not None:
        placement = {"memory": qe.Memory.Cold} if codes_on_disk else {"always_ram": quant.get("always_ram")}
        scalar = qe.ScalarQuantizationConfig(qe.ScalarType.Int8, quantile=quant.get("quantile"), **placement)
    return qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(
            size=col["size"],
            distance=_DISTANCES[models.Distance(col["distance"])],
            memory=qe.Memory.Cold if col.get("vectors_on_disk", VECTORS_ON_DISK and quant is not None) else None,
            quantization_config=scalar,
        ),
        on_disk_payload=col.get("on_disk_payload"),
        hnsw_config=qe.HnswIndexConfig(
            m=col.get("m", 0),
            ef_construct=col.get("ef_construct", HNSW_EF_CONSTRUCT),
            full_scan_threshold=col.get("full_scan_threshold", FULL_SCAN_THRESHOLD_KB),
            memory=qe.Memory.Cold if on_disk else None,
        ),
        optimizers=qe.EdgeOptimizersConfig(indexing_threshold=col.get("indexing_threshold", INDEXING_THRESHOLD_KB)),
    )


class EdgeClient:
    """A ``QdrantClient`` look-alike for one embedded folder, backed by a Qdrant Edge shard.

    Implements only what :mod:`artsearch.index` calls; anything else raises
    ``AttributeError`` or ``NotImplementedError`` rather than guessing.
    Missing collections raise ``ValueError("Collection ... not found")`` and a
    second opener ``RuntimeError("... already accessed by another instance ...")``,
    the same as local mode, so the callers' error handling applies unchanged.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.location = Path(path)
        self.location.mkdir(parents=True, exist_ok=True)
        self.read_only = read_only  # a reader's snapshot (link_for_reading): writes refused, nothing flushed
        self._lock = threading.RLock()
        self._lock_file: IO[str] | None = self._acquire_lock()
        self._shard: Any = None
        self._dirty = False  # written since the last optimize()
        self._closed = False
        try:
            if folder_engine(self.location) == "local":
                raise EngineMismatch(
                    f"{self.location} holds an index written by qdrant-client local mode, not Qdrant Edge."
                )
            self._meta = self._read_meta()
            if self._meta["collection"]:
                self._shard = _edge_call(qe.EdgeShard.load, str(self.location / SHARD_DIR))
        except BaseException:
            self._release_lock()
            raise

    # --- folder, lock and metadata -------------------------------------------------------
    def _acquire_lock(self) -> IO[str]:
        path = self.location / LOCK_FILE
        if not path.exists():
            path.write_text("tmp lock file")
        fh = path.open("r+")
        try:
            portalocker.lock(fh, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
        except portalocker.exceptions.LockException:
            fh.close()
            raise RuntimeError(
                f"Storage folder {self.location} is already accessed by another instance of Qdrant client. "
                "If you require concurrent access, use Qdrant server instead."
            ) from None
        return fh

    def _release_lock(self) -> None:
        fh, self._lock_file = self._lock_file, None
        if fh is None or fh.closed:
            return
        try:
            portalocker.unlock(fh)
        finally:
            fh.close()

    def _read_meta(self) -> dict[str, Any]:
        try:
            meta = json.loads((self.location / META_FILE).read_text())
        except FileNotFoundError:
            return {"engine": ENGINE, "collection": None, "aliases": {}}
        except ValueError as exc:
            raise EdgeError(f"{self.location / META_FILE} is damaged: {exc}") from None
        if meta.get("engine") != ENGINE:
            raise EngineMismatch(f"{self.location / META_FILE} was not written by the Edge engine.")
        meta.setdefault("aliases", {})
        return meta

    def _write_meta(self, meta: dict[str, Any]) -> None:
        atomic_write_json(self.location / META_FILE, meta)
        self._meta = meta

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("EdgeClient instance is closed. Please create a new instance.")

    def _check_writable(self) -> None:
        self._check_open()
        if self.read_only:
            # A snapshot's segment files are hard links shared with the published build and other readers.
            raise RuntimeError(f"{self.location} is a read-only snapshot of a published build; writes are refused.")

    def _collection_name(self) -> str | None:
        col = self._meta.get("collection")
        return col["name"] if col else None

    def _resolve(self, collection_name: str) -> Any:
        """The shard behind a collection name or alias; ValueError like local mode when there is none."""
        self._check_open()
        name = self._collection_name()
        if name is not None and self._shard is not None:
            if collection_name == name or self._meta["aliases"].get(collection_name) == name:
                return self._shard
        raise ValueError(f"Collection {collection_name} not found")

    # --- collections and aliases ---------------------------------------------------------
    def collection_exists(self, collection_name: str, **kwargs: Any) -> bool:
        try:
            self._resolve(collection_name)
        except ValueError:
            return False
        return True

    def get_collections(self, **kwargs: Any) -> models.CollectionsResponse:
        self._check_open()
        name = self._collection_name()
        return models.CollectionsResponse(collections=[models.CollectionDescription(name=name)] if name else [])

    def get_aliases(self, **kwargs: Any) -> models.CollectionsAliasesResponse:
        self._check_open()
        return models.CollectionsAliasesResponse(
            aliases=[models.AliasDescription(alias_name=a, collection_name=c) for a, c in self._meta["aliases"].items()]
        )

    def get_collection(self, collection_name: str, **kwargs: Any) -> models.CollectionInfo:
        shard = self._resolve(collection_name)
        col = self._meta["collection"]
        info = _edge_call(shard.info)
        params = models.CollectionParams.model_construct(
            vectors=models.VectorParams(size=col["size"], distance=models.Distance(col["distance"])),
            shard_number=1,
            replication_factor=1,
        )
        config = models.CollectionConfig.model_construct(
            params=params,
            hnsw_config=models.HnswConfig(
                m=col.get("m", 0),
                ef_construct=col.get("ef_construct", HNSW_EF_CONSTRUCT),
                full_scan_threshold=col.get("full_scan_threshold", FULL_SCAN_THRESHOLD_KB),
            ),
            optimizer_config=None,
            wal_config=None,
            quantization_config=None,
            metadata=col.get("metadata"),
        )
        return models.CollectionInfo.model_construct(
            status=models.CollectionStatus.GREEN if not self._dirty else models.CollectionStatus.YELLOW,
            optimizer_status=models.OptimizersStatusOneOf.OK,
            points_count=info.points_count,
            indexed_vectors_count=info.indexed_vectors_count,
            segments_count=info.segments_count,
            config=config,
            payload_schema={},
        )

    def create_collection(
        self,
        collection_name: str,
        vectors_config: models.VectorParams | dict[str, models.VectorParams],
        *,
        hnsw_config: models.HnswConfigDiff | None = None,
        optimizers_config: models.OptimizersConfigDiff | None = None,
        quantization_config: Any = None,
        on_disk_payload: bool | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> bool:
        with self._lock:
            self._check_writable()
            existing = self._collection_name()
            if existing == collection_name:
                raise ValueError(f"Collection {collection_name} already exists!")
            if existing is not None:
                raise ValueError(
                    f"{self.location} already holds collection {existing}: the embedded Edge engine keeps one "
                    "collection per folder."
                )
            if isinstance(vectors_config, dict):
                if set(vectors_config) != {""}:
                    raise NotImplementedError("Named vectors are not supported by the embedded Edge engine")
                vectors_config = vectors_config[""]
            hnsw = {"m": 0, "ef_construct": HNSW_EF_CONSTRUCT, "full_scan_threshold": FULL_SCAN_THRESHOLD_KB}
            chosen = False  # the caller chose the graph: no size rule
            for diff in (hnsw_config, vectors_config.hnsw_config):
                if diff is not None:
                    given = {k: v for k, v in diff.model_dump().items() if k in hnsw and v is not None}
                    chosen = chosen or "m" in given
                    hnsw.update(given)
            config = vectors_config.quantization_config or quantization_config
            if isinstance(config, models.ScalarQuantization):
                quant = {"quantile": config.scalar.quantile, "always_ram": config.scalar.always_ram}
            elif config is None and DEFAULT_QUANTIZATION == "int8":
                quant = {"quantile": 0.99, "always_ram": True}
            else:
                _quantization(config)  # None, Disabled, or NotImplementedError for what Edge is not given here
                quant = None
            indexing = INDEXING_THRESHOLD_KB
            if optimizers_config is not None and optimizers_config.indexing_threshold is not None:
                indexing = optimizers_config.indexing_threshold
            col = {
                "name": collection_name,
                "size": vectors_config.size,
                "distance": vectors_config.distance.value,
                **hnsw,
                "graph_by_size": not chosen,
                "quantization": quant,
                "vectors_on_disk": bool(vectors_config.on_disk or (VECTORS_ON_DISK and quant)),
                "indexing_threshold": indexing,
                "on_disk_payload": on_disk_payload,
                **({"metadata": json.loads(json.dumps(metadata))} if metadata else {}),
            }
            shard_dir = self.location / SHARD_DIR
            if shard_dir.exists():  # a create that crashed before writing the metadata
                shutil.rmtree(shard_dir)
            self._shard = _edge_call(qe.EdgeShard.create, str(shard_dir), _edge_config(col))
            self._write_meta({**self._meta, "engine": ENGINE, "collection": col})
            return True

    def delete_collection(self, collection_name: str, **kwargs: Any) -> bool:
        with self._lock:
            self._check_writable()
            if collection_name != self._collection_name():
                return False
            if self._shard is not None:
                self._shard.close()
                self._shard = None
            shutil.rmtree(self.location / SHARD_DIR, ignore_errors=True)
            aliases = {a: c for a, c in self._meta["aliases"].items() if c != collection_name}
            self._write_meta({**self._meta, "collection": None, "aliases": aliases})
            self._dirty = False
            return True

    def update_collection_aliases(self, change_aliases_operations: Sequence[Any], **kwargs: Any) -> bool:
        """Apply all operations to the alias table in one atomic metadata write, like Qdrant.

        Pointing an alias at this folder's collection publishes it, so the
        shard is optimised and flushed first: readers that follow the alias
        get the indexed, durable build.
        """
        with self._lock:
            self._check_writable()
            aliases = dict(self._meta["aliases"])
            published = False
            for op in change_aliases_operations:
                if isinstance(op, models.CreateAliasOperation):
                    target = op.create_alias.collection_name
                    if target != self._collection_name():
                        raise ValueError(f"Collection {target} not found")
                    aliases[op.create_alias.alias_name] = target
                    published = True
                elif isinstance(op, models.DeleteAliasOperation):
                    aliases.pop(op.delete_alias.alias_name, None)
                elif isinstance(op, models.RenameAliasOperation):
                    old, new = op.rename_alias.old_alias_name, op.rename_alias.new_alias_name
                    if old not in aliases:
                        raise ValueError(f"Alias {old} does not exist")
                    aliases[new] = aliases.pop(old)
                else:
                    raise NotImplementedError(f"{type(op).__name__} is not supported by the embedded Edge engine")
            if published:
                self._optimize_and_flush(publishing=True)
            self._write_meta({**self._meta, "aliases": aliases})
            return True

    def create_payload_index(
        self, collection_name: str, field_name: str, field_schema: Any = None, field_type: Any = None, **kwargs: Any
    ) -> models.UpdateResult:
        schema = _index_schema(field_schema if field_schema is not None else field_type)
        with self._lock:
            self._check_writable()
            shard = self._resolve(collection_name)
            _edge_call(shard.update, qe.UpdateOperation.create_field_index(field_name, schema))
            self._dirty = True
        return models.UpdateResult(operation_id=None, status=models.UpdateStatus.COMPLETED)

    # --- writing ----------------------------------------------------------------------------
    def batch_update_points(
        self, collection_name: str, update_operations: Sequence[Any], wait: bool = True, **kwargs: Any
    ) -> list[models.UpdateResult]:
        """Apply set-payload operations in order (the kind artsearch batches), each one Edge update."""
        ops = []
        for op in update_operations:
            if not isinstance(op, models.SetPayloadOperation):
                raise NotImplementedError(f"{type(op).__name__} is not supported by the embedded Edge engine")
            body = op.set_payload
            if body.points is not None:
                ops.append(qe.UpdateOperation.set_payload([_input_id(i) for i in body.points], body.payload, body.key))
            elif body.filter is not None:
                ops.append(qe.UpdateOperation.set_payload_by_filter(_filter(body.filter), body.payload, body.key))
            else:
                raise ValueError("set_payload needs points or a filter")
        with self._lock:
            self._check_writable()
            shard = self._resolve(collection_name)
            for edge_op in ops:
                _edge_call(shard.update, edge_op)
            self._dirty = True
        done = models.UpdateResult(operation_id=None, status=models.UpdateStatus.COMPLETED)
        return [done for _ in ops]

    def upsert(self, collection_name: str, points: Any, wait: bool = True, **kwargs: Any) -> models.UpdateResult:
        """Insert or replace points. In the write-ahead log when this returns, so a killed process loses none."""
        if isinstance(points, models.Batch):
            payloads = points.payloads or [None] * len(points.ids)
            vectors = points.vectors
            if isinstance(vectors, dict):
                if set(vectors) != {""}:
                    raise NotImplementedError("Named vectors are not supported by the embedded Edge engine")
                vectors = vectors[""]
            items = list(zip(points.ids, vectors, payloads, strict=True))
        else:
            items = [(p.id, p.vector, p.payload) for p in points]
        edge_points = [qe.Point(_input_id(i), _vector_input(v), p) for i, v, p in items]
        with self._lock:
            self._check_writable()
            shard = self._resolve(collection_name)
            _edge_call(shard.update, qe.UpdateOperation.upsert_points(edge_points))
            self._dirty = True
        return models.UpdateResult(operation_id=None, status=models.UpdateStatus.COMPLETED)

    def delete(
        self, collection_name: str, points_selector: Any, wait: bool = True, **kwargs: Any
    ) -> models.UpdateResult:
        if isinstance(points_selector, models.PointIdsList):
            op = qe.UpdateOperation.delete_points([_input_id(i) for i in points_selector.points])
        elif isinstance(points_selector, models.FilterSelector):
            op = qe.UpdateOperation.delete_points_by_filter(_filter(points_selector.filter))
        elif isinstance(points_selector, models.Filter):
            op = qe.UpdateOperation.delete_points_by_filter(_filter(points_selector))
        elif isinstance(points_selector, list):
            op = qe.UpdateOperation.delete_points([_input_id(i) for i in points_selector])
        else:
            raise NotImplementedError(f"{type(points_selector).__name__} is not supported by the embedded Edge engine")
        with self._lock:
            self._check_writable()
            shard = self._resolve(collection_name)
            _edge_call(shard.update, op)
            self._dirty = True
        return models.UpdateResult(operation_id=None, status=models.UpdateStatus.COMPLETED)

    def _optimize_and_flush(self, *, publishing: bool = False) -> None:
        if self._shard is None:
            return
        if publishing:
            self._add_graph_if_large()
        if self._dirty:
            start = time.perf_counter()
            changed = _edge_call(self._shard.optimize)
            log.info("optimized %s in %.1f s (changed: %s)", self.location.name, time.perf_counter() - start, changed)
            self._dirty = False
        _edge_call(self._shard.flush)

    def _add_graph_if_large(self) -> None:
        """A build of at least HNSW_MIN_POINTS points, published: reopen its shard with an HNSW graph configured
        (Edge keeps the new configuration), so the next ``optimize()`` builds the graph."""
        col = self._meta["collection"]
        threshold = HNSW_MIN_POINTS
        if threshold is None or not col.get("graph_by_size") or col.get("m"):
            return
        if _edge_call(self._shard.info).points_count < threshold:
            return
        col = {**col, "m": HNSW_M, "graph_on_disk": GRAPH_BUILDS_ON_DISK, "codes_on_disk": GRAPH_CODES_ON_DISK}
        if col.get("quantization") is not None:
            if GRAPH_QUANTIZATION != "int8":
                col["quantization"] = {"kind": GRAPH_QUANTIZATION}
            col["oversampling"] = GRAPH_OVERSAMPLING
            col["rescore"] = GRAPH_RESCORE
        _edge_call(self._shard.flush)
        self._shard.close()
        self._shard = None
        self._shard = _edge_call(qe.EdgeShard.load, str(self.location / SHARD_DIR), _edge_config(col))
        self._write_meta({**self._meta, "collection": col})
        self._dirty = True
        log.info("%s holds %d points or more: building its HNSW graph (m=%d)", self.location.name, threshold, HNSW_M)

    # --- reading ----------------------------------------------------------------------------
    def count(
        self, collection_name: str, count_filter: models.Filter | None = None, exact: bool = True, **kwargs: Any
    ) -> models.CountResult:
        shard = self._resolve(collection_name)
        n = _edge_call(shard.count, qe.CountRequest(exact=True, filter=_filter(count_filter)))
        return models.CountResult(count=n)

    def retrieve(
        self,
        collection_name: str,
        ids: Sequence[Any],
        with_payload: Any = True,
        with_vectors: Any = False,
        **kwargs: Any,
    ) -> list[models.Record]:
        shard = self._resolve(collection_name)
        ids = [_input_id(i) for i in ids]
        records = _edge_call(shard.retrieve, ids, _with_payload(with_payload), _with_vectors(with_vectors))
        return [self._record(r) for r in records]

    def scroll(
        self,
        collection_name: str,
        scroll_filter: models.Filter | None = None,
        limit: int = 10,
        order_by: Any = None,
        offset: Any = None,
        with_payload: Any = True,
        with_vectors: Any = False,
        **kwargs: Any,
    ) -> tuple[list[models.Record], int | str | None]:
        if limit < 1:
            raise ValueError(f"limit value {limit} is invalid. Must be 1 or larger.")
        shard = self._resolve(collection_name)
        edge_order = None
        if order_by is not None:
            if isinstance(order_by, str):
                order_by = models.OrderBy(key=order_by)
            direction = qe.Direction.Desc if order_by.direction == models.Direction.DESC else qe.Direction.Asc
            edge_order = qe.OrderBy(order_by.key, direction=direction, start_from=order_by.start_from)
        request = qe.ScrollRequest(
            offset=_input_id(offset) if offset is not None else None,
            limit=limit,
            filter=_filter(scroll_filter),
            with_payload=_with_payload(with_payload),
            with_vector=_with_vectors(with_vectors),
            order_by=edge_order,
        )
        records, next_offset = _edge_call(shard.scroll, request)
        return [self._record(r) for r in records], (_point_id(next_offset) if next_offset is not None else None)

    def facet(
        self,
        collection_name: str,
        key: str,
        facet_filter: models.Filter | None = None,
        limit: int = 10,
        exact: bool = False,
        **kwargs: Any,
    ) -> models.FacetResponse:
        if limit < 1:
            raise ValueError(f"limit value {limit} is invalid. Must be 1 or larger.")
        shard = self._resolve(collection_name)
        request = qe.FacetRequest(key=key, limit=limit, exact=exact, filter=_filter(facet_filter))
        try:
            response = _edge_call(shard.facet, request)
        except ValueError as exc:
            if "no appropriate index" not in str(exc).lower():
                raise
            # Edge facets only indexed fields; local mode and artsearch's callers need none. A build killed
            # between creating its collection and its payload indexes lacks them, so create the index now.
            with self._lock:
                _edge_call(shard.update, qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Keyword))
                self._dirty = True
            response = _edge_call(shard.facet, request)
        hits = sorted(((h.value, h.count) for h in response.hits), key=lambda vc: (-vc[1], str(type(vc[0])), vc[0]))
        return models.FacetResponse(hits=[models.FacetValueHit(value=v, count=c) for v, c in hits])

    def query_points(
        self,
        collection_name: str,
        query: Any = None,
        using: str | None = None,
        prefetch: Any = None,
        query_filter: models.Filter | None = None,
        search_params: models.SearchParams | None = None,
        limit: int = 10,
        offset: int | None = None,
        with_payload: Any = True,
        with_vectors: Any = False,
        score_threshold: float | None = None,
        lookup_from: Any = None,
        **kwargs: Any,
    ) -> QueryResponse:
        """Nearest neighbours of a vector or a stored point, recommend, random sample, (no query) by id, or
        prefetches fused by reciprocal rank (``RrfQuery`` / ``FusionQuery``), which Edge runs natively."""
        if limit < 1:
            raise ValueError(f"limit value {limit} is invalid. Must be 1 or larger.")
        if offset is not None and offset < 0:
            raise ValueError(f"offset value {offset} is invalid. Must be 0 or larger.")
        self._unsupported(using=using, lookup_from=lookup_from)
        shard = self._resolve(collection_name)
        points = self._query(
            shard,
            query,
            query_filter,
            search_params,
            limit,
            offset or 0,
            with_payload,
            with_vectors,
            score_threshold,
            prefetch=prefetch,
        )
        return QueryResponse(points=points)

    def query_points_groups(
        self,
        collection_name: str,
        group_by: str,
        query: Any = None,
        using: str | None = None,
        prefetch: Any = None,
        query_filter: models.Filter | None = None,
        search_params: models.SearchParams | None = None,
        limit: int = 10,
        group_size: int = 3,
        with_payload: Any = True,
        with_vectors: Any = False,
        score_threshold: float | None = None,
        with_lookup: Any = None,
        lookup_from: Any = None,
        **kwargs: Any,
    ) -> models.GroupsResult:
        """Up to ``limit`` groups of up to ``group_size`` hits, groups ordered by their best hit.

        Edge has no grouped query, so hits are fetched in score order and
        grouped here; the fetch grows until the first ``limit`` groups are
        full or the matching points run out. A point whose ``group_by`` value
        is a list joins every group in it; points without the field, or with a
        value that is not a string or integer, join none (as in Qdrant).
        """
        if limit < 1:
            raise ValueError(f"limit value {limit} is invalid. Must be 1 or larger.")
        if group_size < 1:
            raise ValueError(f"group_size value {group_size} is invalid. Must be 1 or larger.")
        self._unsupported(using=using, prefetch=prefetch, lookup_from=lookup_from, with_lookup=with_lookup)
        shard = self._resolve(collection_name)
        fetch = max(64, limit * group_size * GROUP_OVERFETCH)
        while True:
            points = self._query(
                shard, query, query_filter, search_params, fetch, 0, True, with_vectors, score_threshold
            )
            groups: dict[Any, models.PointGroup] = {}
            for point in points:
                values = _payload_value(point.payload or {}, group_by)
                if values is None or any(type(v) not in (str, int) for v in values):
                    continue
                for value in dict.fromkeys(values):
                    group = groups.get(value)
                    if group is None:
                        if len(groups) >= limit:
                            continue
                        group = groups[value] = models.PointGroup(id=value, hits=[])
                    if len(group.hits) < group_size:
                        group.hits.append(point)
            exhausted = len(points) < fetch
            full = len(groups) >= limit and all(len(g.hits) >= group_size for g in groups.values())
            if exhausted or full:
                break
            fetch *= GROUP_OVERFETCH
        for group in groups.values():
            for hit in group.hits:
                hit.payload = _select_payload(hit.payload, with_payload)
        return models.GroupsResult(groups=list(groups.values()))

    def _rescoring(self) -> tuple[float, bool]:
        """The collection's own rescoring: oversampling, and whether candidates are rescored at all."""
        col = self._meta.get("collection") or {}
        return float(col.get("oversampling", OVERSAMPLING)), bool(col.get("rescore", True))

    def _unsupported(self, **given: Any) -> None:
        for name, value in given.items():
            if value is not None:
                raise NotImplementedError(f"{name} is not supported by the embedded Edge engine")

    def _stored_vector(self, shard: Any, point_id: Any) -> list[float]:
        records = _edge_call(shard.retrieve, [_input_id(point_id)], False, True)
        if not records:
            raise ValueError(f"Point {point_id} is not found in the collection")
        return list(_vector_output(records[0].vector))

    def _edge_query(self, shard: Any, query: Any) -> tuple[Any, list[Any]]:
        """(Edge scoring query, ids mentioned in it that must not come back), resolving ids to stored vectors."""
        if query is None:
            return None, []
        if isinstance(query, np.ndarray):
            return qe.Query.Nearest(_vector_input(query)), []
        if isinstance(query, list):
            return qe.Query.Nearest(_vector_input(query)), []
        if isinstance(query, (str, int, uuid.UUID)):
            return qe.Query.Nearest(self._stored_vector(shard, query)), [query]
        if isinstance(query, models.NearestQuery):
            if query.mmr is not None:
                raise NotImplementedError("MMR is not supported by the embedded Edge engine")
            return self._edge_query(shard, query.nearest)
        if isinstance(query, models.SampleQuery):
            return qe.Sample.Random, []
        if isinstance(query, models.RecommendQuery):
            return self._recommend(shard, query.recommend)
        if isinstance(query, models.RrfQuery):
            return qe.Fusion.Rrf(
                k=query.rrf.k if query.rrf.k is not None else RRF_DEFAULT_K, weights=query.rrf.weights
            ), []
        if isinstance(query, models.FusionQuery):
            if query.fusion == models.Fusion.RRF:
                return qe.Fusion.Rrf(k=RRF_DEFAULT_K), []
            return qe.Fusion.Dbsf(), []
        raise NotImplementedError(f"{type(query).__name__} is not supported by the embedded Edge engine")

    def _prefetches(self, shard: Any, prefetch: Any) -> list[Any] | None:
        """qdrant-client ``Prefetch`` stages as Edge's, nested ones included; a point-id query leaves its point out."""
        stages = []
        for stage in _as_list(prefetch):
            self._unsupported(using=stage.using, lookup_from=stage.lookup_from)
            edge_query, mentioned = self._edge_query(shard, stage.query)
            stages.append(
                qe.Prefetch(
                    stage.limit if stage.limit is not None else 10,
                    query=edge_query,
                    prefetches=self._prefetches(shard, stage.prefetch),
                    params=_search_params(stage.params, *self._rescoring()) if edge_query is not None else None,
                    filter=_filter(stage.filter, mentioned),
                    score_threshold=stage.score_threshold,
                )
            )
        return stages or None

    def _recommend(self, shard: Any, rec: models.RecommendInput) -> tuple[Any, list[Any]]:
        mentioned: list[Any] = []

        def vectors(inputs: list[Any] | None) -> list[list[float]]:
            out = []
            for item in inputs or []:
                if isinstance(item, (str, int, uuid.UUID)):
                    out.append(self._stored_vector(shard, item))
                    mentioned.append(item)
                else:
                    out.append(_vector_input(item))
            return out

        positive, negative = vectors(rec.positive), vectors(rec.negative)
        strategy = rec.strategy or models.RecommendStrategy.AVERAGE_VECTOR
        if strategy == models.RecommendStrategy.AVERAGE_VECTOR:
            # Qdrant's default: one nearest search for avg(pos) + avg(pos) - avg(neg).
            if not positive:
                raise ValueError("Positive list is empty")
            target = np.mean(np.asarray(positive, dtype=np.float64), axis=0)
            if negative:
                target = 2 * target - np.mean(np.asarray(negative, dtype=np.float64), axis=0)
            return qe.Query.Nearest(target.astype(np.float32).tolist()), mentioned
        if not positive and not negative:
            raise ValueError("No positive or negative examples given")
        edge_rec = qe.RecommendQuery(positive, negative)
        if strategy == models.RecommendStrategy.BEST_SCORE:
            return qe.Query.RecommendBestScore(edge_rec), mentioned
        return qe.Query.RecommendSumScores(edge_rec), mentioned

    def _query(
        self,
        shard: Any,
        query: Any,
        query_filter: models.Filter | None,
        search_params: models.SearchParams | None,
        limit: int,
        offset: int,
        with_payload: Any,
        with_vectors: Any,
        score_threshold: float | None,
        *,
        prefetch: Any = None,
    ) -> list[models.ScoredPoint]:
        edge_query, mentioned = self._edge_query(shard, query)
        request = qe.QueryRequest(
            limit=limit,
            offset=offset or None,
            query=edge_query,
            prefetches=self._prefetches(shard, prefetch),
            with_vector=_with_vectors(with_vectors),
            with_payload=_with_payload(with_payload),
            filter=_filter(query_filter, mentioned),
            score_threshold=score_threshold,
            params=_search_params(search_params, *self._rescoring()) if isinstance(edge_query, qe.Query) else None,
        )
        return [self._scored(p) for p in _edge_call(shard.query, request)]

    @staticmethod
    def _scored(p: Any) -> models.ScoredPoint:
        return models.ScoredPoint.model_construct(
            id=_point_id(p.id),
            version=p.version,
            score=float(p.score),
            payload=p.payload,
            vector=_vector_output(p.vector),
            shard_key=None,
            order_value=p.order_value,
        )

    @staticmethod
    def _record(r: Any) -> models.Record:
        return models.Record.model_construct(
            id=_point_id(r.id),
            payload=r.payload,
            vector=_vector_output(r.vector),
            shard_key=None,
            order_value=r.order_value,
        )

    # --- lifetime -----------------------------------------------------------------------------
    def close(self, optimize: bool = True, **kwargs: Any) -> None:
        """Optimise what this client wrote, flush, close the shard and release the folder (a read-only client
        only closes: it wrote nothing, and its segment files are shared).

        ``optimize=False`` closes without writing (for a disk too full to optimise on: the write-ahead log
        already holds every update, and the next writer optimises).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._shard is not None:
                    try:
                        if optimize and not self.read_only:
                            self._optimize_and_flush()
                    finally:
                        self._shard.close()
                        self._shard = None
            finally:
                self._release_lock()


# --- readers' snapshots ------------------------------------------------------------------------------


def link_for_reading(build: Path, target: Path) -> None:
    """Make ``target`` a private folder that ``EdgeClient(target, read_only=True)`` opens as the published
    ``build``, without copying its data.

    Every file under ``shard/segments/`` is hard-linked; the folder's metadata and the shard's config are
    copied (Edge rewrites ``edge_config.json`` in place when it loads); the write-ahead log and the
    temporary-segments folder start empty, so Edge's lock on the log is the snapshot's own.

    Why this is safe (measured with qdrant-edge-py 0.9.0, see tests/test_index_snapshots.py): a published
    build is optimised and flushed, and never written again, so its segments hold every point and the log
    has nothing to replay. Loading, searching and closing a snapshot leaves every byte of the build's files
    as it was (SHA-256 of each file before and after, with several readers at once). Edge does open some
    segment files read-write (the bitmaps, trackers and payload pages it memory-maps), truncates a few of
    them to the length they already have and ``msync``s them on close, so their modification times change;
    their contents do not. What Edge rewrites on purpose (``segment.json`` and friends) it writes to a temp
    file and renames, which replaces the snapshot's link and leaves the build's file alone. A read-only
    client also never flushes or optimises. Where hard links are not possible (another filesystem, one
    without links) the file is copied instead.
    """
    shutil.copy2(build / META_FILE, target / META_FILE)
    source, shard = build / SHARD_DIR, target / SHARD_DIR
    shard.mkdir()
    for entry in source.iterdir():
        if entry.name == SEGMENTS_DIR:
            _link_tree(entry, shard / SEGMENTS_DIR)
        elif entry.is_dir():
            (shard / entry.name).mkdir()  # wal/, temp_segments/: the reader's own, empty
        else:
            shutil.copy2(entry, shard / entry.name)


_NO_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}


def _link_tree(source: Path, target: Path) -> None:
    for folder, _dirs, files in os.walk(source):
        here = target / Path(folder).relative_to(source)
        here.mkdir(parents=True, exist_ok=True)
        for name in files:
            try:
                os.link(Path(folder) / name, here / name)
            except OSError as exc:
                if exc.errno not in _NO_LINK:
                    raise
                shutil.copy2(Path(folder) / name, here / name)
