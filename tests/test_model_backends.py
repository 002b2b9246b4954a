"""Fast inference paths (ONNX Runtime fp32/int8, torch bf16/int8) against the plain torch path.

Real models, real exports, real ONNX Runtime: a random tiny CLIP (and the trained tiny CLIP in
``models/tiny-clip-shapes`` when it exists). Rankings, not raw cosines, are compared: a random
model embeds every image to nearly the same vector, so a cosine near 1 proves nothing.
No timings are asserted here; ``benchmarks/`` measures speed.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from artsearch.errors import ConfigError
from artsearch.model import export as model_export
from artsearch.model.encoder import Encoder, export_model
from artsearch.model.locate import locate

ROOT = Path(__file__).resolve().parents[1]
TRAINED_TINY = ROOT / "models" / "tiny-clip-shapes"
FAST = ("onnx", "onnx-int8", "torch-bf16", "torch-int8")
TEXTS = [
    f"a {mood} painting of a {subject}"
    for mood in ("red", "blue", "dark", "bright", "calm")
    for subject in ("sea", "forest", "portrait", "city")
]


def painting(i: int, size: tuple[int, int] = (320, 256)) -> Image.Image:
    """A deterministic, varied image: smooth colour fields plus texture, different for every i."""
    rng = np.random.default_rng(1000 + i)
    w, h = size
    fields = [
        np.asarray(Image.fromarray(rng.normal(0, 1, (cells, cells)).astype(np.float32)).resize((w, h), Image.BICUBIC))
        for cells in (2, 3, 6)
        for _ in range(3)
    ]
    arr = np.stack([fields[c] * 70 + fields[3 + c] * 40 + fields[6 + c] * 20 for c in range(3)], -1)
    arr += rng.uniform(40, 215, 3)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    return [painting(i) for i in range(48)]


def copy_model(src: str | Path, dest: Path) -> str:
    """A copy of a model. Exports are keyed by a folder's name and content, so copies of one model made by
    different tests get names of their own (``tmp_path.name``) and never share an export."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("onnx"))
    return str(dest)


def onnx_folder(model: str | Path) -> Path:
    """Where a model's exports live: this test session's ARTSEARCH_CACHE_DIR (conftest), keyed by the model."""
    return model_export.export_folder(locate(str(model)))


def copy_with_export(exported: str, tmp_path: Path) -> tuple[str, Path]:
    """A private copy of an exported model with a private copy of its export; returns (model, export folder)."""
    model = copy_model(exported, tmp_path / tmp_path.name)
    shutil.copytree(onnx_folder(exported), onnx_folder(model))
    return model, onnx_folder(model)


def edit_manifest(folder: Path, **changes) -> dict:
    """Change keys of an export's manifest; returns the manifest as it was."""
    path = folder / model_export.MANIFEST
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, **changes}))
    return manifest


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and mtime: what an export must leave untouched."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def exported_tiny(tmp_path_factory: pytest.TempPathFactory, tiny_clip_path: str) -> str:
    """A private copy of the random tiny CLIP with both ONNX paths exported (into the session's export cache)."""
    path = copy_model(tiny_clip_path, tmp_path_factory.mktemp("fast") / "tiny")
    export_model(path, ["onnx", "onnx-int8"])
    return path


def top_k(vectors: np.ndarray, queries: np.ndarray, k: int, exclude_self: bool = False) -> np.ndarray:
    scores = queries @ vectors.T
    if exclude_self:
        np.fill_diagonal(scores, -np.inf)
    return np.argsort(-scores, axis=1)[:, :k]


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a, b, strict=True)]))


def centred(x: np.ndarray, mean: np.ndarray) -> np.ndarray:
    x = x - mean
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def compare(model: str, inference: str, images: list[Image.Image], texts: list[str]) -> dict[str, float]:
    """Ranking agreement of a fast path with torch fp32: image->image and text->image top-10 overlap."""
    ref = Encoder(model, device="cpu", batch_size=16)
    fast = Encoder(model, device="cpu", batch_size=16, inference=inference)
    assert fast.inference == inference
    ref_img, fast_img = ref.encode_images(images), fast.encode_images(images)
    ref_txt, fast_txt = ref.encode_texts(texts), fast.encode_texts(texts)
    assert fast_img.dtype == np.float32 and fast_img.shape == ref_img.shape
    assert np.allclose(np.linalg.norm(fast_img, axis=1), 1, atol=1e-4)
    mean = ref_img.mean(axis=0, keepdims=True)
    return {
        "image": overlap(top_k(ref_img, ref_img, 10, True), top_k(fast_img, fast_img, 10, True)),
        "text": overlap(top_k(ref_img, ref_txt, 10), top_k(fast_img, fast_txt, 10)),
        "centred_cosine": float(np.mean(np.sum(centred(ref_img, mean) * centred(fast_img, mean), axis=1))),
    }


