"""A student built by the factory has the real multilingual student's files and loads through the same code."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from artsearch.testing import glossary, multilingual, student_factory

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def caption_texts() -> list[str]:
    train, _held_out = multilingual.split_combinations()
    return sorted({p.text for p in multilingual.training_pairs(train)})


@pytest.fixture(scope="module")
def tokenizer(caption_texts):
    return student_factory.build_wordpiece_tokenizer(caption_texts)


@pytest.fixture(scope="module")
def saved_student(tokenizer, tmp_path_factory) -> Path:
    model = student_factory.build_student(tokenizer, 48, seed=3)
    return student_factory.save_student(model, tmp_path_factory.mktemp("student") / "tiny-student")


def test_every_caption_word_is_one_token_lower_cased_with_its_accents(tokenizer, caption_texts) -> None:
    split = tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str
    for text in caption_texts:
        assert tokenizer.tokenize(text) == [word.lower() for word, _span in split(text)], text
    assert tokenizer.tokenize("Une ÉTOILE verte, sur un fond Blanc!") == [
        "une", "étoile", "verte", ",", "sur", "un", "fond", "blanc", "!"
    ]  # fmt: skip
    assert tokenizer.tokenize("ein großes Quadrat auf weißem Hintergrund") == [
        "ein", "großes", "quadrat", "auf", "weißem", "hintergrund"
    ]  # fmt: skip


def test_unseen_words_split_into_pieces_instead_of_unknown(tokenizer) -> None:
    tokens = tokenizer.tokenize("un hexagone rouge, ein Sechseck")
    assert "[UNK]" not in tokens
    assert tokens[:2] == ["un", "h"] and "##x" in tokens and "rouge" in tokens


def test_the_vocabulary_is_the_same_on_every_build(caption_texts) -> None:
    """The WordPiece trainer breaks ties in hash order; the factory must not let that show."""
    vocabularies = [student_factory.build_wordpiece_tokenizer(caption_texts).get_vocab() for _ in range(3)]
    assert vocabularies[0] == vocabularies[1] == vocabularies[2]
    vocab = vocabularies[0]
    assert sorted(vocab, key=vocab.__getitem__)[:5] == list(student_factory.SPECIAL_TOKENS)


def test_saved_student_has_the_real_students_modules_and_configs(saved_student: Path) -> None:
    modules = json.loads((saved_student / "modules.json").read_text())
    assert [(m["path"], m["type"]) for m in modules] == [
        ("", "sentence_transformers.models.Transformer"),
        ("1_Pooling", "sentence_transformers.models.Pooling"),
        ("2_Dense", "sentence_transformers.models.Dense"),
    ]
    assert json.loads((saved_student / "sentence_bert_config.json").read_text()) == {
        "max_seq_length": 128,
        "do_lower_case": False,
    }
    pooling = json.loads((saved_student / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] is True and pooling["pooling_mode_cls_token"] is False
    assert json.loads((saved_student / "2_Dense" / "config.json").read_text()) == {
        "in_features": 96,
        "out_features": 48,
        "bias": False,
        "activation_function": "torch.nn.modules.linear.Identity",
    }
    assert json.loads((saved_student / "config.json").read_text())["model_type"] == "distilbert"
    assert sorted(p.name for p in saved_student.rglob("*.safetensors")) == ["model.safetensors"] * 2
    assert not list(saved_student.rglob("*.bin")) and not list(saved_student.rglob("*.pt"))


def test_saved_student_loads_offline_and_truncates_at_128_tokens(saved_student: Path) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(saved_student), device="cpu")
    assert model.max_seq_length == 128
    assert model.get_embedding_dimension() == 48
    long_text = " ".join(glossary.make_caption("red", "circle", "white", "fr") for _ in range(60))  # ~480 tokens
    features = model.preprocess([long_text, "un cercle rouge"])
    assert features["input_ids"].shape == (2, 128)
    vectors = model.encode([long_text, "un cercle rouge", "un cercle bleu"])
    assert vectors.shape == (3, 48) and vectors.dtype == np.float32
    assert not np.allclose(vectors[1], vectors[2])  # a random student still tells texts apart


def test_students_are_reproducible_from_their_seed(tokenizer) -> None:
    import torch

    a, b, c = (student_factory.build_student(tokenizer, 16, seed=s) for s in (5, 5, 6))
    weights = [torch.cat([p.detach().flatten() for p in m.parameters()]) for m in (a, b, c)]
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])
