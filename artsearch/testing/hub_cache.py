"""A CLIP in the Hugging Face hub's file layout, placed in a hub cache as the real repo id.

Users run with ``EMBEDDER_NAME = "clip-ViT-B-32"``, so the model lives in the Hugging Face cache
(``$HF_HOME/hub``), not in a folder of ours. No hub is reachable from our test machines, so this
module writes what a first download leaves behind, file for file:

* :func:`save_hub_layout` writes the files of the hub repo ``sentence-transformers/clip-ViT-B-32``:
  ``modules.json`` (one ``0_CLIPModel`` module of type ``sentence_transformers.models.CLIPModel``),
  ``config_sentence_transformers.json``, and in ``0_CLIPModel/``: ``config.json``, ``merges.txt``,
  ``vocab.json``, ``special_tokens_map.json``, ``tokenizer_config.json``, an old-style
  ``preprocessor_config.json`` (``feature_extractor_type: CLIPFeatureExtractor``) and
  ``pytorch_model.bin``; no ``tokenizer.json``, no safetensors.
* :func:`install_in_hub_cache` puts a folder into a hub cache the way ``huggingface_hub`` does:
  ``models--<org>--<name>/blobs/<hash>``, ``refs/main`` holding the commit hash, and
  ``snapshots/<commit>/`` with relative symlinks into ``blobs/``.
* :func:`build_hub_clip` does both for a random-weight CLIP from :mod:`artsearch.testing.clip_factory`.

Everything here is offline and nothing runs at import time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from artsearch.testing.clip_factory import (
    BOS_TOKEN,
    CONTEXT_LENGTH,
    EOS_TOKEN,
    build_clip_tokenizer,
    clip_config,
    clip_vocab_and_merges,
)

#: The repo ``SentenceTransformer("clip-ViT-B-32")`` downloads.
HUB_REPO = "sentence-transformers/clip-ViT-B-32"
MODULE_DIR = "0_CLIPModel"
_MODULE_TYPE = "sentence_transformers.models.CLIPModel"
# What the hub repo's files say about the versions that wrote them (2021).
_ST_VERSIONS = {"sentence_transformers": "2.0.0", "transformers": "4.7.0", "pytorch": "1.9.0+cu102"}
_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
_LFS_SUFFIXES = (".bin", ".safetensors", ".onnx")


def _added_token(content: str) -> dict[str, Any]:
    return {
        "content": content,
        "single_word": False,
        "lstrip": False,
        "rstrip": False,
        "normalized": True,
        "__type": "AddedToken",
    }


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def save_hub_layout(model: Any, vocab: dict[str, int], merges: list[tuple[str, str]], out_dir: Path) -> Path:
    """Write a transformers ``CLIPModel`` and its BPE as the hub repo ``sentence-transformers/clip-ViT-B-32`` has them.

    ``out_dir`` is replaced if it exists. The weights go to ``pytorch_model.bin`` (``torch.save`` of the
    state dict, as the 2021 upload has them).
    """
    import torch

    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    module = out_dir / MODULE_DIR
    module.mkdir(parents=True)
    _write_json(out_dir / "modules.json", [{"idx": 0, "name": "0", "path": MODULE_DIR, "type": _MODULE_TYPE}])
    _write_json(out_dir / "config_sentence_transformers.json", {"__version__": _ST_VERSIONS})
    (out_dir / "README.md").write_text("# clip-ViT-B-32\n\nA stand-in in the hub repo's layout, for tests.\n")
    (out_dir / ".gitattributes").write_text("*.bin filter=lfs diff=lfs merge=lfs -text\n")
    config = model.config.to_dict()
    config["transformers_version"] = _ST_VERSIONS["transformers"]
    config.pop("dtype", None)
    config["torch_dtype"] = "float32"
    _write_json(module / "config.json", config)
    _write_json(module / "vocab.json", vocab)
    (module / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    special = {
        "bos_token": _added_token(BOS_TOKEN),
        "eos_token": _added_token(EOS_TOKEN),
        "unk_token": _added_token(EOS_TOKEN),
        "pad_token": EOS_TOKEN,
    }
    _write_json(module / "special_tokens_map.json", special)
    _write_json(
        module / "tokenizer_config.json",
        {
            **special,
            "add_prefix_space": False,
            "errors": "replace",
            "do_lower_case": True,
            "name_or_path": "openai/clip-vit-base-patch32",
            "model_max_length": CONTEXT_LENGTH,
            "special_tokens_map_file": "./special_tokens_map.json",
            "tokenizer_class": "CLIPTokenizer",
        },
    )
    size = int(model.config.vision_config.image_size)
    _write_json(
        module / "preprocessor_config.json",
        {
            "crop_size": size,
            "do_center_crop": True,
            "do_normalize": True,
            "do_resize": True,
            "feature_extractor_type": "CLIPFeatureExtractor",
            "image_mean": _CLIP_MEAN,
            "image_std": _CLIP_STD,
            "resample": 3,
            "size": size,
        },
    )
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    torch.save(state, module / "pytorch_model.bin")
    return out_dir


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def repo_folder_name(repo_id: str) -> str:
    """``models--org--name``, the hub cache's folder for a model repo."""
    return "models--" + repo_id.replace("/", "--")


def install_in_hub_cache(folder: Path, hf_home: Path, repo_id: str = HUB_REPO, commit: str | None = None) -> Path:
    """Copy ``folder`` into the hub cache under ``hf_home`` as ``repo_id``; returns the snapshot folder.

    Blobs are named as the hub names them (the sha256 of an LFS file, the git blob hash of any other),
    ``refs/main`` holds the commit, and the snapshot holds relative symlinks to the blobs. ``commit``
    defaults to a hash of the files, so the same model always gets the same revision.
    """
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if commit is None:
        h = hashlib.sha1()
        for path in files:
            h.update(path.relative_to(folder).as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
        commit = h.hexdigest()
    repo = Path(hf_home) / "hub" / repo_folder_name(repo_id)
    blobs, snapshot = repo / "blobs", repo / "snapshots" / commit
    blobs.mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    for path in files:
        rel = path.relative_to(folder)
        data = path.read_bytes()
        name = hashlib.sha256(data).hexdigest() if path.suffix in _LFS_SUFFIXES else _git_blob_sha1(data)
        blob = blobs / name
        if not blob.exists():
            shutil.copyfile(path, blob)
        link = snapshot / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def build_hub_clip(
    hf_home: Path,
    *,
    size: str = "tiny",
    seed: int = 0,
    repo_id: str = HUB_REPO,
    num_merges: int | None = None,
    projection_dim: int | None = None,
) -> Path:
    """A random-weight CLIP (see :func:`artsearch.testing.clip_factory.build_random_clip`) in the hub's layout,
    installed in the hub cache under ``hf_home`` as ``repo_id``; returns its snapshot folder."""
    import tempfile

    import torch
    from transformers import CLIPModel

    tokenizer = build_clip_tokenizer(num_merges=num_merges)
    vocab, merges = clip_vocab_and_merges(num_merges)
    config = clip_config(size, vocab_size=len(tokenizer), projection_dim=projection_dim)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIPModel(config).eval()
    with tempfile.TemporaryDirectory(prefix="hub_clip_") as tmp:
        layout = save_hub_layout(model, vocab, merges, Path(tmp) / "repo")
        return install_in_hub_cache(layout, Path(hf_home), repo_id)