@pytest.mark.parametrize("inference", FAST)
def test_fast_paths_rank_like_torch_on_the_random_tiny_model(exported_tiny, images, inference):
    result = compare(exported_tiny, inference, images, TEXTS)
    assert result["image"] >= 0.9, result
    assert result["text"] >= 0.9, result
    if inference == "onnx":  # same arithmetic in another engine: the same ranking
        assert result["image"] == result["text"] == 1.0, result
        assert result["centred_cosine"] > 0.9999, result


@pytest.fixture(scope="module")
def exported_trained(tmp_path_factory: pytest.TempPathFactory) -> str:
    if not (TRAINED_TINY / "modules.json").is_file():
        pytest.skip("models/tiny-clip-shapes is not there (scripts/train_tiny_clip.py makes it)")
    path = copy_model(TRAINED_TINY, tmp_path_factory.mktemp("fast") / "trained")
    export_model(path, ["onnx", "onnx-int8"])
    return path


@pytest.mark.parametrize("inference", FAST)
def test_fast_paths_rank_like_torch_on_the_trained_tiny_model(exported_trained, inference):
    colours = ("red", "green", "blue", "yellow", "purple", "orange")
    shapes = ("circle", "square", "triangle")
    texts = [f"a {c} {s}" for c in colours for s in shapes]
    images = [shape_image(i, colours, shapes) for i in range(60)]
    result = compare(exported_trained, inference, images, texts)
    assert result["image"] >= 0.9, result
    assert result["text"] >= 0.9, result


def shape_image(i: int, colours: tuple[str, ...], shapes: tuple[str, ...]) -> Image.Image:
    """A coloured shape on a grey background, drawn here so the test needs nothing but Pillow."""
    from PIL import ImageColor, ImageDraw

    rng = np.random.default_rng(i)
    img = Image.new("RGB", (224, 224), (128, 128, 128))
    draw = ImageDraw.Draw(img)
    colour = ImageColor.getrgb(colours[i % len(colours)])
    shape = shapes[(i // len(colours)) % len(shapes)]
    r = int(rng.integers(50, 90))
    cx, cy = (int(v) for v in rng.integers(r, 224 - r, 2))
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    elif shape == "square":
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=colour)
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    return img


def test_collated_single_image_features_equal_batch_preprocessing(shared_encoder, images):
    """The ingest preprocesses one image per decode thread and collates: same tensors as one batch."""
    batch = shared_encoder.preprocess_images(images[:5])
    collated = shared_encoder.collate_features([shared_encoder.preprocess_images([im]) for im in images[:5]])
    assert np.array_equal(batch["pixel_values"].numpy(), collated["pixel_values"].numpy())


# --- the export cache -------------------------------------------------------------------------------


def mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file()}


def test_second_load_reuses_the_export(exported_tiny, caplog):
    folder = onnx_folder(exported_tiny)
    before = mtimes(folder)
    assert {"vision.onnx", "text.onnx", "vision.int8.onnx", "text.int8.onnx", "manifest.json"} <= set(before)
    with caplog.at_level(logging.INFO, logger="artsearch"):
        encoder = Encoder(exported_tiny, device="cpu", inference="onnx-int8", export_missing=True)
        export_model(exported_tiny, ["onnx-int8"])
    assert encoder.inference == "onnx-int8"
    assert mtimes(folder) == before
    assert "exported" not in caplog.text


def test_missing_export_falls_back_to_torch_with_one_warning(tmp_path, tiny_clip_path, caplog):
    model = copy_model(tiny_clip_path, tmp_path / tmp_path.name)
    with caplog.at_level(logging.WARNING):
        encoder = Encoder(model, device="cpu", inference="onnx-int8")
    assert encoder.inference == "torch"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("artsearch")]
    assert len(warnings) == 1
    assert "python -m artsearch optimize" in warnings[0].getMessage()
    assert not (Path(model) / "onnx").exists() and not onnx_folder(model).exists()
    assert encoder.encode_texts(["still works"]).shape == (1, encoder.dim)


