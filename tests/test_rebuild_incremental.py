"""Incremental rebuilds: an unchanged image is never decoded or embedded again, its vector is copied bit for bit,
and what changed (an image, a CSV row, the model, the cache itself) costs exactly what it should.

Every rebuild here is the real one (``artsearch.rebuild.rebuild``) on a folder source with the tiny CLIP; the
encoder is real and only counts what it embeds (tests/support/encoders.py).
"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from artsearch import pixels
from artsearch.catalog import artwork_id
from artsearch.index.builds import read_pointer
from artsearch.model.encoder import Encoder
from artsearch.projection import Projection, fit
from artsearch.rebuild import rebuild
from artsearch.sources import SourceOptions
from artsearch.storage.local import LocalStorage
from tests.support.datasets import jpeg_bytes, painting
from tests.support.encoders import CountingEncoder
from tests.support.indexes import all_points, test_settings

ARTISTS = ("Claude Monet", "Berthe Morisot", "Edgar Degas")
PER_ARTIST = 4


def make_folder(root: Path, *, csv_rows: bool = False) -> list[Path]:
    """Twelve distinct paintings, one sub-folder per artist (and a metadata.csv when asked)."""
    paths = []
    for a, artist in enumerate(ARTISTS):
        (root / artist).mkdir(parents=True, exist_ok=True)
        for n in range(PER_ARTIST):
            path = root / artist / f"work_{n}.jpg"
            path.write_bytes(jpeg_bytes(painting(100 * a + n)))
            paths.append(path)
    if csv_rows:
        write_csv(root, {p.relative_to(root).as_posix(): f"Title {i}" for i, p in enumerate(paths)})
    return paths


def write_csv(root: Path, titles: dict[str, str]) -> None:
    with (root / "metadata.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "title"])
        writer.writerows(titles.items())


def point_id(root: Path, path: Path) -> str:
    return artwork_id("folder", path.relative_to(root).as_posix())


@pytest.fixture
def setup(tmp_path, tiny_clip_path, shared_encoder):
    images = tmp_path / "images"
    settings = test_settings(tmp_path, tiny_clip_path)
    counting = CountingEncoder(shared_encoder)

    def run(**kwargs):
        counting.reset()
        return rebuild(
            settings, SourceOptions(source="folder", images_dir=images), encoder=counting, progress=False, **kwargs
        )

    return settings, images, counting, run


def test_an_unchanged_rebuild_embeds_nothing_and_copies_every_vector_bit_for_bit(setup):
    settings, images, counting, run = setup
    make_folder(images)
    first = run()
    assert (first.embedded, first.reused, counting.images) == (12, 0, 12)
    before, first_pointer = all_points(settings), read_pointer(settings)

    second = run()
    assert counting.calls == 0 and counting.images == 0  # the model never ran
    assert (second.embedded, second.reused, second.updated, second.removed) == (0, 12, 0, 0)
    assert "embedded 0" in second.summary() and "reused 12" in second.summary()
    after = all_points(settings)
    assert read_pointer(settings) != first_pointer  # still a fresh collection, published under the alias
    assert set(after) == set(before)
    for pid, (payload, vector) in after.items():
        assert vector.tobytes() == before[pid][1].tobytes()  # bit for bit
        for key in ("phash", "width", "height", "x", "y"):  # pixel fields and the map's place travel with it
            assert payload[key] == before[pid][0][key], key
    storage = LocalStorage(settings.data_dir)  # the live build's map is kept: the same vectors, the same PCA
    assert storage.read_map(read_pointer(settings)["collection"]) == storage.read_map(first_pointer["collection"])


def test_a_changed_image_is_embedded_again_and_only_it(setup):
    settings, images, counting, run = setup
    paths = make_folder(images)
    run()
    before = all_points(settings)
    changed = paths[5]
    changed.write_bytes(jpeg_bytes(painting(9999)))

    report = run()
    assert (report.embedded, report.reused, counting.images) == (1, 11, 1)
    after = all_points(settings)
    pid = point_id(images, changed)
    assert not np.allclose(after[pid][1], before[pid][1])
    fitted = Projection.from_json(LocalStorage(settings.data_dir).read_map(read_pointer(settings)["collection"]))
    vectors = np.stack([v for _, v in after.values()])
    refit, _ = fit(vectors, "pca")  # a new image: the map is fitted again, on this build's vectors
    assert np.allclose(np.abs(fitted.components @ refit.components.T), np.eye(2), atol=1e-6)
    assert all(0 <= p["x"] <= 1 and 0 <= p["y"] <= 1 for p, _ in after.values())
    assert after[pid][0]["phash"] != before[pid][0]["phash"]  # pixel fields are recomputed with it
    for other in set(after) - {pid}:
        assert after[other][1].tobytes() == before[other][1].tobytes()


def test_a_few_new_images_are_placed_on_the_live_map_until_the_changes_add_up(setup, monkeypatch):
    """Below MAP_KEEP_SHARE of the build changed since the map was fitted, a rebuild reads no vector back and fits
    nothing: the new image is placed on the live map (as a query is) and every other artwork keeps its place; the
    next addition takes the changes past the share and the map is fitted again on every vector."""
    import artsearch.rebuild as rebuild_module

    settings, images, counting, run = setup
    make_folder(images)
    run()
    storage = LocalStorage(settings.data_dir)
    first_map = Projection.from_json(storage.read_map(read_pointer(settings)["collection"]))
    before = all_points(settings)
    monkeypatch.setattr(rebuild_module, "MAP_KEEP_SHARE", 0.1)  # 1 of 13 is within it, 2 of 14 are not
    reads = []
    real_build_vectors = rebuild_module.build_vectors
    monkeypatch.setattr(rebuild_module, "build_vectors", lambda b: reads.append(b) or real_build_vectors(b))
    new = images / "Edgar Degas" / "work_new.jpg"
    new.write_bytes(jpeg_bytes(painting(4242)))

    report = run()
    assert (report.embedded, report.new, report.new_vectors) == (1, 1, 1)
    assert reads == []  # no vector read back, no PCA fitted
    kept = Projection.from_json(storage.read_map(read_pointer(settings)["collection"]))
    assert kept.drift == 1
    for name in ("mean", "components", "low", "high"):
        assert np.array_equal(getattr(kept, name), getattr(first_map, name)), name
    after = all_points(settings)
    payload, vector = after[point_id(images, new)]
    x, y = first_map.place(vector)
    assert (payload["x"], payload["y"]) == (round(x, 5), round(y, 5))  # where the live map puts its vector
    for pid, (old_payload, _) in before.items():
        assert (after[pid][0]["x"], after[pid][0]["y"]) == (old_payload["x"], old_payload["y"])

    (images / "Edgar Degas" / "work_newer.jpg").write_bytes(jpeg_bytes(painting(4343)))
    run()
    assert len(reads) == 1  # 2 changes of 14: past the share, fitted again
    refitted = Projection.from_json(storage.read_map(read_pointer(settings)["collection"]))
    vectors = np.stack([v for _, v in all_points(settings).values()])
    expected, _ = fit(vectors, "pca")
    assert refitted.drift == 0
    assert np.allclose(np.abs(refitted.components @ expected.components.T), np.eye(2), atol=1e-6)


def test_a_changed_csv_row_only_updates_the_payload(setup):
    settings, images, counting, run = setup
    paths = make_folder(images, csv_rows=True)
    run()
    before = all_points(settings)
    titles = {p.relative_to(images).as_posix(): f"Title {i}" for i, p in enumerate(paths)}
    corrected = paths[2].relative_to(images).as_posix()
    titles[corrected] = "Water Lilies, corrected"
    write_csv(images, titles)

    report = run()
    assert (report.embedded, report.reused, report.updated, counting.images) == (0, 12, 1, 0)
    after = all_points(settings)
    pid = point_id(images, paths[2])
    assert after[pid][0]["title"] == "Water Lilies, corrected"
    assert after[pid][1].tobytes() == before[pid][1].tobytes()
    assert all(after[p][0]["title"] == before[p][0]["title"] for p in after if p != pid)


ANNOTATIONS = ("terms", "subjects", "calibration_sample")


def count_build_work(monkeypatch) -> dict[str, int]:
    """Counts, through the real IndexBuilder, every read of a build's vectors and every payload written with terms."""
    from artsearch.index.write import IndexBuilder

    counts = {"vector_reads": 0, "terms_written": 0}
    real_iter, real_set = IndexBuilder.iter_points, IndexBuilder.set_payloads

    def iter_points(self, *args, **kwargs):
        counts["vector_reads"] += 1
        return real_iter(self, *args, **kwargs)

    def set_payloads(self, updates, *args, **kwargs):
        counts["terms_written"] += sum("terms" in fields for fields in updates.values())
        return real_set(self, updates, *args, **kwargs)

    monkeypatch.setattr(IndexBuilder, "iter_points", iter_points)
    monkeypatch.setattr(IndexBuilder, "set_payloads", set_payloads)
    return counts


