"""Small, real filesystems for tests: a tmpfs of a given size mounted by the test and removed after, and a
ballast file that fills one up to a chosen number of free bytes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BALLAST = ".ballast"


@contextmanager
def small_filesystem(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``mount -t tmpfs -o size=...``) at ``where``; skips the test where mounting is not
    permitted (not root, or a container without the capability)."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def fill(mount: Path, leave: int) -> Path:
    """Grow a ballast file on ``mount`` until about ``leave`` bytes are free (to the page)."""
    ballast = mount / BALLAST
    with ballast.open("ab") as fh:
        while (spare := free_bytes(mount) - leave) > 0:
            fh.write(b"\0" * min(spare, 1 << 20))
            fh.flush()
            os.fsync(fh.fileno())
    return ballast


def free_up(mount: Path) -> None:
    """Remove the ballast: the space a user frees before running the same command again."""
    (mount / BALLAST).unlink(missing_ok=True)
