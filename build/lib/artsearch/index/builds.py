"""Embedded build folders: their stamps, the pointer file naming the live one, and pruning.

Only one process may open a Qdrant folder, so every embedded build gets its own folder,
``<QDRANT_PATH>/<alias>-<stamp>/``, and a small pointer file ``<QDRANT_PATH>/<alias>.current.json``
names the live one, replaced atomically when a build completes. A rebuild therefore never needs
the folder the app has open; the app notices the new pointer on its next search and switches.
Old folders are deleted once no process holds them.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

import portalocker

from artsearch.config import Settings
from artsearch.files import atomic_write_json

log = logging.getLogger(__name__)

STAMP = re.compile(r"^(?P<alias>.+)[_-](?P<stamp>\d{8}T\d{6}\d*)$")


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


def folder_in_use(folder: Path) -> bool:
    """True when some process holds the folder's Qdrant lock."""
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
