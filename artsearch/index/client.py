"""The Qdrant client behind every call: connect (remote, an embedded build to write, or a reader's snapshot
of a published one, with either engine), lock, and turn Qdrant's errors into one-line :mod:`artsearch.errors`.

One code path for embedded and remote Qdrant; only the client's constructor differs.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from qdrant_client import QdrantClient

from artsearch.config import Settings, display_url
from artsearch.errors import CollectionMissing, ConfigError, NotFound, QdrantUnavailable
from artsearch.files import disk_full, is_disk_full
from artsearch.index.builds import READER_WAIT_S, clear_holder, describe_holder, write_holder
from artsearch.index.edge import EdgeClient, folder_engine
from artsearch.index.snapshots import Snapshot, take_snapshot

log = logging.getLogger(__name__)


def _describe_qdrant_error(settings: Settings, exc: BaseException) -> str:
    """One line for a failed Qdrant call. A remote server's own words (an error body may echo the API key) go to
    the log only, masked; the line says what failed and what to check. Secrets are masked before anything is cut,
    so a key that straddles the cut cannot survive in part."""
    detail = settings.mask(f"{type(exc).__name__}: {_whole_text(exc)}")
    if settings.embedded:
        return f"Cannot open the embedded index at {settings.qdrant_path} ({detail[:160]})."
    log.warning("Qdrant at %s failed: %s", display_url(settings.qdrant_url), detail[:500])
    where = display_url(settings.qdrant_url)
    status = getattr(exc, "status_code", None)
    if status in (401, 403):
        return f"Qdrant at {where} refused the API key (HTTP {status}); check QDRANT_KEY."
    what = f"HTTP {status}" if status else _network_reason(exc)
    return (
        f"Cannot reach Qdrant at {where} ({what}; the details are in the log). Check QDRANT_URL and QDRANT_KEY and "
        "that the cluster is running, or unset QDRANT_URL to use the embedded index."
    )


def _whole_text(exc: BaseException) -> str:
    """The error's text on one line, with an HTTP answer's body whole: qdrant-client cuts it in ``str()``, which
    could cut a key echoed in it in two, and a piece of a key cannot be masked."""
    content = getattr(exc, "content", None)
    if isinstance(content, bytes):
        text = f"HTTP {getattr(exc, 'status_code', '')} {getattr(exc, 'reason_phrase', '')}: "
        text += content[:65536].decode("utf-8", errors="replace")
    else:
        text = str(exc)
    return " ".join(text.split())


def _network_reason(exc: BaseException) -> str:
    """A few plain words for a failure without an HTTP status (never the exception's own text)."""
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if "timed out" in text or isinstance(exc, TimeoutError):
        return "timed out"
    if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "unknown host"
    if "ssl" in text or "certificate" in text:
        return "TLS failed"
    return "no answer"


MISSING_POINT = "That artwork is no longer in the collection (a rebuild may have removed it); start a new search."


def _is_missing_point(exc: BaseException) -> bool:
    """A point id the collection does not hold (local: 'Point x is not found', server: 'No point with id x')."""
    text = str(exc).lower()
    return (text.startswith("point ") and "not found" in text) or "no point with id" in text


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
        self.snapshot: Snapshot | None = None  # a reader's private snapshot, deleted on close
        self.writing: Path | None = None  # the build folder this client writes, named as held in its lock file

    @classmethod
    def remote(cls, settings: Settings) -> Qdrant:
        try:
            client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_key or None, timeout=10)
        except Exception as exc:  # noqa: BLE001 - urllib3's LocationParseError and others: one line, never the URL
            log.debug("QdrantClient(url=...) refused the URL: %s", settings.mask(str(exc)))
            raise ConfigError(
                f"QDRANT_URL is not a URL Qdrant can connect to ({type(exc).__name__}): use https://HOST:6333, as "
                "Qdrant Cloud shows it."
            ) from None
        return cls(settings, client, display_url(settings.qdrant_url))

    @classmethod
    def embedded(cls, settings: Settings, folder: Path, *, kind: str = "rebuild") -> Qdrant:
        """Open one build folder to write it, with the configured engine: Qdrant Edge ("edge") or qdrant-client
        ("local"). The folder stays locked, with ``kind`` and this process's id in its lock file, until close."""
        engine = _check_engine(settings, folder)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            # EdgeClient implements the part of QdrantClient's API this module uses.
            client = cast(QdrantClient, EdgeClient(folder)) if engine == "edge" else QdrantClient(path=str(folder))
        except (RuntimeError, OSError) as exc:
            if "already accessed" in str(exc):
                raise QdrantUnavailable(
                    f"The embedded index {folder} is open in another process: {describe_holder(folder)}. "
                    "Wait for it to finish, or stop it, and run the same command again."
                ) from None
            raise QdrantUnavailable(_describe_qdrant_error(settings, exc)) from None
        write_holder(folder, kind)
        opened = cls(settings, client, str(folder))
        opened.writing = folder
        return opened

    @classmethod
    def reader(cls, settings: Settings, build: Path, *, wait_s: float = READER_WAIT_S) -> Qdrant:
        """Open a published build to read it, through a snapshot of this process's own
        (:mod:`artsearch.index.snapshots`): other readers, a rebuild and pruning never get in each other's way.

        Waits up to ``wait_s`` for a writer that still holds the build, then says who it is in one line.
        """
        engine = _check_engine(settings, build)
        try:
            snapshot = take_snapshot(build, engine, wait_s=wait_s)
        except OSError as exc:
            raise QdrantUnavailable(_describe_qdrant_error(settings, exc)) from None
        try:
            if engine == "edge":
                client = cast(QdrantClient, EdgeClient(snapshot.folder, read_only=True))
            else:
                client = QdrantClient(path=str(snapshot.folder))
        except (RuntimeError, OSError) as exc:
            snapshot.release()
            raise QdrantUnavailable(_describe_qdrant_error(settings, exc)) from None
        except BaseException:
            snapshot.release()
            raise
        opened = cls(settings, client, str(build))
        opened.snapshot = snapshot
        # A process that exits without closing (the app stopped with Ctrl-C) still deletes its snapshot; one
        # that is killed leaves it to the next reader's sweep.
        weakref.finalize(opened, snapshot.release)
        return opened

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
            if self.settings.embedded and is_disk_full(exc):
                raise disk_full(self.location) from None
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
        except sqlite3.OperationalError as exc:  # local mode keeps its points in SQLite
            if is_disk_full(exc):
                raise disk_full(self.location) from None
            raise

    def close(self, *, optimize: bool = True) -> None:
        """Close the client once the calls in flight on it have finished (embedded: under the call lock).

        ``optimize=False``: an embedded Edge folder is closed without optimising it (no room on the disk)."""
        if self._lock is None:
            self._close(optimize)
            return
        with self._lock:
            self._close(optimize)

    def _close(self, optimize: bool) -> None:
        if self.closed:
            return
        self.closed = True
        if self.writing is not None:
            clear_holder(self.writing)
        try:
            self.client.close(**({} if optimize else {"optimize": False}))
        except Exception:  # closing is best effort; nothing to recover
            log.debug("closing Qdrant client failed", exc_info=True)
        if self.snapshot is not None:
            self.snapshot.release()
            self.snapshot = None


def _check_engine(settings: Settings, folder: Path) -> str:
    """The configured embedded engine, refused in one line when ``folder`` was built by the other one."""
    engine = settings.embedded_engine
    found = folder_engine(folder)
    if found is not None and found != engine:
        raise QdrantUnavailable(
            f"The embedded index {folder} was built with the '{found}' engine, but ARTSEARCH_EMBEDDED_ENGINE is "
            f"'{engine}': set ARTSEARCH_EMBEDDED_ENGINE={found}, or rebuild without --append "
            "(python qdrant/initialize_db.py)."
        )
    return engine


def missing_message(settings: Settings) -> str:
    return (
        f"No artworks indexed yet in collection '{settings.collection_name}' "
        f"({display_url(settings.qdrant_url) or settings.qdrant_path}): run python qdrant/initialize_db.py first."
    )
