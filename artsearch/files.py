"""File helpers: writes that a crash, a kill or a full disk can never leave half done, and free-space checks.

A write of ours that fails (a full disk, a failing one) is a failed run, never a skipped input: it raises
:class:`~artsearch.errors.WriteError`, whose one line says where and that nothing was lost.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from artsearch.errors import ArtsearchError, ImageError, WriteError

#: The free space artsearch keeps in hand where it writes images and the embedded index: a build stops with one
#: line when less is left, before Qdrant Edge, which writes through memory maps, meets a full disk (there it dies
#: by SIGBUS, with no message). Measured on tmpfs, the harshest case (tests/test_rebuild_full_disk.py): creating
#: a build with its payload indexes takes 12.8 MB; the first open of a build fills its index pages, 61 MB whatever
#: its size; a batch of 32 points takes 0.2 MB; publishing optimises the build, which needs up to the build's own
#: size again (64 MB for an 86 MB build), so publishing asks for that on top. On ext4 the same build took 0.4 MB.
MIN_FREE_BYTES = 128 * 1024 * 1024

_FULL = {errno.ENOSPC, errno.EDQUOT}


def disk_full(path: Path | str, detail: str = "") -> WriteError:
    """The one line for a disk with no room left at ``path``."""
    detail = f" ({detail})" if detail else ""
    return WriteError(f"disk full at {path}{detail}: free space and run the same command again; nothing was lost.")


def is_disk_full(exc: BaseException) -> bool:
    """True for ENOSPC / EDQUOT, and for engines that only say so in words (Qdrant Edge, SQLite)."""
    if isinstance(exc, OSError) and exc.errno in _FULL:
        return True
    text = str(exc).lower()
    return "no space left on device" in text or "disk is full" in text or "os error 28" in text


def write_error(path: Path | str, exc: OSError) -> WriteError:
    """A failed write of ours as one line: a full disk, or what else the system said."""
    if is_disk_full(exc):
        return disk_full(path)
    why = exc.strerror or type(exc).__name__
    return WriteError(f"could not write {path} ({why}): fix that and run the same command again; nothing was lost.")


def free_bytes(path: Path | str) -> int:
    """Bytes an unprivileged writer may still use on the filesystem holding ``path`` (or its nearest parent)."""
    where = Path(path).absolute()
    while not where.exists() and where != where.parent:
        where = where.parent
    stats = os.statvfs(where)
    return stats.f_bavail * stats.f_frsize


def require_free_space(path: Path | str, need: int = MIN_FREE_BYTES) -> None:
    """Raise the disk-full line unless at least ``need`` bytes are free where ``path`` lives."""
    free = free_bytes(path)
    if free < need:
        raise disk_full(path, f"{free / 1e6:.0f} MB left, {need / 1e6:.0f} MB needed")


def disk_usage(folder: Path | str) -> int:
    """Bytes the files under ``folder`` take on disk (allocated blocks, so sparse files count what they use)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue  # gone meanwhile
    return total


def read_at_most(path: Path, limit: int, *, what: str = "", error: type[ArtsearchError] = ImageError) -> bytes:
    """A file a user named, read up to ``limit`` bytes: one more and it is refused with one line, so an endless or
    huge file (``/dev/zero``, a 10 GB file) is never read whole. ``what`` names it in messages ("the query image")."""
    name = f"{what} {path}" if what else str(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise error(f"Cannot read {name}: {exc.strerror or exc}.") from None
    if len(data) > limit:
        raise error(
            f"{name[:1].upper()}{name[1:]} is larger than the {limit / 1_048_576:.0f} MB limit; use a smaller file."
        )
    return data


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file and rename, so a crash never leaves half a file; a failed write is a WriteError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_error(path, exc) from None
        raise


def atomic_write_json(path: Path, data: Any, *, indent: int | None = None) -> None:
    """``data`` as UTF-8 JSON, written with :func:`atomic_write`."""
    atomic_write(path, (json.dumps(data, ensure_ascii=False, indent=indent) + ("\n" if indent else "")).encode())
