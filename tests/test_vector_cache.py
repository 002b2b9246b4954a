"""The vector cache on its own: what it returns is exactly what was stored, or nothing; what nobody needs is dropped."""

from __future__ import annotations

import sqlite3

import numpy as np

from artsearch.model.identity import ModelId
from artsearch.vector_cache import FORMAT, Entry, VectorCache, content_hash

MODEL = ModelId(
    key="k" * 32, label="tiny (torch, cpu)", dim=4, folder="", weights="w", export="", inference="torch", device="cpu"
)
OTHER = ModelId(**{**MODEL.to_json(), "key": "o" * 32, "label": "other (torch, cpu)"})


def entry(n: int, vector=None, **kwargs) -> Entry:
    v = np.asarray(vector if vector is not None else [n, 1, 2, 3], dtype=np.float32)
    return Entry(
        artwork_id=f"id{n}",
        origin=f"/images/{n}.jpg",
        fingerprint=f"{n}:1",
        sha256=content_hash(str(n).encode()),
        meta="m",
        derived={"phash": [1, f"{n:096x}"]},
        vector=v,
        **kwargs,
    )


def test_what_is_stored_comes_back_bit_for_bit_and_by_fingerprint(tmp_path):
    cache = VectorCache.open(tmp_path / "v.sqlite")
    e = entry(1, vector=np.array([0.1, -0.2, 1e-8, 0.3], np.float32))
    cache.write_batch("c1", MODEL, [e])
    hit = cache.get(e.sha256, MODEL)
    assert hit is not None and hit.vector.tobytes() == e.vector.tobytes() and hit.derived == e.derived
    assert cache.get(e.sha256, OTHER) is None  # another model's vectors are never another's
    assert cache.content_hash(e.origin, e.fingerprint) == e.sha256
    assert cache.content_hash(e.origin, "2:1") is None  # the file changed: read and hash it again
    cache.close()
    assert VectorCache.open(tmp_path / "v.sqlite").get(e.sha256, MODEL) is not None  # kept across runs


def test_rows_that_fail_their_checks_are_misses(tmp_path):
    path = tmp_path / "v.sqlite"
    cache = VectorCache.open(path)
    good, nan, short = entry(1), entry(2, vector=[np.nan, 0, 0, 1]), entry(3)
    cache.write_batch("c1", MODEL, [good, nan, short])
    with sqlite3.connect(path) as db:
        db.execute("UPDATE vectors SET vector = substr(vector, 1, 8) WHERE sha256 = ?", (short.sha256,))
        db.execute("UPDATE vectors SET derived = '{}' WHERE sha256 = ?", (good.sha256,))
    db.close()
    assert cache.get(nan.sha256, MODEL) is None  # stored with a valid checksum, but not a usable vector
    assert cache.get(short.sha256, MODEL) is None  # the wrong size
    assert cache.get(good.sha256, MODEL) is None  # the pixel fields were changed behind the checksum


def test_many_at_once_answer_as_one_at_a_time_checks_included(tmp_path):
    path = tmp_path / "v.sqlite"
    cache = VectorCache.open(path)
    good, tampered, nan = entry(1), entry(2), entry(3, vector=[np.nan, 0, 0, 1])
    cache.write_batch("c1", MODEL, [good, tampered, nan])
    with sqlite3.connect(path) as db:
        db.execute("UPDATE vectors SET derived = '{}' WHERE sha256 = ?", (tampered.sha256,))
        db.execute("UPDATE files SET sha256 = ? WHERE origin = ?", (good.sha256, tampered.origin))
    db.close()
    hashes = cache.content_hashes(
        [(good.origin, good.fingerprint), (tampered.origin, tampered.fingerprint), (nan.origin, "9:9"), ("/new", "")]
    )
    assert hashes == {good.origin: good.sha256, tampered.origin: None, nan.origin: None, "/new": None}
    assert hashes == {o: cache.content_hash(o, f) for o, f in [(good.origin, good.fingerprint),
        (tampered.origin, tampered.fingerprint), (nan.origin, "9:9"), ("/new", "")]}  # fmt: skip
    found = cache.get_many([good.sha256, tampered.sha256, nan.sha256, "absent"], MODEL)
    assert set(found) == {good.sha256, tampered.sha256, nan.sha256, "absent"}
    assert found[good.sha256].vector.tobytes() == good.vector.tobytes()
    assert found[tampered.sha256] is None and found[nan.sha256] is None and found["absent"] is None
    assert cache.get_many([good.sha256], OTHER) == {good.sha256: None}


