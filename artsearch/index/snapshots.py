"""Readers' private snapshots of a published embedded build, so any number of processes read one index.

Only one process can open an embedded Qdrant folder: Qdrant Edge locks its write-ahead log (a second
``EdgeShard.load`` fails with "Can't init WAL: Kind(WouldBlock)") and qdrant-client local mode locks the
folder. A published build is never written again, though, so each reading process (the app, every
``python -m artsearch search`` or ``info``) opens a snapshot of its own instead:

``<QDRANT_PATH>/.readers/<build>-<pid>-<random>/``
    Qdrant Edge: hard links of the build's segment files plus copies of its small metadata files
    (:func:`artsearch.index.edge.link_for_reading`), opened read-only: tens of milliseconds and no data
    copied, whatever the size of the collection. qdrant-client local mode: a copy of the folder (local
    mode reads every point into memory when it opens anyway, and it writes to its SQLite file, which
    therefore must not be shared).
``<snapshot>/.reader.lock``
    held exclusively by the process that owns the snapshot for as long as it exists. A snapshot whose
    lock can be taken belongs to a process that died: :func:`sweep_snapshots` deletes it.

The snapshot is taken while the build is held shared (:func:`artsearch.index.builds.reading_build`),
so pruning cannot delete the build half-way through; once taken, the build may be pruned at any time
(the links keep the data until the reader lets go).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import IO

import portalocker

from artsearch.index.builds import LOCK_FILE, reading_build
from artsearch.index.edge import link_for_reading

log = logging.getLogger(__name__)

READERS_DIR = ".readers"
OWNER_LOCK = ".reader.lock"
UNFINISHED = ".new-"  # a snapshot being made: renamed to its final name once complete
#: An unfinished snapshot without an owner lock yet is left alone this long (its maker may be about to lock it).
UNFINISHED_GRACE_S = 60.0


class Snapshot:
    """One reader's snapshot folder, owned (its lock held) until :meth:`release`."""

    def __init__(self, folder: Path, build: Path, owner: IO[str]) -> None:
        self.folder = folder
        self.build = build
        self._owner: IO[str] | None = owner

    def release(self) -> None:
        """Delete the snapshot (the build's data stays, or goes with its last link), then drop the lock."""
        owner, self._owner = self._owner, None
        if owner is None:
            return
        try:
            shutil.rmtree(self.folder, ignore_errors=True)
        finally:
            portalocker.unlock(owner)
            owner.close()


def _own(folder: Path) -> IO[str] | None:
    """Create and lock the owner lock of a new snapshot folder; None if a sweeper took it first."""
    path = folder / OWNER_LOCK
    fh = path.open("a+")
    try:
        portalocker.lock(fh, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
    except portalocker.exceptions.LockException:
        fh.close()
        return None
    try:
        if os.stat(path).st_ino != os.fstat(fh.fileno()).st_ino:
            raise FileNotFoundError(path)
        fh.truncate(0)
        fh.write(json.dumps({"kind": "reader", "pid": os.getpid(), "since": round(time.time())}))
        fh.flush()
    except FileNotFoundError:
        portalocker.unlock(fh)
        fh.close()
        return None
    return fh


def take_snapshot(build: Path, engine: str, *, wait_s: float) -> Snapshot:
    """A private snapshot of the published ``build`` for this process to open with ``engine``.

    Raises QdrantUnavailable when a writer holds the build for more than ``wait_s`` seconds, and
    :class:`~artsearch.index.builds.BuildGone` when it was pruned meanwhile (read the pointer again).
    """
    root = build.parent / READERS_DIR
    sweep_snapshots(build.parent)
    root.mkdir(exist_ok=True)
    for _ in range(3):
        making = Path(tempfile.mkdtemp(dir=root, prefix=f"{UNFINISHED}{build.name}-"))
        owner = _own(making)
        if owner is not None:
            break
        shutil.rmtree(making, ignore_errors=True)
    else:  # pragma: no cover - three sweepers in a row won the race for a brand-new folder
        raise OSError(f"could not lock a new snapshot folder under {root}")
    try:
        with reading_build(build, wait_s):
            if engine == "edge":
                link_for_reading(build, making)
            else:
                shutil.copytree(build, making, dirs_exist_ok=True, ignore=shutil.ignore_patterns(LOCK_FILE))
        folder = root / f"{build.name}-{os.getpid()}-{secrets.token_hex(4)}"
        os.rename(making, folder)
    except BaseException:
        Snapshot(making, build, owner).release()
        raise
    log.debug("reading %s through the snapshot %s", build.name, folder.name)
    return Snapshot(folder, build, owner)


def sweep_snapshots(qdrant_path: Path) -> list[Path]:
    """Delete the snapshots of processes that died (their owner lock is free); returns what was deleted."""
    root = Path(qdrant_path) / READERS_DIR
    try:
        entries = list(root.iterdir())
    except FileNotFoundError:
        return []
    removed = []
    for folder in entries:
        lock = folder / OWNER_LOCK
        try:
            fh = lock.open("r")
        except FileNotFoundError:
            # Only an unfinished snapshot lacks its lock, for the moment between creating and locking it.
            try:
                young = time.time() - folder.stat().st_mtime < UNFINISHED_GRACE_S
            except FileNotFoundError:
                continue
            if folder.name.startswith(UNFINISHED) and young:
                continue
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
            continue
        except OSError:
            continue
        with fh:
            try:
                portalocker.lock(fh, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
            except portalocker.exceptions.LockException:
                continue  # its reader is alive
            try:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
            finally:
                portalocker.unlock(fh)
    if removed:
        log.info("removed %d snapshot(s) left by readers that stopped", len(removed))
    return removed
