"""The write side: an embedded --append never writes the live build (readers' snapshots share its files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from artsearch.index.builds import build_folders, read_pointer
from artsearch.index.read import VectorIndex
from artsearch.index.write import IndexBuilder
from tests.support import ROOT
from tests.support.indexes import build_random_index, file_digests, test_settings

DIM = 32

HOLD = """
import sys
from artsearch.config import load_settings
from artsearch.index.read import VectorIndex
index = VectorIndex(load_settings(secrets={{}}, env={{}}, qdrant_path={path!r}, embedded_engine={engine!r}))
print(index.count(), flush=True)
sys.stdin.readline()
print(index.count(), flush=True)  # its snapshot of the old build, or the new build once it switched
index.close()
"""


def test_embedded_append_publishes_a_copy_and_leaves_the_live_build_untouched(tmp_path):
    settings = test_settings(tmp_path, "unused-model")
    old = build_random_index(settings, 200, DIM)
    live = Path(settings.qdrant_path) / read_pointer(settings)["folder"]
    code = HOLD.format(path=str(settings.qdrant_path), engine=settings.embedded_engine)
    reader = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert reader.stdout.readline().strip() == "200"  # another process is reading the live build
        before = file_digests(live)

        new_ids = [str(uuid.uuid4()) for _ in range(15)]
        vectors = np.random.default_rng(3).normal(size=(15, DIM)).astype(np.float32)
        builder = IndexBuilder.open_live(settings, DIM)  # what initialize_db.py --append opens
        try:
            assert builder.folder != live.name and builder.existing_ids(list(old)) == set(old)  # a copy
            builder.upsert(new_ids, vectors, [{"title": "new"}] * 15)
            builder.publish()
        finally:
            builder.close()

        assert read_pointer(settings)["folder"] == builder.folder
        assert not live.exists() or file_digests(live) == before  # never written; pruned once nobody holds it
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "215"  # the reader follows the pointer to the appended build
    finally:
        reader.communicate(timeout=60)
    index = VectorIndex(settings)
    try:
        assert index.count() == 215
        got = {str(p.id): p.payload for p in index.retrieve(list(old)[:3] + new_ids[:3])}
        assert all(got[i] == old[i][1] for i in list(old)[:3]) and all(got[i]["title"] == "new" for i in new_ids[:3])
    finally:
        index.close()
    assert [f.name for f in build_folders(settings)] == [builder.folder]


def test_append_with_no_index_yet_makes_the_first_build(tmp_path):
    settings = test_settings(tmp_path, "unused-model")
    builder = IndexBuilder.open_live(settings, DIM)
    try:
        builder.upsert([str(uuid.uuid4())], np.ones((1, DIM), dtype=np.float32), [{"title": "first"}])
        builder.publish()
    finally:
        builder.close()
    index = VectorIndex(settings)
    assert index.count() == 1
    index.close()
    assert json.loads((Path(settings.qdrant_path) / f"{settings.collection_name}.current.json").read_text())


KILLED_MAKING_INDEXES = """
import os, signal, sys
import artsearch.index.edge as edge
from artsearch.config import load_settings
from artsearch.index.write import IndexBuilder
real, made = edge.EdgeClient.create_payload_index, []
def create_payload_index(self, *args, **kwargs):
    if len(made) == 3:  # the fourth index: the process dies mid-build, as a SIGKILL anywhere would leave it
        os.kill(os.getpid(), signal.SIGKILL)
    made.append(args)
    return real(self, *args, **kwargs)
edge.EdgeClient.create_payload_index = create_payload_index
settings = load_settings(secrets={{}}, env={{}}, qdrant_path={path!r}, embedded_engine="edge")
builder = IndexBuilder.start_build(settings, {dim}, indexes_in_background=True)
print(builder.folder, flush=True)
builder.wait_for_indexes()
"""


def payload_schema(folder: Path, tmp_path: Path) -> set[str]:
    """The payload indexes a published Edge build holds, read by Qdrant Edge itself from a copy of its folder."""
    import shutil

    import qdrant_edge as qe

    copy = tmp_path / "schema_copy"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns(".lock"))
    shard = qe.EdgeShard.load(str(copy / "shard"))
    try:
        return set(shard.info().payload_schema)
    finally:
        shard.close()


def test_a_build_killed_while_its_payload_indexes_are_made_is_resumed_with_all_of_them(tmp_path):
    """The rebuild makes the indexes on a thread beside its ingest; a kill among them leaves a build with the first
    few, which the next rebuild resumes: it must make the rest, or the published build filters without them."""
    from artsearch.index.write import payload_indexes

    settings = test_settings(tmp_path, "unused-model", embedded_engine="edge")
    code = KILLED_MAKING_INDEXES.format(path=str(settings.qdrant_path), dim=DIM)
    killed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -9, killed.stderr
    folder = killed.stdout.strip()

    builder = IndexBuilder.start_build(settings, DIM, indexes_in_background=True)
    try:
        assert builder.folder == folder  # the killed build, resumed
        ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, str(i))) for i in range(20)]
        vectors = np.eye(20, DIM, dtype=np.float32)
        builder.upsert(ids, vectors, [{"artist": f"Artist {i % 3}", "year": 1800 + i} for i in range(20)])
        builder.publish()
    finally:
        builder.close()
    assert payload_schema(Path(settings.qdrant_path) / folder, tmp_path) == {name for name, _ in payload_indexes()}
    index = VectorIndex(settings)
    try:
        assert index.count() == 20
    finally:
        index.close()


def test_a_payload_index_that_fails_on_its_thread_stops_the_publish(tmp_path, monkeypatch):
    """Made beside the ingest, an index's failure (Edge's storage error) still fails the build: nothing is published
    and the next run resumes it."""
    import artsearch.index.edge as edge
    from artsearch.errors import WriteError

    settings = test_settings(tmp_path, "unused-model", embedded_engine="edge")
    real, calls = edge.EdgeClient.create_payload_index, []

    def failing(self, *args, **kwargs):
        calls.append(args)
        if len(calls) == 5:
            raise edge.EdgeError("Service internal error: No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(edge.EdgeClient, "create_payload_index", failing)
    builder = IndexBuilder.start_build(settings, DIM, indexes_in_background=True)
    try:
        builder.upsert(["00000000-0000-0000-0000-000000000001"], np.ones((1, DIM), np.float32), [{}])
        with pytest.raises(WriteError, match="disk full at"):  # the one-line message a full disk gets
            builder.publish()
    finally:
        builder.close_unpublished()
    assert read_pointer(settings) is None
    assert [f.name for f in build_folders(settings)] == [builder.folder]  # kept: it holds a point, to be resumed