def test_an_unchanged_rebuild_carries_the_live_annotations_over_without_reading_a_vector_back(setup, monkeypatch):
    """Same artworks, same vectors (a corrected title is only metadata): every point's terms, subjects and sample flag
    are the live build's, carried in with its upsert; no vector is read back and no payload rewritten. A new image
    changes the terms' statistics and may change the sample: the build is annotated again, every point of it."""
    from artsearch.calibration import SAMPLE_FIELD, SAMPLE_YES, choose_sample

    settings, images, counting, run = setup
    paths = make_folder(images, csv_rows=True)
    run()
    before = all_points(settings)
    assert all(payload["terms"] and payload[SAMPLE_FIELD] for payload, _ in before.values())
    titles = {p.relative_to(images).as_posix(): f"Title {i}" for i, p in enumerate(paths)}
    titles[paths[4].relative_to(images).as_posix()] = "Corrected"
    write_csv(images, titles)
    counts = count_build_work(monkeypatch)

    report = run()
    assert (report.embedded, report.updated, report.carried) == (0, 1, 12)
    assert counts == {"vector_reads": 0, "terms_written": 0}
    after = all_points(settings)
    assert after[point_id(images, paths[4])][0]["title"] == "Corrected"
    for pid, (payload, _) in after.items():
        assert {k: payload[k] for k in ANNOTATIONS} == {k: before[pid][0][k] for k in ANNOTATIONS}, pid

    run()  # carried again from the build that carried them: the record travels with each build
    assert counts == {"vector_reads": 0, "terms_written": 0}
    assert {p: {k: v[0][k] for k in ANNOTATIONS} for p, v in all_points(settings).items()} == {
        p: {k: v[0][k] for k in ANNOTATIONS} for p, v in after.items()
    }

    (images / "Edgar Degas" / "work_new.jpg").write_bytes(jpeg_bytes(painting(4242)))
    report = run()
    assert report.embedded == 1 and counts["vector_reads"] >= 1 and counts["terms_written"] == 13
    grown = all_points(settings)
    sample = choose_sample(grown)
    assert all(payload["terms"] for payload, _ in grown.values())
    assert {p for p, (payload, _) in grown.items() if payload[SAMPLE_FIELD] == SAMPLE_YES} == sample


