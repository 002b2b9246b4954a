"""Build a tiny multilingual text student offline, laid out like ``clip-ViT-B-32-multilingual-v1``.

The hub's multilingual CLIP text model is three sentence-transformers modules: a DistilBERT
``Transformer`` (WordPiece tokenizer, ``max_seq_length`` 128) in the model folder itself, mean
``Pooling`` in ``1_Pooling`` and a bias-free ``Dense`` 768 -> 512 with no activation in
``2_Dense``, listed in ``modules.json`` under the legacy ``sentence_transformers.models.*``
names. This module builds the same thing at toy size so that our tests load a student through
the very same code path as the real one:

* :func:`build_wordpiece_tokenizer`: a WordPiece vocabulary trained (``tokenizers``) over
  the given texts, wrapped as a transformers ``DistilBertTokenizer``. Lower-cased, accents
  kept ("carré", "weiß"); any text still tokenizes (letters it has not seen become ``[UNK]``).
* :func:`build_student`: a randomly initialised ``SentenceTransformer`` of a small DistilBERT,
  mean pooling and a ``Dense`` layer to the teacher's dimension; train it, then :func:`save_student`.

Nothing runs at import time.
"""

from __future__ import annotations

import json
import logging
import shutil
import string
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: The real student's token limit (``sentence_bert_config.json``).
MAX_SEQ_LENGTH = 128
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
#: Letters every vocabulary holds, so unseen words of these languages split into pieces, not [UNK].
BASE_ALPHABET = string.ascii_lowercase + string.digits + "àâäæçéèêëîïôöœùûüÿßáíñóúì" + ".,;:!?'\"()-"
#: ``modules.json`` of clip-ViT-B-32-multilingual-v1: (path, legacy type name) per module.
REAL_STUDENT_MODULES: tuple[tuple[str, str], ...] = (
    ("", "sentence_transformers.models.Transformer"),
    ("1_Pooling", "sentence_transformers.models.Pooling"),
    ("2_Dense", "sentence_transformers.models.Dense"),
)
TINY_DISTILBERT: dict[str, Any] = {
    "dim": 96,
    "hidden_dim": 192,
    "n_layers": 2,
    "n_heads": 4,
    "max_position_embeddings": 512,  # as DistilBERT; the tokenizer stops at MAX_SEQ_LENGTH
}


def build_wordpiece_tokenizer(texts: Iterable[str], *, vocab_size: int = 1000) -> Any:
    """A lower-casing, accent-keeping WordPiece ``DistilBertTokenizer`` trained over ``texts``.

    The ``tokenizers`` WordPiece trainer breaks ties between equally frequent merges in hash
    order, which changes from one process to the next, so the intermediate pieces of its
    vocabulary (``schw`` in one run, ``schwar`` in the next) are not reproducible. We keep what
    is: the special tokens, every character (as a word start and as a ``##`` continuation), and
    the tokens the trained tokenizer actually uses on ``texts``, in a fixed order. With a
    ``vocab_size`` large enough for the trainer to finish its merges (the default, for our
    captions), those are the whole words, so ids are the same on every run.
    """
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordPiece
    from tokenizers.trainers import WordPieceTrainer
    from transformers import DistilBertTokenizer

    texts = list(texts)
    trainer_tokenizer = Tokenizer(WordPiece(unk_token="[UNK]"))
    trainer_tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=False)
    trainer_tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = WordPieceTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=list(BASE_ALPHABET),
        show_progress=False,
    )
    trainer_tokenizer.train_from_iterator(texts, trainer=trainer)
    trained = trainer_tokenizer.get_vocab()
    characters = sorted({t.removeprefix("##") for t in trained if len(t.removeprefix("##")) == 1} | set(BASE_ALPHABET))
    used = {token for encoding in trainer_tokenizer.encode_batch(texts) for token in encoding.tokens}
    pieces = [*SPECIAL_TOKENS, *characters, *(f"##{c}" for c in characters)]
    tokens = pieces + sorted(used - set(pieces))
    vocab = {token: i for i, token in enumerate(tokens)}
    tokenizer = DistilBertTokenizer(
        vocab=vocab, do_lower_case=True, strip_accents=False, model_max_length=MAX_SEQ_LENGTH
    )
    if tokenizer.convert_tokens_to_ids("[PAD]") != 0 or len(tokenizer) != len(vocab):
        raise RuntimeError(f"WordPiece tokenizer came out wrong: {len(tokenizer)} tokens for {len(vocab)}")
    return tokenizer


def build_student(tokenizer: Any, output_dim: int, *, seed: int = 0, distilbert: dict[str, Any] | None = None) -> Any:
    """A random-weight ``SentenceTransformer``: DistilBERT -> mean pooling -> ``Dense`` to ``output_dim``.

    The Dense layer has no bias and no activation, as the real student's 768 -> 512 one.
    Weights are deterministic for a given ``seed``.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Pooling, Transformer
    from transformers import DistilBertConfig, DistilBertModel

    config = DistilBertConfig(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        **{**TINY_DISTILBERT, **(distilbert or {})},
    )
    with torch.random.fork_rng(devices=[]), tempfile.TemporaryDirectory(prefix="student_hf_") as tmp:
        torch.manual_seed(seed)
        DistilBertModel(config).save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        transformer = Transformer(tmp, max_seq_length=MAX_SEQ_LENGTH)
        dim = transformer.get_embedding_dimension()
        pooling = Pooling(dim, pooling_mode="mean")
        dense = Dense(dim, output_dim, bias=False, activation_function=torch.nn.Identity())
        return SentenceTransformer(modules=[transformer, pooling, dense], device="cpu")


def save_student(model: Any, out_dir: Path) -> Path:
    """Save ``model`` at ``out_dir`` (replaced) with the real student's files, as the hub has them.

    sentence-transformers saves in its current format; the hub's copy of the real student was
    saved by sentence-transformers 1.x. We rewrite the module configs in that older form (the
    type names in ``modules.json``, ``{"max_seq_length": 128, "do_lower_case": false}``, the
    ``pooling_mode_*_tokens`` flags, the Dense's four keys, the tokenizer's own limit of 512),
    so loading ours goes through the same compatibility code as loading the real one, and the
    limit of 128 tokens comes from ``sentence_bert_config.json`` exactly as it does there.
    Weights stay safetensors.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    model.save(str(out_dir), create_model_card=False, safe_serialization=True)
    modules = _read_json(out_dir / "modules.json")
    if [m["path"] for m in modules] != [path for path, _ in REAL_STUDENT_MODULES]:
        raise RuntimeError(f"unexpected module layout {modules}; expected {REAL_STUDENT_MODULES}")
    for entry, (_path, legacy_type) in zip(modules, REAL_STUDENT_MODULES, strict=True):
        entry["type"] = legacy_type
    _write_json(out_dir / "modules.json", modules)
    _write_json(out_dir / "sentence_bert_config.json", {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False})
    dim = model[0].get_embedding_dimension()
    _write_json(
        out_dir / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": dim,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    dense = model[2].get_config_dict()
    legacy_dense = {key: dense[key] for key in ("in_features", "out_features", "bias", "activation_function")}
    _write_json(out_dir / "2_Dense" / "config.json", legacy_dense)
    tokenizer_config = _read_json(out_dir / "tokenizer_config.json")
    for key in ("is_local", "local_files_only"):  # where it was saved from, not how to load it
        tokenizer_config.pop(key, None)
    _write_json(out_dir / "tokenizer_config.json", {**tokenizer_config, "model_max_length": 512})
    logger.info("saved multilingual student to %s", out_dir)
    return out_dir


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