def test_a_cache_of_another_format_is_set_aside(tmp_path):
    path = tmp_path / "v.sqlite"
    VectorCache.open(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {FORMAT + 1}")
    db.close()
    cache = VectorCache.open(path)
    assert cache.enabled and "damaged" in cache.note and f"format {FORMAT + 1}" in cache.note
    assert (tmp_path / "v.sqlite.damaged").exists()


def test_an_unusable_place_runs_without_a_cache(tmp_path):
    (tmp_path / "file").write_text("a file, not a folder")
    cache = VectorCache.open(tmp_path / "file" / "v.sqlite")
    assert not cache.enabled and "cannot be used" in cache.note
    cache.write_batch("c1", MODEL, [entry(1)])  # dropped, not an error
    assert cache.get(entry(1).sha256, MODEL) is None and cache.live_build("here", "c1") is None


def test_publishing_drops_what_no_build_holds(tmp_path):
    cache = VectorCache.open(tmp_path / "v.sqlite")
    cache.begin_build("old", "here", MODEL)
    cache.write_batch("old", MODEL, [entry(1), entry(2)])
    cache.published("old", "here")
    cache.begin_build("elsewhere_live", "there", OTHER)  # another index sharing the cache
    cache.write_batch("elsewhere_live", OTHER, [entry(2)])
    cache.published("elsewhere_live", "there")
    cache.begin_build("new", "here", MODEL)
    cache.write_batch("new", MODEL, [entry(2), entry(3)])
    assert cache.live_build("here", "old") is not None and cache.live_build("here", "new") is None

    cache.published("new", "here")
    assert cache.live_build("here", "new") is not None and cache.live_build("here", "old") is None
    assert cache.get(entry(1).sha256, MODEL) is None  # only the old build held it
    assert cache.get(entry(2).sha256, MODEL) is not None and cache.get(entry(3).sha256, MODEL) is not None
    assert cache.get(entry(2).sha256, OTHER) is not None  # the other index's build still holds it
    assert cache.content_hash(entry(1).origin, entry(1).fingerprint) is None
    assert cache.items("new", ["id2", "id3", "id1"]) == {"id2": (entry(2).sha256, "m"), "id3": (entry(3).sha256, "m")}


def test_a_builds_annotations_come_back_under_their_key_and_go_with_the_build(tmp_path):
    cache = VectorCache.open(tmp_path / "v.sqlite")
    fields = {"id1": {"terms": ["a", "b"], "calibration_sample": "yes"}, "id2": {"terms": ["c"]}}
    cache.begin_build("old", "here", MODEL)
    cache.record_annotations("old", "key", fields)
    assert cache.annotations("old", "key", ["id2", "id9"]) == {"id2": {"terms": ["c"]}}
    assert cache.annotations("old", "another vocabulary", ["id1", "id2"]) == {}
    cache.record_annotations("old", "key", {"id1": fields["id1"]})  # a build's record is replaced, not added to
    assert cache.annotations("old", "key", ["id1", "id2"]) == {"id1": fields["id1"]}
    cache.published("old", "here")

    cache.begin_build("new", "here", MODEL)
    cache.copy_annotations("old", "new")
    assert cache.annotations("new", "key", ["id1"]) == {"id1": fields["id1"]}
    cache.published("new", "here")
    assert cache.annotations("old", "key", ["id1"]) == {}  # forgotten with the build it described
    cache.close()
    reopened = VectorCache.open(tmp_path / "v.sqlite")
    assert reopened.annotations("new", "key", ["id1"]) == {"id1": fields["id1"]} and not reopened.note