def test_a_rebuild_with_another_vocabulary_annotates_again(setup, monkeypatch, tmp_path):
    """The vocabulary is part of the annotations' key: terms from the old one are never carried into a build."""
    from artsearch.vocabulary import load_vocabulary

    settings, images, counting, run = setup
    make_folder(images)
    run()
    vocabulary = load_vocabulary(settings.vocabulary)
    smaller = tmp_path / "smaller.txt"
    smaller.write_text(
        "".join(
            f"{label} | {text}\n" for label, text in zip(vocabulary.labels[:12], vocabulary.texts[:12], strict=True)
        )
    )
    counts = count_build_work(monkeypatch)

    report = rebuild(
        settings.replace(vocabulary=smaller),
        SourceOptions(source="folder", images_dir=images),
        encoder=counting,
        progress=False,
    )
    assert report.carried == 0 and counts["terms_written"] == 12
    assert all(set(p["terms"]) <= set(vocabulary.labels[:12]) for p, _ in all_points(settings).values())


def test_added_and_removed_images_are_counted(setup):
    settings, images, counting, run = setup
    paths = make_folder(images)
    run()
    paths[0].unlink()
    paths[1].unlink()
    new = images / "Edgar Degas" / "work_new.jpg"
    new.write_bytes(jpeg_bytes(painting(4242)))

    report = run()
    assert (report.embedded, report.reused, report.removed) == (1, 10, 2)
    assert "removed 2 no longer in the source" in report.summary()
    assert set(all_points(settings)) == {point_id(images, p) for p in [*paths[2:], new]}


