"""Readers' snapshots of a published build: many processes read one embedded index, and none of them changes it.

Both embedded engines are tested whatever ARTSEARCH_TEST_ENGINE says: their snapshots are made differently
(hard links for Qdrant Edge, a copy for qdrant-client local mode).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from artsearch.index.builds import build_folders, read_pointer, remove_stale_builds
from artsearch.index.edge import EdgeClient
from artsearch.index.read import VectorIndex
from artsearch.index.snapshots import READERS_DIR
from tests.support import ROOT
from tests.support.indexes import build_random_index, collection_view, file_digests, test_settings

DIM = 512
# Edge keeps a collection under 10 MB of vectors in one appendable segment and turns a bigger one into an
# optimised segment when it is published: 6,000 512-d vectors (12 MB) give one of each, the two kinds of files.
SIZES = {"edge": 6000, "local": 400}

# A reader in its own process: open the index as the app and the CLI do, answer, report what it saw.
READER = """
import json, sys
from artsearch.config import load_settings
from artsearch.index.read import VectorIndex
from tests.support.indexes import collection_view
settings = load_settings(secrets={{}}, env={{}}, qdrant_path={path!r}, embedded_engine={engine!r})
index = VectorIndex(settings)
with index._call() as client:
    print(json.dumps(collection_view(client, settings.collection_name, {dim})), flush=True)
if {hold}:
    sys.stdin.readline()  # keep the snapshot open until told to stop
