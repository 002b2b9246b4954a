"""Embedded build folders: their stamps, the pointer file naming the live one, and pruning.

Only one process may open a Qdrant folder, so every embedded build gets its own folder,
``<QDRANT_PATH>/<alias>-<stamp>/``, and a small pointer file ``<QDRANT_PATH>/<alias>.current.json``
names the live one, replaced atomically when a build completes. A rebuild therefore never needs
the folder a reader uses; readers notice the new pointer on their next search and switch.

Locks, all on the folder's ``.lock`` (the file qdrant-client local mode and :class:`EdgeClient` lock):

* the process that writes a build holds it **exclusively** for as long as it has the folder open, and
  writes what it is (``{"kind": "rebuild", "pid": ...}``) into the file, so a reader that finds the
  folder locked can say who holds it;
* a reader holds it **shared** only while it takes its snapshot (:mod:`artsearch.index.snapshots`),
  so pruning never deletes a build half-way through being linked;
* pruning takes it exclusively and keeps it while it deletes the folder.

Readers never hold a build while they search: their snapshot is theirs alone, so a published build
can be deleted while readers still use their snapshots of it (hard links keep the data).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import portalocker

from artsearch.config import Settings
from artsearch.errors import QdrantUnavailable
from artsearch.files import atomic_write_json

log = logging.getLogger(__name__)

STAMP = re.compile(r"^(?P<alias>.+)[_-](?P<stamp>\d{8}T\d{6}\d*)$")
LOCK_FILE = ".lock"
#: What writers call themselves in the lock file, and how a message names them.
HOLDER_KINDS = {
    "rebuild": "a rebuild (python qdrant/initialize_db.py)",
    "append": "an --append ingest (python qdrant/initialize_db.py --append)",
}
#: Seconds a reader waits for a build that another process holds before saying so.
READER_WAIT_S = 3.0


class BuildGone(QdrantUnavailable):
    """The build folder disappeared (pruned after a newer build was published) before it could be read."""


def new_stamp() -> str:
    """A sortable build stamp, unique to the microsecond."""
    now = time.time()
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now * 1e6) % 1_000_000:06d}"


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
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(prefix) and STAMP.match(p.name)]
    return sorted(found, key=lambda p: p.name)


def write_holder(folder: Path, kind: str) -> None:
    """Say in the folder's lock file which kind of process holds it (call it once the lock is held).

    Truncating and writing the file leaves the lock alone: ``flock`` locks belong to the open file, not to
    its contents."""
    try:
        (folder / LOCK_FILE).write_text(json.dumps({"kind": kind, "pid": os.getpid(), "since": round(time.time())}))
    except OSError:
        log.debug("could not record the holder of %s", folder, exc_info=True)


def clear_holder(folder: Path) -> None:
    """Take this process's name out of the lock file (call it while the lock is still held)."""
    try:
        (folder / LOCK_FILE).write_text("")
    except OSError:
        log.debug("could not clear the holder of %s", folder, exc_info=True)


def locking_pids(path: Path) -> set[int]:
    """The processes holding a ``flock`` lock on ``path``, from Linux's /proc/locks (empty where there is none)."""
    try:
        st = os.stat(path)
        table = Path("/proc/locks").read_text()
    except OSError:
        return set()
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pids = set()
    for line in table.splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device and fields[4].isdigit():
            pids.add(int(fields[4]))
    return pids


def describe_holder(folder: Path) -> str:
    """Who holds the folder's lock, as the holder wrote it: 'a rebuild (python ..., pid 123)'.

    What the file says counts only when that process holds the lock now (a writer that was killed leaves
    its name behind); the kernel's lock table names any other holder by its pid."""
    path = folder / LOCK_FILE
    holders = locking_pids(path)
    try:
        data = json.loads(path.read_text())
        kind, pid = str(data["kind"]), int(data["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        kind, pid = "", 0
    if kind and (pid in holders or (not holders and _alive(pid))):
        what = HOLDER_KINDS.get(kind, f"a {kind} process")
        return f"{what[:-1]}, pid {pid})" if what.endswith(")") else f"{what} (pid {pid})"
    # qdrant-client local mode writes "tmp lock file", and so did artsearch before it named its writers.
    who = f"process {', '.join(map(str, sorted(holders)))}" if holders else "another process"
    return f"{who}, which does not say what it is (a QdrantClient, or an older artsearch)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid > 0


def _try_lock(fh: IO[str], flags: portalocker.LockFlags) -> bool:
    try:
        portalocker.lock(fh, flags | portalocker.LockFlags.NON_BLOCKING)
    except portalocker.exceptions.LockException:
        return False
    return True


def _still_there(path: Path, fh: IO[str]) -> bool:
    """The locked file is still the one at ``path`` (not deleted, with its folder, while we waited)."""
    try:
        return os.stat(path).st_ino == os.fstat(fh.fileno()).st_ino
    except FileNotFoundError:
        return False


@contextmanager
def reading_build(folder: Path, wait_s: float = READER_WAIT_S) -> Iterator[None]:
    """Hold a published build shared while a reader takes its snapshot of it.

    Waits up to ``wait_s`` for a writer that still holds the folder; then raises QdrantUnavailable naming the
    holder. Raises :class:`BuildGone` when the folder was deleted meanwhile (a newer build replaced it).
    """
    path = folder / LOCK_FILE
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fh = path.open("a+")
        except FileNotFoundError:
            raise BuildGone(f"The index folder {folder} was removed while it was being opened; retry.") from None
        if _try_lock(fh, portalocker.LockFlags.SHARED):
            break
        fh.close()
        if time.monotonic() >= deadline:
            raise QdrantUnavailable(
                f"The embedded index {folder} is locked by {describe_holder(folder)}, and was not let go of "
                f"within {wait_s:g} s; wait for it to finish (or stop it), then try again."
            )
        time.sleep(0.05)
    try:
        if not _still_there(path, fh):
            raise BuildGone(f"The index folder {folder} was removed while it was being opened; retry.")
        yield
    finally:
        portalocker.unlock(fh)
        fh.close()


def folder_in_use(folder: Path) -> bool:
    """True when some process holds the folder's lock: its writer, or a reader taking a snapshot of it."""
    lock = folder / LOCK_FILE
    if not lock.exists():
        return False
    with lock.open("r") as fh:
        if not _try_lock(fh, portalocker.LockFlags.EXCLUSIVE):
            return True
        portalocker.unlock(fh)
    return False


def delete_unless_in_use(folder: Path) -> bool:
    """Delete a build folder unless a process holds it; the exclusive lock is kept while it is deleted."""
    lock = folder / LOCK_FILE
    if not lock.exists():
        shutil.rmtree(folder, ignore_errors=True)
        return True
    try:
        fh = lock.open("r")
    except FileNotFoundError:
        return False  # someone else is deleting it
    with fh:
        if not _try_lock(fh, portalocker.LockFlags.EXCLUSIVE):
            return False
        try:
            if _still_there(lock, fh):
                shutil.rmtree(folder, ignore_errors=True)
        finally:
            portalocker.unlock(fh)
    return True


def remove_stale_builds(settings: Settings, keep: Iterable[str] = ()) -> list[Path]:
    """Delete embedded build folders that are neither live, kept, nor open anywhere (snapshots of them may
    still be read: they keep their own links to the data)."""
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
        if delete_unless_in_use(folder):
            removed.append(folder)
    return removed