def test_a_renamed_file_reuses_its_vector(setup):
    settings, images, counting, run = setup
    paths = make_folder(images)
    run()
    vector = all_points(settings)[point_id(images, paths[3])][1]
    renamed = paths[3].with_name("renamed.jpg")
    paths[3].rename(renamed)

    report = run()
    assert (report.embedded, report.reused, report.removed) == (0, 12, 1)
    assert all_points(settings)[point_id(images, renamed)][1].tobytes() == vector.tobytes()


def test_a_changed_model_embeds_everything_and_says_so(setup, tmp_path):
    from artsearch.testing.clip_factory import build_random_clip

    settings, images, counting, run = setup
    make_folder(images)
    run()
    before = all_points(settings)
    other = CountingEncoder(
        Encoder(str(build_random_clip(tmp_path / "other-model", size="tiny", seed=1)), device="cpu", batch_size=8)
    )
    assert other.dim == counting.dim  # same vector size: only the cache key can tell them apart

    report = rebuild(settings, SourceOptions(source="folder", images_dir=images), encoder=other, progress=False)
    assert (report.embedded, report.reused, other.images) == (12, 0, 12)
    assert "The live build was made with" in report.summary() and "every image was embedded again" in report.summary()
    after = all_points(settings)
    assert all(not np.allclose(after[p][1], before[p][1]) for p in after)


def test_an_inference_path_is_part_of_the_key(setup, tiny_clip_path):
    settings, images, counting, run = setup
    make_folder(images)
    run()
    onnx = CountingEncoder(Encoder(tiny_clip_path, device="cpu", batch_size=8, inference="onnx", export_missing=True))
    assert onnx.inference == "onnx"
    report = rebuild(settings, SourceOptions(source="folder", images_dir=images), encoder=onnx, progress=False)
    assert (report.embedded, report.reused) == (12, 0)


def test_reembed_ignores_the_cache(setup):
    settings, images, counting, run = setup
    make_folder(images)
    run()
    report = run(reuse=False)
    assert (report.embedded, report.reused, counting.images) == (12, 0, 12)


def test_a_new_pixel_field_is_computed_for_every_image_without_embedding_again(setup, monkeypatch):
    settings, images, counting, run = setup
    make_folder(images)
    run()
    mean_red = pixels.PixelField("mean_red", 1, lambda data, image: round(float(np.asarray(image)[..., 0].mean()), 2))
    monkeypatch.setattr(pixels, "PIXEL_FIELDS", (*pixels.PIXEL_FIELDS, mean_red))

    report = run()
    assert (report.embedded, counting.images) == (0, 0)
    assert all(isinstance(p["mean_red"], float) for p, _ in all_points(settings).values())
    again = run()  # now cached with the vector: nothing is decoded or embedded
    assert (again.embedded, again.reused, counting.images) == (0, 12, 0)
    assert all("mean_red" in p for p, _ in all_points(settings).values())


