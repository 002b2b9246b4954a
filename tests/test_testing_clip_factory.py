"""The offline CLIP stand-in: real tokenizer, loads with plain SentenceTransformer, encodes both modalities."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from artsearch.testing.clip_factory import (
    CONTEXT_LENGTH,
    FULL_VOCAB_SIZE,
    build_clip_tokenizer,
    build_random_clip,
    clip_config,
)

# Everything here is local; never let a load wander off to the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def tiny_model(tiny_clip_path: str):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(tiny_clip_path, device="cpu")


def _projection_dim(path: str) -> int:
    return int(json.loads((Path(path) / "config.json").read_text())["projection_dim"])


def test_full_tokenizer_is_real_clip_bpe() -> None:
    tok = build_clip_tokenizer()
    assert len(tok) == FULL_VOCAB_SIZE == 49408
    ids = tok("a gloomy landscape")["input_ids"]
    assert len(set(ids)) > 3
    # Known ids of the real CLIP tokenizer.
    assert ids[0] == 49406 and ids[-1] == 49407
    assert ids[1:-1] == [320, 32199, 5727]


def test_truncated_tokenizer_still_tokenizes_anything() -> None:
    tok = build_clip_tokenizer(vocab_size=1000)
    assert len(tok) == 1000
    text = "a gloomy landscape, Ünïcødé 🎨 and 12345"
    ids = tok(text)["input_ids"]
    assert max(ids) < 1000
    assert len(set(ids)) > 3
    assert tok.decode(ids, skip_special_tokens=True).replace(" ", "") == text.lower().replace(" ", "")


def test_tokenizer_truncates_to_context_length() -> None:
    tok = build_clip_tokenizer(num_merges=2000)
    assert len(tok("word " * 500, truncation=True)["input_ids"]) == CONTEXT_LENGTH


def test_base_config_is_clip_defaults() -> None:
    from transformers import CLIPConfig

    assert clip_config("base").to_dict() == CLIPConfig().to_dict()
    with pytest.raises(ValueError):
        clip_config("huge")


def test_projection_dim_is_not_512(tiny_clip_path: str, tiny_model) -> None:
    dim = _projection_dim(tiny_clip_path)
    assert dim != 512
    assert tiny_model.get_embedding_dimension() == dim


def test_images_encode_to_projection_dim_and_differ(tiny_clip_path: str, tiny_model) -> None:
    rng = np.random.default_rng(0)
    images = [
        Image.new("RGB", (300, 200), (255, 0, 0)),
        Image.new("RGB", (120, 160), (0, 0, 255)),
        Image.fromarray(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)),
    ]
    emb = tiny_model.encode(images)
    assert emb.shape == (3, _projection_dim(tiny_clip_path))
    assert emb.dtype == np.float32
    assert np.isfinite(emb).all()
    for i in range(3):
        for j in range(i + 1, 3):
            assert not np.allclose(emb[i], emb[j], atol=1e-4)


def test_texts_encode_including_very_long_text(tiny_clip_path: str, tiny_model) -> None:
    texts = ["a gloomy landscape", "a portrait of a woman", "x" * 10_000, "word " * 2_000]
    emb = tiny_model.encode(texts)
    assert emb.shape == (4, _projection_dim(tiny_clip_path))
    assert np.isfinite(emb).all()
    assert not np.allclose(emb[0], emb[1], atol=1e-4)


def test_truncated_vocab_model_pools_text_at_eos(tmp_path: Path) -> None:
    """With a truncated vocabulary the EOS id changes; pooling at the wrong position makes all texts equal."""
    from sentence_transformers import SentenceTransformer

    path = build_random_clip(tmp_path / "small_vocab", size="tiny", seed=1, vocab_size=1000)
    config = json.loads((path / "config.json").read_text())["text_config"]
    assert config["vocab_size"] == 1000 and config["eos_token_id"] == 999
    emb = SentenceTransformer(str(path), device="cpu").encode(["a gloomy landscape", "a portrait of a woman"])
    assert not np.allclose(emb[0], emb[1], atol=1e-4)


def test_build_is_deterministic(tmp_path: Path, tiny_clip_path: str) -> None:
    from safetensors.numpy import load_file

    again = build_random_clip(tmp_path / "again", size="tiny", seed=0)
    a = load_file(str(Path(tiny_clip_path) / "model.safetensors"))
    b = load_file(str(again / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    modules = json.loads((again / "modules.json").read_text())
    assert modules[0]["type"] == "sentence_transformers.models.CLIPModel"
