"""Ingest through the real pipeline: Kaggle layout, broken files, idempotence, resume, rebuild."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from artsearch.catalog import artwork_id
from artsearch.index.builds import build_folders, read_pointer
from artsearch.index.read import VectorIndex
from artsearch.index.write import IndexBuilder
from artsearch.rebuild import rebuild
from artsearch.sources import SourceOptions
from artsearch.storage.local import LocalStorage
from tests.support import ROOT
from tests.support.datasets import UNMATCHED_ARTIST, make_kaggle_layout
from tests.support.indexes import all_payloads, copy_index, test_settings


def test_every_valid_image_indexed_once_and_every_broken_one_reported(kaggle_index):
    settings, layout, report = kaggle_index
    payloads = all_payloads(settings)
    assert len(payloads) == len(layout.valid) == report.indexed
    assert len({p["_id"] for p in payloads}) == len(payloads)
    reported = {Path(origin).name for origin, _ in report.skipped}
    assert reported == {p.name for p in layout.broken}
    reasons = " ".join(reason for _, reason in report.skipped)
    assert "empty" in reasons and "truncated" in reasons.lower() or "damaged" in reasons
    assert "summary" not in report.summary().lower()
    assert f"skipped {len(layout.broken)}" in report.summary()


def test_artists_matched_to_csv_and_misencoded_names_repaired(kaggle_index):
    settings, _, _ = kaggle_index
    payloads = all_payloads(settings)
    artists = {p["artist"] for p in payloads}
    assert artists == {"Claude Monet", "Albrecht Dürer", "Vincent van Gogh", UNMATCHED_ARTIST.replace("_", " ")}
    durer = [p for p in payloads if p["artist"] == "Albrecht Dürer"]
    assert durer and all(p["nationality"] == "German" and p["genre"] == ["Northern Renaissance"] for p in durer)
    assert all("╠" not in p["source_id"] for p in payloads)
    stored = LocalStorage(settings.data_dir).read_artists()
    assert stored["albrecht-durer"].bio == "Albrecht Dürer was a painter."
    assert stored["albrecht-durer"].birth_year == 1471
    mystery = stored["mystery-painter"]
    assert mystery.name == "Mystery Painter" and mystery.bio == "" and mystery.nationality == ""


def test_awkward_formats_are_indexed_with_true_dimensions(kaggle_index):
    settings, _, _ = kaggle_index
    by_name = {Path(p["image_key"]).name: p for p in all_payloads(settings)}
    for name in ("alpha.png", "webp.webp", "anim.gif", "cmyk.jpg", "16bit.png", "rotated.jpg"):
        assert f"Claude_Monet_{name}" in by_name
    assert (by_name["Claude_Monet_16bit.png"]["width"], by_name["Claude_Monet_16bit.png"]["height"]) == (200, 150)
    # Kaggle images already lie in local storage: keys point at them, nothing is copied.
    assert by_name["Claude_Monet_1.jpg"]["image_key"] == "kaggle/images/images/Claude_Monet/Claude_Monet_1.jpg"


def test_vector_size_comes_from_the_model(kaggle_index, shared_encoder):
    settings, _, _ = kaggle_index
    index = VectorIndex(settings)
    try:
        assert index.vector_size() == shared_encoder.dim == 64
    finally:
        index.close()


def test_point_ids_are_stable_uuid5_of_source_and_id(kaggle_index):
    settings, _, _ = kaggle_index
    for p in all_payloads(settings):
        assert p["_id"] == artwork_id(p["source"], p["source_id"]) == p["artwork_id"]


def test_second_run_indexes_nothing_new_and_publishes_a_fresh_collection(kaggle_index, tmp_path, shared_encoder):
    settings, layout = copy_index(kaggle_index, tmp_path)
    before = read_pointer(settings)
    report = rebuild(settings, SourceOptions(source="kaggle"), encoder=shared_encoder, progress=False)
    after = read_pointer(settings)
    assert after != before  # a new collection was built and the alias moved
    assert report.indexed == len(layout.valid)
    assert [f.name for f in build_folders(settings)] == [after["folder"]]  # the old build is gone
    assert len(all_payloads(settings)) == len(layout.valid)


def test_an_unfinished_build_by_the_other_engine_is_set_aside_then_pruned(tmp_path, tiny_clip_path, shared_encoder):
    """Switching ARTSEARCH_EMBEDDED_ENGINE after a killed build: the rebuild starts afresh instead of failing."""
    settings = test_settings(tmp_path, tiny_clip_path)
    other = dataclasses.replace(settings, embedded_engine="local" if settings.embedded_engine == "edge" else "edge")
    layout = make_kaggle_layout(settings.data_dir / "kaggle", per_artist=3)
    stale = IndexBuilder.start_build(other, shared_encoder.dim)
    stale.upsert([artwork_id("x", "1")], np.ones((1, shared_encoder.dim), np.float32), [{"title": "stale"}])
    stale.close()  # killed before publishing: an unfinished build of the other engine
    (stale_folder,) = build_folders(settings)

    report = rebuild(settings, SourceOptions(source="kaggle"), encoder=shared_encoder, progress=False)
    assert report.indexed == len(layout.valid) and report.already_indexed == 0
    live = read_pointer(settings)["folder"]
    assert live != stale_folder.name and [f.name for f in build_folders(settings)] == [live]
    assert sorted(p["image_key"] for p in all_payloads(settings)) == sorted(
        p.relative_to(settings.data_dir).as_posix() for p in layout.valid
    )


def test_append_adds_only_new_images_and_rebuild_drops_removed_ones(kaggle_index, tmp_path, shared_encoder):
    settings, layout = copy_index(kaggle_index, tmp_path)
    images = settings.data_dir / "kaggle" / "images" / "images"
    new = images / "Claude_Monet" / "Claude_Monet_new.jpg"
    shutil.copy(layout.valid[0], new)
    report = rebuild(settings, SourceOptions(source="kaggle"), append=True, encoder=shared_encoder, progress=False)
    assert (report.indexed, report.already_indexed) == (1, len(layout.valid))
    new.unlink()
    (images / "Claude_Monet" / "Claude_Monet_2.jpg").unlink()
    report = rebuild(settings, SourceOptions(source="kaggle"), encoder=shared_encoder, progress=False)
    assert len(all_payloads(settings)) == len(layout.valid) - 1


def test_open_index_follows_a_rebuild_without_restart(kaggle_index, tmp_path, shared_encoder):
    settings, layout = copy_index(kaggle_index, tmp_path)
    serving = VectorIndex(settings)
    assert serving.count() == len(layout.valid)
    (settings.data_dir / "kaggle" / "images" / "images" / "Claude_Monet" / "Claude_Monet_1.jpg").unlink()
    rebuild(settings, SourceOptions(source="kaggle"), encoder=shared_encoder, progress=False)
    assert serving.count() == len(layout.valid) - 1  # the open index switched to the new build
    serving.close()


def test_empty_source_publishes_nothing_and_keeps_the_old_index(kaggle_index, tmp_path, shared_encoder):
    from artsearch.errors import SourceError

    settings, layout = copy_index(kaggle_index, tmp_path)
    empty = tmp_path / "empty"
    (empty / "Someone").mkdir(parents=True)
    (empty / "Someone" / "broken.jpg").write_bytes(b"nope")
    before = read_pointer(settings)
    with pytest.raises(SourceError, match="nothing was published"):
        rebuild(settings, SourceOptions(source="folder", images_dir=empty), encoder=shared_encoder, progress=False)
    assert read_pointer(settings) == before
    assert len(all_payloads(settings)) == len(layout.valid)


def test_sigkill_mid_ingest_then_rerun_loses_and_duplicates_nothing(tmp_path, tiny_clip_path):
    settings = test_settings(tmp_path, tiny_clip_path)
    layout = make_kaggle_layout(settings.data_dir / "kaggle", per_artist=40)
    cmd = [sys.executable, "qdrant/initialize_db.py", "--source", "kaggle", "--batch-size", "2"]
    base = ["--model", tiny_clip_path, "--qdrant-path", str(settings.qdrant_path), "--data-dir", str(settings.data_dir)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", ARTSEARCH_SECRETS=str(tmp_path / "none.toml"))
    env["ARTSEARCH_CACHE_DIR"] = str(tmp_path / "cache")  # this test's own vector cache
    env["ARTSEARCH_EMBEDDED_ENGINE"] = settings.embedded_engine
    env["ARTSEARCH_INFERENCE"] = settings.inference
    proc = subprocess.Popen([*cmd, *base], cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    seen = b""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        chunk = os.read(proc.stderr.fileno(), 256)
        if not chunk:
            break
        seen += chunk
        done = [int(n) for n in re.findall(rb"ingest: (\d+)img", seen)]
        if done and max(done) >= 12:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert read_pointer(settings) is None, "killed before publishing: nothing is live yet"
    (unfinished,) = build_folders(settings)
    builder = IndexBuilder.start_build(settings, 64)
    partial = builder.count()
    builder.close()
    assert 0 < partial < len(layout.valid), f"the kill should land mid-ingest ({partial} points)"

    result = subprocess.run([*cmd, *base], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    # It resumed the unfinished build, and what the killed run embedded came from the vector cache.
    embedded, reused = map(int, re.search(r"embedded (\d+) .*reused (\d+)", result.stdout).groups())
    assert reused >= partial and embedded + reused == len(layout.valid), result.stdout
    assert read_pointer(settings)["folder"] == unfinished.name
    payloads = all_payloads(settings)
    assert sorted(p["image_key"] for p in payloads) == sorted(
        p.relative_to(settings.data_dir).as_posix() for p in layout.valid
    )
    json.loads((settings.data_dir / "artists.json").read_text())
