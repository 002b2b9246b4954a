"""The duplicates report: hash bands find every pair the page's rule would fold, and ``python -m artsearch
duplicates`` lists the planted groups of a real collection (resized, re-compressed, cropped copies) and nothing
else."""

from __future__ import annotations

import csv
import io
import json
import uuid

import numpy as np
import pytest

from artsearch import duplicates
from artsearch.dedupe import HASH_BITS, HASH_DISTANCE, hamming
from tests.support.cli import run_cli
from tests.support.datasets import jpeg_bytes, painting
from tests.support.indexes import copies_of, test_settings


def random_hashes(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [bytes(rng.integers(0, 256, HASH_BITS // 8, dtype=np.uint8)).hex() for _ in range(n)]


def flipped(value: str, bits: int, rng: np.random.Generator) -> str:
    number = int(value, 16)
    for b in rng.choice(HASH_BITS, bits, replace=False):
        number ^= 1 << int(b)
    return f"{number:0{HASH_BITS // 4}x}"


def test_hash_bands_find_exactly_the_pairs_within_the_distance():
    """Against every pair compared by brute force: the bands miss no pair within HASH_DISTANCE bits and keep none
    farther, including pairs at exactly the distance and just past it."""
    rng = np.random.default_rng(1)
    hashes = random_hashes(300, seed=2)
    for i in range(60):  # near copies at every distance from 0 to 35 bits
        hashes.append(flipped(hashes[i], i % 36, rng))
    for offset in range(0, 15, 3):  # the worst case: 25 flips spread so that they touch nearly every band
        number = int(hashes[100 + offset], 16)
        for k in range(HASH_DISTANCE):
            number ^= 1 << (HASH_BITS * k // HASH_DISTANCE + offset)
        hashes.append(f"{number:0{HASH_BITS // 4}x}")
    found = {tuple(p) for p in duplicates.close_pairs(hashes).tolist()}
    expected = {
        (i, j)
        for i in range(len(hashes))
        for j in range(i + 1, len(hashes))
        if hamming(hashes[i], hashes[j]) <= HASH_DISTANCE
    }
    assert found == expected
    assert len(expected) >= 40  # the planted copies within 25 bits are there to be found


def test_groups_compare_with_the_kept_copy_so_a_chain_does_not_merge_distinct_pictures():
    """a-b 20 bits, b-c 20 bits, a-c 40 bits: one component, but c is not a copy of a (the page's rule)."""
    rng = np.random.default_rng(3)
    a = random_hashes(1, seed=4)[0]
    flips = rng.choice(HASH_BITS, 40, replace=False)

    def flip(value: str, which) -> str:
        number = int(value, 16)
        for b in which:
            number ^= 1 << int(b)
        return f"{number:0{HASH_BITS // 4}x}"

    b, c = flip(a, flips[:20]), flip(a, flips)
    members = [
        duplicates.Member("a", width=100, height=100, phash=a),
        duplicates.Member("b", width=50, height=50, phash=b),
        duplicates.Member("c", width=40, height=40, phash=c),
    ]
    pairs = duplicates.close_pairs([a, b, c]).tolist()
    assert sorted(map(tuple, pairs)) == [(0, 1), (1, 2)]
    groups = duplicates.group_members(members, pairs)
    assert [[m.artwork_id for m in g.members] for g in groups] == [["a", "b"]]
    assert groups[0].members[1].bits == 20


@pytest.fixture(scope="module")
def planted(tmp_path_factory, tiny_clip_path, shared_encoder):
    """A folder collection: 5 pictures each with a resized, a re-compressed and a cropped copy (some copies
    under another artist), one picture scanned twice, and 14 distinct pictures. Returns (settings, planted
    groups as sets of file stems)."""
    from artsearch.rebuild import rebuild
    from artsearch.sources import SourceOptions

    root = tmp_path_factory.mktemp("planted")
    images = root / "images"
    groups: list[set[str]] = []
    for n in range(5):
        original = painting(7000 + n, (400, 300))
        folder = images / f"Painter {n}"
        folder.mkdir(parents=True)
        (folder / f"work{n}.jpg").write_bytes(jpeg_bytes(original))
        stems = {f"work{n}"}
        for kind, data in copies_of(original).items():
            where = images / "Copyist" if kind == "cropped" else folder
            where.mkdir(exist_ok=True)
            (where / f"work{n}_{kind}.jpg").write_bytes(data)
            stems.add(f"work{n}_{kind}")
        groups.append(stems)
    twice = painting(7100, (300, 300))
    (images / "Scanner").mkdir()
    (images / "Scanner" / "scan_a.png").write_bytes(_png(twice))
    (images / "Scanner" / "scan_b.jpg").write_bytes(jpeg_bytes(twice))
    groups.append({"scan_a", "scan_b"})
    (images / "Others").mkdir()
    for seed in range(14):
        (images / "Others" / f"distinct{seed}.jpg").write_bytes(jpeg_bytes(painting(8000 + seed, (400, 300))))
    settings = test_settings(root, tiny_clip_path)
    rebuild(settings, SourceOptions(source="folder", images_dir=images), encoder=shared_encoder, progress=False)
    return settings, groups


def _png(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _stems(settings) -> dict[str, str]:
    from tests.support.indexes import all_payloads

    return {p["_id"]: p["image_key"].rsplit("/", 1)[-1].rsplit(".", 1)[0] for p in all_payloads(settings)}


def test_the_command_lists_every_planted_group_and_groups_nothing_else(planted):
    settings, groups = planted
    result = run_cli(["-m", "artsearch", "duplicates", "--json"], settings)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    stems = _stems(settings)
    found = [{stems[m["artwork_id"]] for m in g["members"]} for g in report["groups"]]
    assert sorted(map(sorted, found)) == sorted(map(sorted, groups))
    assert report["count"] == len(groups) == 6 and report["artworks"] == 5 * 4 + 2 + 14
    assert report["redundant"] == 5 * 3 + 1
    # The kept copy is the largest: the original (or its same-size re-compression), never a half-size or cropped copy.
    kept = {stems[g["members"][0]["artwork_id"]] for g in report["groups"]}
    assert not [k for k in kept if k.endswith(("_resized", "_cropped"))]


def test_the_table_and_the_csv_say_the_same(planted):
    settings, groups = planted
    table = run_cli(["-m", "artsearch", "duplicates"], settings)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == "6 groups of near-duplicates among 36 artworks: 22 artworks, 16 of them copies of a kept one."
    assert sum(line.strip().startswith("keep ") for line in lines) == 6
    assert sum(line.strip().startswith("copy ") for line in lines) == 16
    rows = list(csv.DictReader(io.StringIO(run_cli(["-m", "artsearch", "duplicates", "--csv"], settings).stdout)))
    assert len(rows) == 22 and {r["group"] for r in rows} == {str(n) for n in range(1, 7)}
    stems = _stems(settings)
    by_group: dict[str, set[str]] = {}
    for r in rows:
        by_group.setdefault(r["group"], set()).add(stems[r["artwork_id"]])
    assert sorted(map(sorted, by_group.values())) == sorted(map(sorted, groups))


def test_points_without_a_hash_are_grouped_by_the_cosine_of_their_vectors(tmp_path, tiny_clip_path):
    """An index built before hashes existed: copies are judged by the vectors (cosine >= 0.95), in Qdrant."""
    from artsearch.index.write import IndexBuilder

    settings = test_settings(tmp_path, tiny_clip_path)
    rng = np.random.default_rng(5)
    base = rng.normal(size=(6, 16)).astype(np.float32)
    near = base[:2] + 0.05 * rng.normal(size=(2, 16)).astype(np.float32)  # cosine about 0.99 to its original
    vectors = np.concatenate([base, near])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"old/{i}")) for i in range(len(vectors))]
    payloads = [{"title": f"Work {i}", "artist": "Old"} for i in range(len(vectors))]
    builder = IndexBuilder.start_build(settings, 16, resume=False)
    try:
        builder.upsert(ids, vectors, payloads)
        builder.publish()
    finally:
        builder.close()
    report = json.loads(run_cli(["-m", "artsearch", "duplicates", "--json"], settings).stdout)
    found = sorted(sorted(m["title"] for m in g["members"]) for g in report["groups"])
    assert found == [["Work 0", "Work 6"], ["Work 1", "Work 7"]]


def test_an_empty_or_missing_index_is_one_line(tmp_path, tiny_clip_path):
    from tests.support.cli import one_line_error

    settings = test_settings(tmp_path, tiny_clip_path)
    line = one_line_error(run_cli(["-m", "artsearch", "duplicates"], settings))
    assert "initialize_db.py" in line