index.close()
"""


def settings_for(tmp_path: Path, engine: str):
    return test_settings(tmp_path, "unused-model", embedded_engine=engine)


def reader(settings, *, hold: bool = False) -> subprocess.Popen:
    code = READER.format(path=str(settings.qdrant_path), engine=settings.embedded_engine, dim=DIM, hold=hold)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def direct_view(settings, build: Path) -> dict:
    """The build read by opening its own folder (Edge replays its write-ahead log): the view every snapshot must
    give. It also holds exactly the points that were written."""
    from qdrant_client import QdrantClient

    client = EdgeClient(build) if settings.embedded_engine == "edge" else QdrantClient(path=str(build))
    try:
        return collection_view(client, settings.collection_name, DIM)
    finally:
        client.close()


def live_build(settings) -> Path:
    return Path(settings.qdrant_path) / read_pointer(settings)["folder"]


@pytest.mark.parametrize("engine", ["edge", "local"])
def test_six_reader_processes_see_exactly_the_published_build_and_change_none_of_its_files(tmp_path, engine):
    settings = settings_for(tmp_path, engine)
    points = build_random_index(settings, SIZES[engine], DIM)
    build = live_build(settings)
    if engine == "edge":  # the published build has both an optimised segment and an appendable one
        direct = EdgeClient(build)
        info = direct.get_collection(settings.collection_name)
        direct.close()
        assert info.segments_count == 2 and info.indexed_vectors_count == len(points), info
    want = direct_view(settings, build)
    before = file_digests(build)

    readers = [reader(settings) for _ in range(6)]  # all at once: six snapshots taken and read side by side
    answers = []
    for proc in readers:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        answers.append(json.loads(out))

    # Every byte of every point (ids, payloads, vectors) and the ranking, as the build's own folder gives them.
    assert want["count"] == len(points)
    assert all(a == want for a in answers), (answers[0], want)
    assert file_digests(build) == before  # the build's own files, SHA-256 each, unchanged
    assert not any((Path(settings.qdrant_path) / READERS_DIR).iterdir())  # each reader deleted its snapshot
    print(f"\nFIGURE snapshots-{engine}: 6 reader processes at once on {len(points)} points: 6 exact answers; "
          f"{len(before)} build files, SHA-256 each, unchanged")  # fmt: skip


def test_a_snapshot_is_links_to_the_build_not_a_copy(tmp_path):
    settings = settings_for(tmp_path, "edge")
    build_random_index(settings, SIZES["edge"], DIM)
    build = live_build(settings)
    index = VectorIndex(settings)
    try:
        index.count()
        snapshot = index.qdrant().snapshot
        segments = [p for p in (snapshot.folder / "shard" / "segments").rglob("*") if p.is_file()]
        linked = [p for p in segments if p.stat().st_nlink >= 2]
        assert segments and linked == segments  # every segment file shared with the build: nothing copied
        wal = [p for p in (snapshot.folder / "shard" / "wal").iterdir() if p.is_file()]
        assert all(p.stat().st_nlink == 1 for p in wal)  # a fresh log of its own, shared with nobody
        assert (build / "shard" / "edge_config.json").stat().st_ino != (
            snapshot.folder / "shard" / "edge_config.json"
        ).stat().st_ino  # Edge rewrites its config when it loads: a copy, never the build's file
    finally:
        index.close()
    assert not snapshot.folder.exists()


def test_writes_through_a_snapshot_are_refused(tmp_path):
    from qdrant_client import models

    settings = settings_for(tmp_path, "edge")
    points = build_random_index(settings, 50, DIM)
    first, (vector, payload) = next(iter(points.items()))
    index = VectorIndex(settings)
    try:
        client = index.qdrant().client
        with pytest.raises(RuntimeError, match="read-only snapshot"):
            client.delete(settings.collection_name, points_selector=[first])
        with pytest.raises(RuntimeError, match="read-only snapshot"):
            client.upsert(settings.collection_name, [models.PointStruct(id=first, vector=vector.tolist(), payload={})])
    finally:
        index.close()
    index = VectorIndex(settings)
    assert index.count() == 50 and index.retrieve([first])[0].payload == payload
    index.close()


@pytest.mark.parametrize("engine", ["edge", "local"])
def test_a_build_pruned_while_read_keeps_answering_from_the_snapshot(tmp_path, engine):
    settings = settings_for(tmp_path, engine)
    old_points = build_random_index(settings, 300, DIM, seed=1)
    index = VectorIndex(settings)
    try:
        assert index.count() == 300
        held = index.qdrant()  # this process's snapshot of the first build
        old_build = live_build(settings)
        build_random_index(settings, 120, DIM, seed=2)  # a rebuild publishes, and prunes the first build
        assert not old_build.exists() and [f.name for f in build_folders(settings)] == [live_build(settings).name]
        with held.call() as client:  # the data is still there for the snapshot (its links, or its copy)
            assert client.count(settings.collection_name).count == 300
            got = client.retrieve(settings.collection_name, ids=list(old_points)[:5], with_vectors=True)
        assert [str(p.id) for p in got] == list(old_points)[:5]
        assert index.count() == 120  # the next call follows the pointer to the new build
        assert held.closed and held.snapshot is None
    finally:
        index.close()
    assert not any((Path(settings.qdrant_path) / READERS_DIR).iterdir())


def test_snapshots_of_killed_readers_are_swept_and_living_ones_kept(tmp_path):
    settings = settings_for(tmp_path, "edge")
    build_random_index(settings, 60, DIM)
    readers_dir = Path(settings.qdrant_path) / READERS_DIR
    killed, alive = reader(settings, hold=True), reader(settings, hold=True)
    try:
        for proc in (killed, alive):
            assert json.loads(proc.stdout.readline())["count"] == 60, proc.stderr.read()
        assert len(list(readers_dir.iterdir())) == 2
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        assert len(list(readers_dir.iterdir())) == 2  # a killed process cannot delete its snapshot itself
        index = VectorIndex(settings)
        assert index.count() == 60  # the next reader's open sweeps it
        names = sorted(p.name for p in readers_dir.iterdir())
        index.close()
        assert len(names) == 2 and not any(f"-{killed.pid}-" in n for n in names)
        assert any(f"-{alive.pid}-" in n for n in names)  # a living reader's snapshot is left alone
        remove_stale_builds(settings)
    finally:
        for proc in (killed, alive):
            if proc.poll() is None:
                proc.communicate("\n", timeout=60)
    assert not any(readers_dir.iterdir())


def test_a_reader_waits_for_the_writer_to_let_go_then_names_it(tmp_path):
    """The build the pointer names is still held: a rebuild of an older artsearch that published before closing."""
    from artsearch.errors import QdrantUnavailable
    from artsearch.index.client import Qdrant

    settings = settings_for(tmp_path, "edge")
    build_random_index(settings, 40, DIM)
    build = live_build(settings)
    holder = subprocess.Popen(
        [sys.executable, "-c", "\n".join([
            "import sys",
            "from artsearch.config import load_settings",
            "from artsearch.index.client import Qdrant",
            f"s = load_settings(secrets={{}}, env={{}}, qdrant_path={str(settings.qdrant_path)!r})",
            f"q = Qdrant.embedded(s, __import__('pathlib').Path({str(build)!r}), kind='append')",
            "print('holding', flush=True)",
            "sys.stdin.readline()",
            "q.close()",
        ])],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        with pytest.raises(QdrantUnavailable) as info:
            Qdrant.reader(settings, build, wait_s=0.5)
        assert time.monotonic() - started >= 0.5
        message = str(info.value)
        assert "an --append ingest" in message and f"pid {holder.pid}" in message and "\n" not in message
        assert "the app" not in message and "another rebuild" not in message
    finally:
        holder.communicate("\n", timeout=60)
    reopened = Qdrant.reader(settings, build, wait_s=0.5)  # let go: the next open succeeds
    reopened.close()
