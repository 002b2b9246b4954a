"""The write side: an embedded --append never writes the live build (readers' snapshots share its files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np

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
