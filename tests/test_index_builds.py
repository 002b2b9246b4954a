"""Build folders' locks: who holds a folder is named right, and pruning never deletes one that is being read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import portalocker
import pytest

from artsearch.errors import QdrantUnavailable
from artsearch.index.builds import delete_unless_in_use, describe_holder, folder_in_use, reading_build
from artsearch.index.client import Qdrant
from tests.support import ROOT
from tests.support.indexes import test_settings

HOLD = """
import sys
from pathlib import Path
from artsearch.config import load_settings
from artsearch.index.client import Qdrant
settings = load_settings(secrets={{}}, env={{}}, qdrant_path={root!r}, embedded_engine={engine!r})
q = Qdrant.embedded(settings, Path({folder!r}), kind={kind!r})
print("holding", flush=True)
sys.stdin.readline()
q.close()
"""


def hold(settings, folder: Path, kind: str) -> subprocess.Popen:
    code = HOLD.format(root=str(settings.qdrant_path), engine=settings.embedded_engine, folder=str(folder), kind=kind)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout.readline().strip() == "holding"
    return proc


@pytest.mark.parametrize(
    ("kind", "named"), [("rebuild", "a rebuild (python qdrant/initialize_db.py, pid"), ("append", "an --append ingest")]
)
def test_a_writer_finding_a_build_held_names_the_holder_and_blames_no_one_else(tmp_path, kind, named):
    settings = test_settings(tmp_path, "unused-model")
    folder = Path(settings.qdrant_path) / "artworks-20260101T000000000000"
    holder = hold(settings, folder, kind)
    try:
        with pytest.raises(QdrantUnavailable) as info:
            Qdrant.embedded(settings, folder)
        message = str(info.value)
        assert named in message and f"pid {holder.pid}" in message and "\n" not in message, message
        assert "the app" not in message and "another rebuild" not in message
    finally:
        holder.communicate("\n", timeout=60)
    assert describe_holder(folder).startswith("another process")  # let go: its name was taken out of the file
    Qdrant.embedded(settings, folder).close()


def test_a_holder_that_was_killed_is_not_named(tmp_path):
    settings = test_settings(tmp_path, "unused-model")
    folder = Path(settings.qdrant_path) / "artworks-20260101T000000000000"
    holder = hold(settings, folder, "rebuild")
    holder.kill()
    holder.wait(timeout=30)
    assert str(holder.pid) in (folder / ".lock").read_text()  # a killed writer's name stays in the file...
    assert "rebuild" not in describe_holder(folder)  # ...but it holds nothing now, so it is not named
    with (folder / ".lock").open("r") as fh:  # someone else takes the folder and writes nothing
        portalocker.lock(fh, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
        described = describe_holder(folder)
        portalocker.unlock(fh)
    assert described.startswith(f"process {os.getpid()},") and "rebuild" not in described, described


def test_pruning_skips_a_build_a_reader_is_taking_a_snapshot_of(tmp_path):
    folder = tmp_path / "artworks-20260101T000000000000"
    folder.mkdir()
    (folder / ".lock").write_text("")
    with reading_build(folder, wait_s=0):
        assert folder_in_use(folder)
        assert not delete_unless_in_use(folder) and folder.exists()
    assert not folder_in_use(folder)
    assert delete_unless_in_use(folder) and not folder.exists()
