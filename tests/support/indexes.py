"""Indexes for tests: settings that read nothing from the developer, copies of the session index, and small
indexes built through the real rebuild."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from tests.support.datasets import jpeg_bytes, painting


def test_settings(root, model_path: str, **overrides):
    """Settings for a test: nothing from the developer's secrets or environment leaks in."""
    from artsearch.config import load_settings

    root = Path(root)
    values = dict(
        qdrant_path=root / "qdrant",
        # ARTSEARCH_TEST_ENGINE runs the whole suite on one embedded engine ("edge" or "local").
        embedded_engine=os.environ.get("ARTSEARCH_TEST_ENGINE", "edge"),
        # ARTSEARCH_TEST_INFERENCE runs it on one inference path (the fast paths have their own tests).
        inference=os.environ.get("ARTSEARCH_TEST_INFERENCE", "torch"),
        data_dir=root / "data",
        embedder_name=model_path,
        device="cpu",
        batch_size=8,
    )
    values.update(overrides)
    return load_settings(secrets={}, env={}, **values)


test_settings.__test__ = False  # a helper, not a test (pytest would collect it where it is imported)


def copy_index(kaggle_index, root):
    """A private copy of the session index (data and Qdrant) under ``root``: for tests that change it, or
    whose app or server process holds its folder open. Returns (settings, layout)."""
    settings, layout, _ = kaggle_index
    root = Path(root)
    shutil.copytree(settings.data_dir, root / "data")
    shutil.copytree(settings.qdrant_path, root / "qdrant")
    return test_settings(root, settings.embedder_name), layout


def all_payloads(settings) -> list[dict]:
    """Every indexed point's payload, with its id as ``_id``, read through a VectorIndex of its own."""
    from artsearch.index.read import VectorIndex

    index = VectorIndex(settings)
    try:
        records = index.scroll(limit=10_000)
        return [dict(r.payload, _id=str(r.id)) for r in records]
    finally:
        index.close()


def all_points(settings) -> dict[str, tuple[dict, np.ndarray]]:
    """Every indexed point: id -> (payload, float32 vector), read through a VectorIndex of its own."""
    from artsearch.index.read import VectorIndex

    index = VectorIndex(settings)
    out = {}
    try:
        offset = None
        while True:
            records, offset = index.scroll_page(limit=1000, offset=offset, with_vectors=True)
            out.update((str(r.id), (dict(r.payload), np.asarray(r.vector, dtype=np.float32))) for r in records)
            if offset is None:
                return out
    finally:
        index.close()


# --- near-duplicates: one picture and its copies -----------------------------------------------------------


