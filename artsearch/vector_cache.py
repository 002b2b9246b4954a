"""The vector cache: every image's vector and pixel fields, by content, so a rebuild embeds only what changed.

A rebuild still writes a fresh collection (zero downtime), but takes the vector of every image whose bytes
and model are unchanged from here instead of decoding and embedding it again, with the payload fields
derived from its pixels (:mod:`artsearch.pixels`). It lives in one SQLite file,
``<ARTSEARCH_CACHE_DIR or data dir/cache>/vectors.sqlite`` (the standard library's sqlite3, write-ahead
log: safe against a kill at any moment and shared by concurrent rebuilds). Nothing in it is ever
unpickled: vectors are little-endian float32 bytes, everything else text and JSON.

Tables:

``files(origin, fingerprint, sha256, check)``
    a source file (path or URL) and its fingerprint (size and mtime) -> the SHA-256 of its bytes, so an
    unchanged file is not even read again.
``vectors(sha256, model, vector, derived, check)``
    the vector one model (:class:`artsearch.model.identity.ModelId` ``key``) made of one image content,
    and that image's pixel fields (``{name: [version, value]}``).
``models(setting, record)``
    the :class:`ModelId` a model setting resolved to when it was last loaded, so an unchanged rebuild can
    find its vectors without loading the model.
``builds(collection, location, model, label, state)`` and ``build_items(collection, artwork_id, sha256, meta)``
    what each build of an index location holds (content hash and metadata hash per artwork), so a
    rebuild can tell new, changed, updated and removed artworks from the live build's record without
    reading the live build (the app may hold it open; a remote one would cost a scroll over the network).
``build_annotations(collection, artwork_id, fields)`` and ``annotation_keys(collection, key)``
    what :func:`artsearch.annotate.annotate_build` wrote into each point of a build (its terms, subjects and
    calibration-sample flag, JSON) and under which :func:`artsearch.annotate.annotation_key`, so a rebuild of the
    same artworks and vectors carries them over instead of reading every vector back and rewriting every payload.
    Added beside format 1's tables (a cache from before has none: its next rebuild annotates in full).

Trust, never blind: every ``files`` and ``vectors`` row carries a checksum of its content, checked on
every read (a row that fails it is a miss, replaced on write); vectors must have the model's size and be
finite. The file is checked with ``PRAGMA quick_check`` when opened; one that is not a database, is
truncated, fails the check or has another format version is moved aside (``vectors.sqlite.damaged``) and a
new one is started, so that rebuild embeds everything again and says why. If the cache cannot be used at
all (an unwritable folder), the rebuild runs without it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from artsearch.errors import StorageError
from artsearch.model.identity import ModelId

log = logging.getLogger(__name__)

FORMAT = 1  # PRAGMA user_version; another value means another layout: the file is set aside and started afresh
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    origin TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, sha256 TEXT NOT NULL, check_ BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS vectors (
    sha256 TEXT NOT NULL, model TEXT NOT NULL, vector BLOB NOT NULL, derived TEXT NOT NULL, check_ BLOB NOT NULL,
    PRIMARY KEY (sha256, model)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS models (setting TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS builds (
    collection TEXT PRIMARY KEY, location TEXT NOT NULL, model TEXT NOT NULL, label TEXT NOT NULL,
    state TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS build_items (
    collection TEXT NOT NULL, artwork_id TEXT NOT NULL, sha256 TEXT NOT NULL, meta TEXT NOT NULL,
    PRIMARY KEY (collection, artwork_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS build_items_by_content ON build_items (sha256);
CREATE TABLE IF NOT EXISTS build_annotations (
    collection TEXT NOT NULL, artwork_id TEXT NOT NULL, fields TEXT NOT NULL, PRIMARY KEY (collection, artwork_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS annotation_keys (collection TEXT PRIMARY KEY, key TEXT NOT NULL) WITHOUT ROWID;
"""
T = TypeVar("T")
_QUERY_CHUNK = 500  # ids per "IN (...)" query, well under SQLite's variable limit


