"""Build CLIP models offline, in sentence-transformers format.

No model hub is reachable from our test and benchmark machines, and no package
ships clip-ViT-B-32 weights. This module builds stand-ins that load through the
very same code path as ``SentenceTransformer("clip-ViT-B-32")``:

* ``build_random_clip(out, size="tiny")``: a random-weight CLIP with very small
  towers and a 64-d projection, for tests (builds in about a second).
* ``build_random_clip(out, size="base")``: ``transformers.CLIPConfig()`` defaults,
  which is exactly the ViT-B/32 architecture, for benchmarks (random weights,
  real compute cost).
* ``save_sentence_transformer(model, tokenizer, out)``: save any transformers
  ``CLIPModel`` (e.g. one trained by ``scripts/train_tiny_clip.py``).

The tokenizer is always the real CLIP byte-level BPE, built from
``assets/bpe_simple_vocab_16e6.txt.gz`` (see ``assets/README.md``). Optionally
the merges list is truncated (``num_merges``): the result is still a correct
CLIP BPE that tokenizes any text (it falls back to shorter pieces, down to
single bytes), only with a smaller vocabulary and embedding table.

Everything here is offline and nothing runs at import time.
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

BPE_ASSET = Path(__file__).parent / "assets" / "bpe_simple_vocab_16e6.txt.gz"

#: Number of merges the real CLIP tokenizer uses (lines 1..48894 of the BPE file).
FULL_NUM_MERGES = 49152 - 256 - 2
#: 256 byte symbols + 256 byte symbols with ``</w>`` + merges + 2 special tokens.
FULL_VOCAB_SIZE = 2 * 256 + FULL_NUM_MERGES + 2  # 49408
#: CLIP's text context length.
CONTEXT_LENGTH = 77
BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"

#: The type name the hub's ``clip-ViT-B-32`` has in its ``modules.json``; we write the
#: same one so our models load through the same (legacy) module class.
_LEGACY_CLIP_MODULE_TYPE = "sentence_transformers.models.CLIPModel"

TINY_TEXT_CONFIG: dict[str, Any] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "max_position_embeddings": CONTEXT_LENGTH,
}
TINY_VISION_CONFIG: dict[str, Any] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "image_size": 224,
    "patch_size": 32,
}
TINY_PROJECTION_DIM = 64


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible map from the 256 byte values to printable unicode characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs], strict=True))


@lru_cache(maxsize=1)
def _all_merges() -> tuple[tuple[str, str], ...]:
    """The full list of CLIP merges, read once from the packaged asset."""
    with gzip.open(BPE_ASSET, "rt", encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    # Line 0 is a version header; CLIP uses the next FULL_NUM_MERGES lines.
    merges = [tuple(line.split()) for line in lines[1 : 1 + FULL_NUM_MERGES]]
    if len(merges) != FULL_NUM_MERGES or any(len(m) != 2 for m in merges):
        raise ValueError(f"unexpected content in {BPE_ASSET}")
    return tuple(merges)  # type: ignore[arg-type]


def clip_vocab_and_merges(num_merges: int | None = None) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """CLIP's BPE vocabulary and merges, optionally keeping only the first ``num_merges`` merges.

    The id layout is CLIP's: byte symbols, byte symbols + ``</w>``, one token per merge,
    then ``<|startoftext|>`` and ``<|endoftext|>``. With all merges this is the real
    49408-token vocabulary, id for id.
    """
    merges = list(_all_merges())
    if num_merges is not None:
        if not 0 <= num_merges <= FULL_NUM_MERGES:
            raise ValueError(f"num_merges must be between 0 and {FULL_NUM_MERGES}, got {num_merges}")
        merges = merges[:num_merges]
    byte_symbols = list(_bytes_to_unicode().values())
    tokens = byte_symbols + [s + "</w>" for s in byte_symbols] + ["".join(m) for m in merges] + [BOS_TOKEN, EOS_TOKEN]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    if len(vocab) != len(tokens):  # pragma: no cover - the real file has no duplicate merges
        raise ValueError("duplicate tokens in the BPE vocabulary")
    return vocab, merges


def build_clip_tokenizer(*, vocab_size: int | None = None, num_merges: int | None = None) -> Any:
    """The real CLIP tokenizer (transformers ``CLIPTokenizer``), built offline.

    ``vocab_size`` (total tokens, >= 514) or ``num_merges`` truncate the merges list;
    give at most one of them. Text longer than 77 tokens is truncated.

    transformers 5.x silently ignores ``vocab_file=`` / ``merges_file=`` and builds a
    3-token vocabulary, so we pass ``vocab=`` and ``merges=`` and check the result.
    """
    from transformers import CLIPTokenizer

    if vocab_size is not None and num_merges is not None:
        raise ValueError("give vocab_size or num_merges, not both")
    if vocab_size is not None:
        num_merges = vocab_size - (2 * 256 + 2)
        if num_merges < 0:
            raise ValueError(f"vocab_size must be at least {2 * 256 + 2}, got {vocab_size}")
    vocab, merges = clip_vocab_and_merges(num_merges)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=CONTEXT_LENGTH)
    if len(tokenizer) != len(vocab):
        raise RuntimeError(f"CLIPTokenizer built {len(tokenizer)} tokens instead of {len(vocab)}")
    ids = tokenizer("a gloomy landscape")["input_ids"]
    if len(set(ids)) <= 3:
        raise RuntimeError(f"CLIPTokenizer is degenerate: 'a gloomy landscape' -> {ids}")
    return tokenizer


def special_token_ids(vocab_size: int) -> dict[str, int]:
    """``bos_token_id`` / ``eos_token_id`` of a (possibly truncated) CLIP vocabulary: its last two ids."""
    return {"bos_token_id": vocab_size - 2, "eos_token_id": vocab_size - 1}


def clip_config(
    size: str = "tiny",
    *,
    vocab_size: int = FULL_VOCAB_SIZE,
    text_config: dict[str, Any] | None = None,
    vision_config: dict[str, Any] | None = None,
    projection_dim: int | None = None,
) -> Any:
    """A ``transformers.CLIPConfig``: ``"base"`` is ViT-B/32 exactly, ``"tiny"`` is for tests.

    ``text_config`` / ``vision_config`` / ``projection_dim`` override the size's defaults.
    The text config's ``eos_token_id`` always matches the vocabulary: CLIP pools the text
    at the first ``eos_token_id``, so with a truncated vocabulary and the default id
    (49407) every text would be pooled at position 0 and encode to the same vector.
    """
    from transformers import CLIPConfig

    if size not in ("tiny", "base"):
        raise ValueError(f"unknown size {size!r}; use 'tiny' or 'base'")
    if size == "base" and vocab_size == FULL_VOCAB_SIZE and not (text_config or vision_config or projection_dim):
        return CLIPConfig()
    base_text = {} if size == "base" else TINY_TEXT_CONFIG
    base_vision = {} if size == "base" else TINY_VISION_CONFIG
    kwargs: dict[str, Any] = {
        "text_config": {**base_text, **(text_config or {}), "vocab_size": vocab_size, **special_token_ids(vocab_size)},
        "vision_config": {**base_vision, **(vision_config or {})},
    }
    if projection_dim is not None:
        kwargs["projection_dim"] = projection_dim
    elif size == "tiny":
        kwargs["projection_dim"] = TINY_PROJECTION_DIM
    return CLIPConfig(**kwargs)


def image_processor_for(config: Any) -> Any:
    """CLIP's image preprocessing (resize shortest edge, centre crop, mean/std) at the model's image size."""
    from transformers import CLIPImageProcessor

    image_size = int(config.vision_config.image_size)
    return CLIPImageProcessor(size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size})


def save_sentence_transformer(model: Any, tokenizer: Any, out_dir: Path, *, image_processor: Any = None) -> Path:
    """Save a transformers ``CLIPModel`` + tokenizer as a sentence-transformers model at ``out_dir``.

    The layout matches the hub's ``clip-ViT-B-32`` (one ``0_CLIPModel`` module of type
    ``sentence_transformers.models.CLIPModel``), so ``SentenceTransformer(out_dir)``
    loads it offline through the same code path. Weights are saved as safetensors in
    the model's dtype. ``out_dir`` is replaced if it exists.
    """
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import CLIPModel as STCLIPModel
    from transformers import CLIPProcessor

    out_dir = Path(out_dir)
    if image_processor is None:
        image_processor = image_processor_for(model.config)
    processor = CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)
    with tempfile.TemporaryDirectory(prefix="clip_hf_") as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        processor.save_pretrained(tmp)
        module = STCLIPModel(tmp, _from_auto_load=True)
        st_model = SentenceTransformer(modules=[module], device="cpu")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        st_model.save(str(out_dir), create_model_card=False, safe_serialization=True)
    _use_legacy_module_type(out_dir)
    logger.info("saved sentence-transformers CLIP to %s", out_dir)
    return out_dir


def _use_legacy_module_type(out_dir: Path) -> None:
    """Point modules.json at ``sentence_transformers.models.CLIPModel``, as clip-ViT-B-32 has it."""
    modules_path = out_dir / "modules.json"
    modules = json.loads(modules_path.read_text())
    for entry in modules:
        if entry["type"].endswith(".CLIPModel"):
            entry["type"] = _LEGACY_CLIP_MODULE_TYPE
    modules_path.write_text(json.dumps(modules, indent=2) + "\n")


def build_random_clip(
    out_dir: Path,
    *,
    size: str = "tiny",
    seed: int = 0,
    vocab_size: int | None = None,
    num_merges: int | None = None,
    projection_dim: int | None = None,
) -> Path:
    """Build a random-weight CLIP in sentence-transformers format at ``out_dir`` and return the path.

    ``size="tiny"``: 2-layer, 32-wide towers, patch 32 on 224 px, projection 64 (not 512,
    so callers must read the dimension from the model). ``size="base"``: exactly
    ``transformers.CLIPConfig()`` (ViT-B/32). Weights are deterministic for a given ``seed``.
    ``vocab_size`` / ``num_merges`` truncate the real CLIP BPE (see :func:`build_clip_tokenizer`);
    ``projection_dim`` overrides the size's embedding size.
    """
    import torch
    from transformers import CLIPModel

    tokenizer = build_clip_tokenizer(vocab_size=vocab_size, num_merges=num_merges)
    config = clip_config(size, vocab_size=len(tokenizer), projection_dim=projection_dim)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIPModel(config).eval()
    return save_sentence_transformer(model, tokenizer, Path(out_dir))