def test_the_model_is_loaded_only_when_an_image_needs_embedding(tmp_path, tiny_clip_path, monkeypatch):
    """The CLI's path: no encoder passed in, so the rebuild decides whether to load one."""
    loads = []
    real = Encoder.from_settings

    def counting_load(settings, **kwargs):
        loads.append(settings.embedder_name)
        return real(settings, **kwargs)

    monkeypatch.setattr(Encoder, "from_settings", staticmethod(counting_load))
    images = tmp_path / "images"
    paths = make_folder(images)
    settings = test_settings(tmp_path, tiny_clip_path)
    options = SourceOptions(source="folder", images_dir=images)

    assert rebuild(settings, options, progress=False).embedded == 12 and len(loads) == 1
    report = rebuild(settings, options, progress=False)
    assert (report.embedded, report.reused, len(loads)) == (0, 12, 1)  # not loaded at all
    paths[0].write_bytes(jpeg_bytes(painting(777)))
    report = rebuild(settings, options, progress=False)
    assert (report.embedded, report.reused, len(loads)) == (1, 11, 2)  # loaded for the one changed image

    # The model's files change (a new version in the same folder): the record no longer holds, so it is loaded.
    config = Path(tiny_clip_path) / "config_sentence_transformers.json"
    original = config.read_text()
    try:
        config.write_text(original.replace("{", '{"note": "changed",', 1))
        report = rebuild(settings, options, progress=False)
    finally:
        config.write_text(original)
    assert len(loads) == 3 and report.embedded == 12  # another model fingerprint: a new key, nothing reused


# --- the cache is never trusted blindly ----------------------------------------------------------------------


def test_a_truncated_cache_is_set_aside_and_rebuilt(setup):
    settings, images, counting, run = setup
    make_folder(images)
    run()
    before = all_points(settings)
    path = settings.vector_cache_path
    for suffix in ("-wal", "-shm"):  # a cleanly closed cache has folded its log back in
        assert not Path(str(path) + suffix).exists()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    report = run()
    assert (report.embedded, report.reused, counting.images) == (12, 0, 12)
    assert "damaged" in report.summary() and path.with_name(path.name + ".damaged").exists()
    after = all_points(settings)
    assert all(np.allclose(after[p][1], before[p][1], atol=1e-6) for p in after)
    assert run().reused == 12  # the new cache works


def test_a_file_that_is_not_a_database_is_replaced(setup):
    settings, images, counting, run = setup
    make_folder(images)
    run()
    settings.vector_cache_path.write_bytes(b"not a database at all" * 100)
    report = run()
    assert (report.embedded, report.reused) == (12, 0) and "damaged" in report.summary()
    assert run().reused == 12


def built_then_tampered(setup, tamper) -> tuple[dict, list[Path], object]:
    """Build once, then change the cache's file behind its checksums with ``tamper(db)``; returns what the build
    held, the images, and ``tamper``'s result."""
    settings, images, _, run = setup
    paths = make_folder(images)
    run()
    before = all_points(settings)
    with sqlite3.connect(settings.vector_cache_path) as db:
        result = tamper(db)
    db.close()
    return before, paths, result


def forge_first_vector(db: sqlite3.Connection) -> bytes:
    (sha, blob), *_ = db.execute("SELECT sha256, vector FROM vectors ORDER BY sha256").fetchall()
    forged = (np.frombuffer(blob, "<f4")[::-1]).astype("<f4").tobytes()  # a valid-looking, wrong vector
    db.execute("UPDATE vectors SET vector = ? WHERE sha256 = ?", (forged, sha))
    return forged


def point_first_file_at_the_second_ones_content(db: sqlite3.Connection) -> None:
    rows = db.execute("SELECT origin, sha256 FROM files ORDER BY origin").fetchall()
    db.execute("UPDATE files SET sha256 = ? WHERE origin = ?", (rows[1][1], rows[0][0]))


def test_a_tampered_vector_row_is_detected_and_embedded_again(setup):
    settings, _, counting, run = setup
    before, paths, forged = built_then_tampered(setup, forge_first_vector)

    report = run()
    assert (report.embedded, report.reused, counting.images) == (1, 11, 1)
    after = all_points(settings)
    assert all(np.allclose(after[p][1], before[p][1], atol=1e-6) for p in after)
    assert not any(vector.tobytes() == forged for _, vector in after.values())
    assert len(after) == len(paths)