def content_hash(data: bytes) -> str:
    """The SHA-256 of an image's bytes, in hex: what the cache files an image's vector under."""
    return hashlib.sha256(data).hexdigest()


def _check(*parts: bytes | str) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.digest()


class DamagedCache(Exception):
    """The cache file is not a usable database of this format (the message says why)."""


@dataclass
class Cached:
    """A cache hit: the vector exactly as it was stored, and the image's pixel fields."""

    vector: np.ndarray
    derived: dict[str, Any]


@dataclass
class Entry:
    """One artwork of a batch, as the cache records it; ``vector`` (with ``derived``) only when the cache's row
    must be written: a new vector, or new pixel fields for a cached one."""

    artwork_id: str
    origin: str
    fingerprint: str
    sha256: str
    meta: str
    derived: dict[str, Any]
    vector: np.ndarray | None = None


@dataclass(frozen=True)
class BuildRecord:
    collection: str
    model: str
    label: str


class VectorCache:
    """One cache file, shared by the threads of a rebuild (calls are serialised; each is short)."""

    def __init__(self, path: Path | None, conn: sqlite3.Connection | None, note: str = "") -> None:
        self.path = path
        self._conn = conn
        self._lock = threading.RLock()
        #: Why the cache is not what it was (set aside as damaged, or unusable): for the rebuild's report.
        self.note = note

    # --- opening ----------------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path) -> VectorCache:
        """The cache at ``path``, created if missing; a damaged one is set aside and started afresh."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                return cls(path, _connect(path))
            except DamagedCache as exc:
                aside = _set_aside(path)
                note = f"The vector cache {path} was damaged ({exc}); it was moved to {aside} and a new one started."
                log.warning(note)
                return cls(path, _connect(path), note)
        except (OSError, sqlite3.Error, DamagedCache) as exc:
            note = f"The vector cache {path} cannot be used ({exc}); every image is embedded."
            log.warning(note)
            return cls.disabled(note)

    @classmethod
    def disabled(cls, note: str = "") -> VectorCache:
        """A cache that remembers nothing: every lookup misses, every write is dropped."""
        return cls(None, None, note)

    @property
    def enabled(self) -> bool:
        return self._conn is not None

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    def _run(self, work: Callable[[sqlite3.Connection], T], default: T, *, write: bool = False) -> T:
        """``work(connection)`` under the lock (in one transaction when ``write``), or ``default`` when the
        cache is off; an SQLite failure mid-run turns the cache off for the rest of the run (the next open
        checks the file), except a full disk, which stops the run."""
        with self._lock:
            conn = self._conn
            if conn is None:
                return default
            try:
                if not write:
                    return work(conn)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = work(conn)
                except BaseException:
                    conn.rollback()
                    raise
                conn.execute("COMMIT")
                return result
            except sqlite3.Error as exc:
                if "full" in str(exc).lower():  # SQLITE_FULL: the disk, not the cache, is the problem
                    raise StorageError(
                        f"Disk full at {self.path} (the vector cache): free space and run the same command "
                        "again; nothing was lost."
                    ) from None
                self.note = f"The vector cache {self.path} failed ({exc}); the rest of this run does without it."
                log.warning(self.note)
                self._conn = None
                conn.close()
                return default

    def _fetchone(self, sql: str, params: tuple[Any, ...]) -> Any:
        """One row of a query, or None (no row, or the cache is off)."""
        return self._run(lambda db: db.execute(sql, params).fetchone(), None)

    def _rows_in(self, sql: str, params: tuple[Any, ...], keys: Sequence[str]) -> list[tuple[Any, ...]]:
        """The rows of ``sql`` (ending in ``... IN``) for every key, a query per few hundred keys (none when off)."""
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(keys), _QUERY_CHUNK):
            chunk = tuple(keys[start : start + _QUERY_CHUNK])
            query = f"{sql} ({','.join('?' * len(chunk))})"
            rows += self._run(lambda db, query=query, chunk=chunk: db.execute(query, (*params, *chunk)).fetchall(), [])
        return rows

    # --- content hashes ---------------------------------------------------------------------------------
    def content_hash(self, origin: str, fingerprint: str) -> str | None:
        """The SHA-256 recorded for ``origin`` when it had this ``fingerprint`` (None: read and hash it)."""
        return self.content_hashes([(origin, fingerprint)])[origin]

    # --- vectors ----------------------------------------------------------------------------------------
    def get(self, sha256: str, model: ModelId) -> Cached | None:
        """The vector ``model`` made of this content, checked; None when absent or failing the checks."""
        row = self._fetchone(
            "SELECT vector, derived, check_ FROM vectors WHERE sha256 = ? AND model = ?", (sha256, model.key)
        )
        return None if row is None else _checked(sha256, model, *row)

    def content_hashes(self, files: Iterable[tuple[str, str]]) -> dict[str, str | None]:
        """:meth:`content_hash` of many (origin, fingerprint) pairs, a query per few hundred: origin -> its SHA-256,
        or None (read and hash it)."""
        wanted = dict(files)
        out: dict[str, str | None] = dict.fromkeys(wanted)
        asked = [o for o, fingerprint in wanted.items() if fingerprint]
        for origin, fingerprint, sha, check in self._rows_in(
            "SELECT origin, fingerprint, sha256, check_ FROM files WHERE origin IN", (), asked
        ):
            if fingerprint == wanted.get(origin) and check == _check(origin, fingerprint, sha):
                out[origin] = sha
        return out

    def get_many(self, hashes: Iterable[str], model: ModelId) -> dict[str, Cached | None]:
        """:meth:`get` of many contents, a query per few hundred: SHA-256 -> its checked vector, or None."""
        asked = list(dict.fromkeys(hashes))
        out: dict[str, Cached | None] = dict.fromkeys(asked)
        for sha, blob, derived_json, check in self._rows_in(
            "SELECT sha256, vector, derived, check_ FROM vectors WHERE model = ? AND sha256 IN", (model.key,), asked
        ):
            out[sha] = _checked(sha, model, blob, derived_json, check)
        return out

    def write_batch(self, collection: str, model: ModelId, entries: Sequence[Entry]) -> None:
        """Record one batch in one transaction: file hashes, new vectors, what the build now holds."""
        if not entries:
            return
        files, vectors, items = [], [], []
        for e in entries:
            if e.fingerprint:
                files.append((e.origin, e.fingerprint, e.sha256, _check(e.origin, e.fingerprint, e.sha256)))
            if e.vector is not None:
                blob = np.ascontiguousarray(e.vector, dtype="<f4").tobytes()
                derived = json.dumps(e.derived, sort_keys=True, separators=(",", ":"))
                vectors.append((e.sha256, model.key, blob, derived, _check(e.sha256, model.key, blob, derived)))
            items.append((collection, e.artwork_id, e.sha256, e.meta))

        def write(db: sqlite3.Connection) -> None:
            db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", files)
            db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?, ?)", vectors)
            db.executemany("INSERT OR REPLACE INTO build_items VALUES (?, ?, ?, ?)", items)

        self._run(write, None, write=True)

    # --- models -----------------------------------------------------------------------------------------
    def model_record(self, setting: str) -> ModelId | None:
        """The model ``setting`` (name, inference path and device settings) resolved to when last loaded."""
        row = self._fetchone("SELECT record FROM models WHERE setting = ?", (setting,))
        if row is None:
            return None
        try:
            return ModelId.from_json(json.loads(row[0]))
        except (ValueError, KeyError, TypeError):
            return None

    def remember_model(self, setting: str, model: ModelId) -> None:
        record = json.dumps(model.to_json())
        self._run(
            lambda db: db.execute("INSERT OR REPLACE INTO models VALUES (?, ?)", (setting, record)), None, write=True
        )

    # --- builds -----------------------------------------------------------------------------------------
    def begin_build(self, collection: str, location: str, model: ModelId) -> None:
        """Note a build (new, resumed, or the live one being appended to) and the model writing it."""
        self._run(
            lambda db: db.execute(
                "INSERT INTO builds VALUES (?, ?, ?, ?, 'building') ON CONFLICT (collection) DO UPDATE "
                "SET model = excluded.model, label = excluded.label",
                (collection, location, model.key, model.label),
            ),
            None,
            write=True,
        )

    def live_build(self, location: str, collection: str | None) -> BuildRecord | None:
        """The record of the build published last at ``location``, if it is ``collection`` (the live one)."""
        if collection is None:
            return None
        row = self._fetchone(
            "SELECT collection, model, label FROM builds WHERE location = ? AND state = 'live'", (location,)
        )
        return BuildRecord(*row) if row is not None and row[0] == collection else None

    def items(self, collection: str, artwork_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """artwork id -> (content hash, metadata hash) of those ids that ``collection`` holds."""
        rows = self._rows_in(
            "SELECT artwork_id, sha256, meta FROM build_items WHERE collection = ? AND artwork_id IN",
            (collection,),
            list(artwork_ids),
        )
        return {aid: (sha, meta) for aid, sha, meta in rows}

    def annotations(self, collection: str, key: str, artwork_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """artwork id -> the annotation fields ``collection`` was given, for those ids it holds, when it was
        annotated under ``key`` (else nothing)."""
        row = self._fetchone("SELECT key FROM annotation_keys WHERE collection = ?", (collection,))
        if row is None or row[0] != key:
            return {}
        out: dict[str, dict[str, Any]] = {}
        rows = self._rows_in(
            "SELECT artwork_id, fields FROM build_annotations WHERE collection = ? AND artwork_id IN",
            (collection,),
            list(artwork_ids),
        )
        for aid, fields in rows:
            try:
                value = json.loads(fields)
            except ValueError:
                continue
            if isinstance(value, dict):
                out[aid] = value
        return out

    def record_annotations(self, collection: str, key: str, annotations: dict[str, dict[str, Any]]) -> None:
        """``collection``'s points hold these annotations (all of them: any earlier record of it is replaced)."""
        rows = [
            (collection, aid, json.dumps(f, sort_keys=True, separators=(",", ":"))) for aid, f in annotations.items()
        ]

        def record(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM build_annotations WHERE collection = ?", (collection,))
            db.executemany("INSERT INTO build_annotations VALUES (?, ?, ?)", rows)
            db.execute("INSERT OR REPLACE INTO annotation_keys VALUES (?, ?)", (collection, key))

        self._run(record, None, write=True)

    def copy_annotations(self, source: str, target: str) -> None:
        """``target`` was given ``source``'s annotations (the same artworks and vectors, carried over)."""

        def copy(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM build_annotations WHERE collection = ?", (target,))
            db.execute(
                "INSERT INTO build_annotations SELECT ?, artwork_id, fields FROM build_annotations WHERE collection = ?",
                (target, source),
            )
            db.execute("DELETE FROM annotation_keys WHERE collection = ?", (target,))
            db.execute(
                "INSERT INTO annotation_keys SELECT ?, key FROM annotation_keys WHERE collection = ?", (target, source)
            )

        self._run(copy, None, write=True)

    def missing_from(self, previous: str, current: str) -> int:
        """How many artworks ``previous`` holds that ``current`` does not."""
        row = self._fetchone(
            "SELECT COUNT(*) FROM build_items p WHERE p.collection = ? AND NOT EXISTS "
            "(SELECT 1 FROM build_items c WHERE c.collection = ? AND c.artwork_id = p.artwork_id)",
            (previous, current),
        )
        return int(row[0]) if row else 0

    def copy_items(self, source: str, target: str) -> None:
        """``target`` holds what ``source`` held (an embedded append copies the live build into a new one)."""
        self._run(
            lambda db: db.execute(
                "INSERT OR IGNORE INTO build_items SELECT ?, artwork_id, sha256, meta FROM build_items "
                "WHERE collection = ?",
                (target, source),
            ),
            None,
            write=True,
        )

    def forget_items(self, collection: str, keep: set[str]) -> None:
        """Drop the build's records of artworks it no longer holds (pruned)."""

        def forget(db: sqlite3.Connection) -> None:
            held = [r[0] for r in db.execute("SELECT artwork_id FROM build_items WHERE collection = ?", (collection,))]
            stale = [(collection, aid) for aid in held if aid not in keep]
            db.executemany("DELETE FROM build_items WHERE collection = ? AND artwork_id = ?", stale)

        self._run(forget, None, write=True)

    def published(self, collection: str, location: str) -> None:
        """``collection`` is now live at ``location``: forget the location's other builds, drop what nobody needs.

        Vectors and file hashes stay while any recorded build (of any location, live or being built) holds
        that image content with that model; the rest (images gone from every source, a model no longer
        used) is deleted.
        """

        def publish(db: sqlite3.Connection) -> None:
            others = [
                (r[0],)
                for r in db.execute(
                    "SELECT collection FROM builds WHERE location = ? AND collection != ?", (location, collection)
                )
            ]
            db.executemany("DELETE FROM build_items WHERE collection = ?", others)
            db.executemany("DELETE FROM build_annotations WHERE collection = ?", others)
            db.executemany("DELETE FROM annotation_keys WHERE collection = ?", others)
            db.executemany("DELETE FROM builds WHERE collection = ?", others)
            db.execute("UPDATE builds SET state = 'live' WHERE collection = ?", (collection,))
            db.execute(
                "DELETE FROM vectors WHERE NOT EXISTS (SELECT 1 FROM build_items i JOIN builds b "
                "ON b.collection = i.collection WHERE i.sha256 = vectors.sha256 AND b.model = vectors.model)"
            )
            db.execute("DELETE FROM files WHERE NOT EXISTS (SELECT 1 FROM build_items i WHERE i.sha256 = files.sha256)")

        self._run(publish, None, write=True)


def _checked(sha256: str, model: ModelId, blob: bytes, derived_json: str, check: bytes) -> Cached | None:
    """A vectors row as a hit, or None when it fails its checks (checksum, the model's size, finite, JSON)."""
    if check != _check(sha256, model.key, blob, derived_json) or len(blob) != 4 * model.dim:
        log.debug("vector cache row for %s failed its checks; embedding again", sha256)
        return None
    vector = np.frombuffer(blob, dtype="<f4").astype(np.float32)
    try:
        derived = json.loads(derived_json)
    except ValueError:
        return None
    if not np.isfinite(vector).all() or not isinstance(derived, dict):
        return None
    return Cached(vector, derived)


def _connect(path: Path) -> sqlite3.Connection:
    """Open and check the file: DamagedCache when it is not a healthy cache of this format."""
    conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout = 60000")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
        if tables and version != FORMAT:
            raise DamagedCache(f"format {version}, expected {FORMAT}")
        problems = [r[0] for r in conn.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise DamagedCache("; ".join(problems[:3]))
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable across a killed process, fast commits
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version = {FORMAT}")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DamagedCache(str(exc)) from None
    except BaseException:
        conn.close()
        raise
    return conn


def _set_aside(path: Path) -> Path:
    """Move a damaged cache (and its write-ahead log) to ``<name>.damaged``, replacing an older one."""
    aside = path.with_name(path.name + ".damaged")
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(path) + suffix)
        if src.exists():
            os.replace(src, Path(str(aside) + suffix))
        else:
            Path(str(aside) + suffix).unlink(missing_ok=True)
    return aside