def test_corrupt_export_falls_back_or_is_exported_again(tmp_path, exported_tiny, images, caplog):
    model, folder = copy_with_export(exported_tiny, tmp_path)
    vision = folder / "vision.onnx"
    vision.write_bytes(os.urandom(vision.stat().st_size))  # same size: only ONNX Runtime can tell
    with caplog.at_level(logging.WARNING):
        assert Encoder(model, device="cpu", inference="onnx").inference == "torch"
    assert "could not load" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="artsearch"):
        fixed = Encoder(model, device="cpu", inference="onnx", export_missing=True)
    assert fixed.inference == "onnx"
    assert "exporting it now" in caplog.text
    reference = Encoder(model, device="cpu")
    assert np.allclose(fixed.encode_images(images[:4]), reference.encode_images(images[:4]), atol=1e-4)


def test_truncated_or_stale_export_is_not_used(tmp_path, exported_tiny, caplog):
    model, folder = copy_with_export(exported_tiny, tmp_path)
    text = folder / "text.int8.onnx"
    text.write_bytes(text.read_bytes()[:1000])
    with caplog.at_level(logging.WARNING):
        assert Encoder(model, device="cpu", inference="onnx-int8").inference == "torch"
    assert "wrong size" in caplog.text
    caplog.clear()
    # The fp32 files are intact, but the model changed since they were exported: its content key changed.
    (Path(model) / "config.json").write_text((Path(model) / "config.json").read_text() + "\n")
    with caplog.at_level(logging.WARNING):
        assert Encoder(model, device="cpu", inference="onnx").inference == "torch"
    assert "no ONNX export" in caplog.text


def test_an_export_made_from_other_files_under_the_same_key_is_not_used(tmp_path, exported_tiny, caplog):
    """The manifest's fingerprint guards the key: files copied in from another model are refused."""
    model, folder = copy_with_export(exported_tiny, tmp_path)
    edit_manifest(folder, fingerprint="0" * 64)
    with caplog.at_level(logging.WARNING):
        assert Encoder(model, device="cpu", inference="onnx").inference == "torch"
    assert "different model" in caplog.text


def test_export_from_an_older_artsearch_is_made_again(tmp_path, exported_tiny, caplog):
    """An upgrade that changes what is exported (here: which ops are quantised) never serves the old graphs."""
    model, folder = copy_with_export(exported_tiny, tmp_path)
    manifest = edit_manifest(folder, format=model_export._FORMAT - 1)
    with caplog.at_level(logging.WARNING):
        assert Encoder(model, device="cpu", inference="onnx-int8").inference == "torch"
    assert "artsearch version" in caplog.text
    assert Encoder(model, device="cpu", inference="onnx-int8", export_missing=True).inference == "onnx-int8"
    assert json.loads((folder / model_export.MANIFEST).read_text())["format"] == manifest["format"]


def test_export_prints_no_advice_meant_for_static_quantisation(tmp_path, tiny_clip_path, caplog):
    model = copy_model(tiny_clip_path, tmp_path / tmp_path.name)
    with caplog.at_level(logging.WARNING):
        export_model(model, ["onnx-int8"])
    assert Encoder(model, device="cpu", inference="onnx-int8").inference == "onnx-int8"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def test_int8_quantises_every_weight_matmul_and_keeps_the_patch_conv_float(exported_tiny):
    """ConvInteger is a slow generic kernel and quantising raw pixels costs fidelity: the patch Conv stays fp32."""
    import onnx

    folder = onnx_folder(exported_tiny)
    for tower in ("vision", "text"):
        fp32 = onnx.load(str(folder / f"{tower}.onnx"))
        weights = {init.name for init in fp32.graph.initializer}
        weight_matmuls = [n for n in fp32.graph.node if n.op_type == "MatMul" and set(n.input) & weights]
        int8 = [n.op_type for n in onnx.load(str(folder / f"{tower}.int8.onnx")).graph.node]
        assert weight_matmuls and int8.count("MatMulInteger") == len(weight_matmuls), tower
        assert "ConvInteger" not in int8
        assert int8.count("Conv") == (1 if tower == "vision" else 0)


def test_an_export_never_writes_into_the_model_folder(tmp_path, tiny_clip_path):
    """Exports go to ARTSEARCH_CACHE_DIR, keyed by the folder's content: the model folder stays as it was."""
    model = Path(copy_model(tiny_clip_path, tmp_path / tmp_path.name))
    before = listing(model)
    export_model(str(model), ["onnx"], cache_dir=tmp_path / "cache")
    assert listing(model) == before
    assert sorted(p.name for p in (tmp_path / "cache" / "onnx").iterdir()) == [locate(str(model)).export_key().name]
    assert Encoder(str(model), device="cpu", inference="onnx", cache_dir=tmp_path / "cache").inference == "onnx"