def test_a_tampered_file_hash_is_not_believed(setup):
    """A files row pointing an unchanged file at another image's content would copy the wrong vector."""
    settings, _, counting, run = setup
    before, paths, _ = built_then_tampered(setup, point_first_file_at_the_second_ones_content)

    report = run()
    assert report.embedded == 0  # the file is read and hashed again instead, and its own vector found
    after = all_points(settings)
    assert all(after[p][1].tobytes() == before[p][1].tobytes() for p in after)
    assert len(after) == len(paths)


def test_a_model_record_that_no_longer_holds_is_caught_when_the_model_loads(tmp_path, tiny_clip_path):
    """The cache's record of what a model setting loads is checked against the loaded model: a stale one (here
    forged) makes the rebuild start again with the real model, which still finds its own vectors."""
    import dataclasses
    import json

    from artsearch.rebuild import model_setting

    images = tmp_path / "images"
    paths = make_folder(images)
    settings = test_settings(tmp_path, tiny_clip_path)
    options = SourceOptions(source="folder", images_dir=images)
    rebuild(settings, options, progress=False)
    before = all_points(settings)
    with sqlite3.connect(settings.vector_cache_path) as db:
        (record,) = db.execute(
            "SELECT record FROM models WHERE setting = ?", (model_setting(settings, settings.model_name),)
        ).fetchone()
        forged = dataclasses.asdict(dataclasses.replace(_model_id(record), key="0" * 32))
        db.execute(
            "UPDATE models SET record = ? WHERE setting = ?",
            (json.dumps(forged), model_setting(settings, settings.model_name)),
        )
    db.close()
    paths[0].write_bytes(jpeg_bytes(painting(31337)))

    report = rebuild(settings, options, progress=False)
    assert (report.embedded, report.reused) == (1, 11)
    after = all_points(settings)
    assert all(after[p][1].tobytes() == before[p][1].tobytes() for p in after if p != point_id(images, paths[0]))


def _model_id(record: str):
    import json

    from artsearch.model.identity import ModelId

    return ModelId.from_json(json.loads(record))


def test_a_model_that_fails_to_load_when_first_needed_stops_the_run(tmp_path, tiny_clip_path, monkeypatch):
    """The model loads on a decode thread, for the first image that needs it: its failure is the run's one-line
    error, never a skipped image, and the live build stays."""
    from artsearch.errors import ModelLoadError

    images = tmp_path / "images"
    paths = make_folder(images)
    settings = test_settings(tmp_path, tiny_clip_path)
    options = SourceOptions(source="folder", images_dir=images)
    rebuild(settings, options, progress=False)
    live = read_pointer(settings)
    paths[0].write_bytes(jpeg_bytes(painting(4040)))

    def cannot_load(settings, **kwargs):  # what a model folder that went missing gives
        raise ModelLoadError("Could not load the CLIP model from the folder ...")

    monkeypatch.setattr(Encoder, "from_settings", staticmethod(cannot_load))
    with pytest.raises(ModelLoadError):
        rebuild(settings, options, progress=False)
    assert read_pointer(settings) == live and len(all_points(settings)) == len(paths)


def test_an_unchanged_rebuild_asks_the_cache_per_chunk_not_per_image(setup, monkeypatch):
    """The content hash and the vector of every image come from two queries per chunk of images, asked before the
    decode threads reach them: no query per image. The vectors are still the checked, bit-identical ones."""
    from artsearch.vector_cache import VectorCache

    settings, images, counting, run = setup
    make_folder(images)
    run()
    before = all_points(settings)
    calls = {"per_image": 0, "chunks": 0}

    def counted(name: str, kind: str) -> None:
        real = getattr(VectorCache, name)

        def call(self, *args):
            calls[kind] += 1
            return real(self, *args)

        monkeypatch.setattr(VectorCache, name, call)

    counted("content_hash", "per_image")
    counted("get", "per_image")
    counted("content_hashes", "chunks")
    counted("get_many", "chunks")

    report = run()
    assert (report.embedded, report.reused) == (0, 12)
    assert calls == {"per_image": 0, "chunks": 2}
    after = all_points(settings)
    assert all(after[p][1].tobytes() == before[p][1].tobytes() for p in before)