def copies_of(img: Image.Image) -> dict[str, bytes]:
    """A resized, a re-compressed and a cropped copy of ``img``, as JPEG bytes."""
    w, h = img.size
    c = int(w * 0.04), int(h * 0.04)
    return {
        "resized": jpeg_bytes(img.resize((w // 2, h // 2))),
        "recompressed": _jpeg(img, 30),
        "cropped": jpeg_bytes(img.crop((c[0], c[1], w - c[0], h - c[1]))),
    }


def _jpeg(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def build_dupes_index(root: Path, model: str, encoder):
    """A folder index: one picture with three copies (each under another 'artist'), and six distinct pictures.

    Returns (settings, path of the original picture)."""
    from artsearch.rebuild import rebuild
    from artsearch.sources import SourceOptions

    images = root / "images"
    original = painting(4242, (400, 300))
    (images / "Original").mkdir(parents=True)
    (images / "Original" / "sunset.jpg").write_bytes(jpeg_bytes(original))
    for name, data in copies_of(original).items():
        (images / f"Copyist {name}").mkdir()
        (images / f"Copyist {name}" / f"sunset_{name}.jpg").write_bytes(data)
    (images / "Others").mkdir()
    for seed in range(6):
        (images / "Others" / f"other_{seed}.jpg").write_bytes(jpeg_bytes(painting(5000 + seed, (400, 300))))
    settings = test_settings(root, model)
    rebuild(settings, SourceOptions(source="folder", images_dir=images), encoder=encoder, progress=False)
    return settings, images / "Original" / "sunset.jpg"


# --- random collections built through the real write path, and fingerprints of their files --------------------


def build_random_index(settings, n: int, dim: int, seed: int = 0, *, ids: list[str] | None = None) -> dict:
    """Publish a collection of ``n`` random unit vectors through IndexBuilder, the way a rebuild does (upserts,
    then payloads set in batches as the map does, then publish). Returns {id: (vector, payload)}."""
    import uuid

    import numpy as np

    from artsearch.index.write import IndexBuilder

    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = ids or [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}/{i}")) for i in range(n)]
    payloads = [
        {"artwork_id": ids[i], "title": f"Work {i}", "artist": f"Artist {i % 7}", "genre": "Impressionism"}
        for i in range(n)
    ]
    builder = IndexBuilder.start_build(settings, dim, resume=False)
    try:
        for start in range(0, n, 500):
            builder.upsert(ids[start : start + 500], vectors[start : start + 500], payloads[start : start + 500])
        builder.set_payloads({i: {"x": 0.5, "y": 0.25} for i in ids})
        builder.publish()
    finally:
        builder.close()
    return {i: (v, dict(p, x=0.5, y=0.25)) for i, v, p in zip(ids, vectors, payloads, strict=True)}


def file_digests(folder) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative path."""
    import hashlib

    folder = Path(folder)
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def collection_view(client, name: str, dim: int, query_seed: int = 7) -> dict:
    """What a client sees in a collection: its count, the top 10 for a fixed random query, and a SHA-256 of every
    point (id, payload, float32 vector bytes). Two clients seeing the same data give the same view."""
    import hashlib
    import json

    import numpy as np

    query = np.random.default_rng(query_seed).normal(size=dim).astype(np.float32)
    top = [str(p.id) for p in client.query_points(name, query=query.tolist(), limit=10).points]
    points, offset = [], None
    while True:
        page, offset = client.scroll(name, limit=1000, offset=offset, with_payload=True, with_vectors=True)
        points += page
        if offset is None:
            break
    seen = hashlib.sha256()
    for p in sorted(points, key=lambda p: str(p.id)):
        seen.update(json.dumps([str(p.id), p.payload], sort_keys=True).encode())
        seen.update(np.asarray(p.vector, dtype=np.float32).tobytes())
    return {"count": client.count(name, exact=True).count, "top": top, "digest": seen.hexdigest()}


# --- the trained tiny CLIP over a held-out synthetic collection -------------------------------------------

MODELS = Path(__file__).resolve().parents[2] / "models"
TRAINED_CLIP = str(MODELS / "tiny-clip-shapes")
STUDENT = str(MODELS / "tiny-clip-shapes-multilingual")


def build_shapes_index(root: Path, n: int, seed: int, encoder, *, keep=None, **overrides):
    """A folder index of ``n`` synthetic shapes (seed ``seed``; one "artist" per colour x shape, such as
    "red circle"), built with ``encoder`` (the trained tiny CLIP) through the real rebuild; ``keep`` (a
    predicate on a written sample) leaves the others out of the collection.

    Returns (settings, written samples)."""
    from artsearch.rebuild import rebuild
    from artsearch.sources import SourceOptions
    from artsearch.testing.synthetic import write_dataset

    root = Path(root)
    written = write_dataset(root / "shapes", n, seed=seed, image_format="jpg")
    if keep is not None:
        for sample in [w for w in written if not keep(w)]:
            sample.path.unlink()
        written = [w for w in written if keep(w)]
    settings = test_settings(root, TRAINED_CLIP, batch_size=32, **overrides)
    report = rebuild(
        settings, SourceOptions(source="folder", images_dir=root / "shapes"), encoder=encoder, progress=False
    )
    assert report.indexed == len(written) and not report.skipped, report.summary()
    return settings, written


SHAPES_VOCABULARY = MODELS.parent / "artsearch" / "testing" / "assets" / "shapes_vocabulary.txt"
#: The colours and shapes of :func:`build_partial_shapes_index`; the others are what it has nothing of.
PRESENT_COLOURS = ("red", "green", "blue")
PRESENT_SHAPES = ("circle", "square", "triangle")


def build_partial_shapes_index(root: Path, encoder, n: int = 900, seed: int = 4242, **overrides):
    """A shapes index holding only red, green and blue circles, squares and triangles (about n * 0.3 images), with
    the shapes vocabulary; yellow, orange and purple stars and crosses are what it has nothing of."""
    return build_shapes_index(
        root,
        n,
        seed,
        encoder,
        keep=lambda s: s.colour in PRESENT_COLOURS and s.shape in PRESENT_SHAPES,
        vocabulary=SHAPES_VOCABULARY,
        **overrides,
    )