def test_the_shipped_model_folder_stays_small_and_complete_after_an_export(tmp_path):
    """What a newcomer does with the README: export models/tiny-clip-shapes itself. Before the fix this wrote
    models/tiny-clip-shapes/onnx/ and made tests/test_testing_synthetic.py::test_model_folder_is_small_and_complete fail."""
    if not (TRAINED_TINY / "modules.json").is_file():
        pytest.skip("models/tiny-clip-shapes is not there (scripts/train_tiny_clip.py makes it)")
    before = listing(TRAINED_TINY)
    export_model(str(TRAINED_TINY), ["onnx-int8"], cache_dir=tmp_path / "cache")
    assert listing(TRAINED_TINY) == before
    assert (model_export.export_folder(locate(str(TRAINED_TINY)), tmp_path / "cache") / "text.int8.onnx").is_file()


def test_a_read_only_model_folder_gets_its_fast_path(tmp_path, tiny_clip_path):
    """A model on a read-only filesystem (a shared or packaged model) is exported to the cache and runs fast."""
    mount = tmp_path / "ro"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        model = copy_model(tiny_clip_path, mount / "model")
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True, capture_output=True)
        with pytest.raises(OSError):
            (mount / "model" / "probe").write_text("x")  # really read-only, even for root
        encoder = Encoder(model, device="cpu", inference="onnx-int8", export_missing=True, cache_dir=tmp_path / "c")
        assert encoder.inference == "onnx-int8"
        assert (model_export.export_folder(locate(model), tmp_path / "c") / "vision.int8.onnx").is_file()
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_an_export_that_cannot_be_written_is_one_line_and_the_rebuild_falls_back(tmp_path, tiny_clip_path, caplog):
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be")
    model = copy_model(tiny_clip_path, tmp_path / tmp_path.name)
    with pytest.raises(model_export.CacheError, match="Cannot write the ONNX export") as err:
        export_model(model, ["onnx"], cache_dir=blocked)
    assert "\n" not in str(err.value) and "ARTSEARCH_CACHE_DIR" in str(err.value)
    with caplog.at_level(logging.WARNING):
        encoder = Encoder(model, device="cpu", inference="onnx", export_missing=True, cache_dir=blocked)
    assert encoder.inference == "torch" and "Cannot write the ONNX export" in caplog.text


def test_unknown_inference_is_a_config_error(tiny_clip_path):
    with pytest.raises(ConfigError, match="onnx-int8"):
        Encoder(tiny_clip_path, device="cpu", inference="tensorrt")


# --- ingest with a fast path ------------------------------------------------------------------------------


def jpeg(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.mark.parametrize("inference", ["onnx", "onnx-int8"])
def test_ingest_with_a_fast_path_finds_what_torch_finds(tmp_path, exported_tiny, images, inference):
    from artsearch.index.read import VectorIndex
    from artsearch.index.write import IndexBuilder
    from artsearch.ingest import run_ingest
    from artsearch.sources.folder import FolderSource
    from artsearch.storage.local import LocalStorage
    from tests.support.indexes import test_settings

    folder = tmp_path / "images" / "Some Artist"
    folder.mkdir(parents=True)
    for i, image in enumerate(images[:30]):
        (folder / f"work_{i:02d}.jpg").write_bytes(jpeg(image))
    results = {}
    for path in ("torch", inference):
        settings = test_settings(tmp_path / path, exported_tiny, batch_size=8)
        encoder = Encoder(exported_tiny, device="cpu", batch_size=8, inference=path)
        builder = IndexBuilder.start_build(settings, encoder.dim)
        try:
            source = FolderSource(tmp_path / "images")
            report = run_ingest(
                source,
                settings=settings,
                encoder=encoder,
                storage=LocalStorage(tmp_path / f"store-{path}"),
                builder=builder,
                progress=False,
            )
            builder.publish()
        finally:
            builder.close()
        assert report.indexed == 30 and not report.skipped
        index = VectorIndex(settings)
        reference = Encoder(exported_tiny, device="cpu")  # the same query vectors for both collections
        queries = list(reference.encode_texts(TEXTS[:6])) + list(reference.encode_images(images[30:36]))
        results[path] = [[str(p.id) for p in index.query(q, limit=5)] for q in queries]
        index.close()
    same = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(results["torch"], results[inference], strict=True)])
    assert same >= (1.0 if inference == "onnx" else 0.8), (same, results)
