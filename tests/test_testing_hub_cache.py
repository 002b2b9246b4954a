"""The hub stand-in is what a first ``clip-ViT-B-32`` download leaves: the repo's files, in the cache's layout."""

from __future__ import annotations

import hashlib
import json
import os

from artsearch.model.encoder import Encoder
from artsearch.testing.hub_cache import HUB_REPO, repo_folder_name

HUB_FILES = {
    ".gitattributes",
    "README.md",
    "modules.json",
    "config_sentence_transformers.json",
    "0_CLIPModel/config.json",
    "0_CLIPModel/merges.txt",
    "0_CLIPModel/vocab.json",
    "0_CLIPModel/special_tokens_map.json",
    "0_CLIPModel/tokenizer_config.json",
    "0_CLIPModel/preprocessor_config.json",
    "0_CLIPModel/pytorch_model.bin",
}


def test_the_snapshot_holds_the_hub_repos_files_and_nothing_newer(hub_home):
    _, snapshot = hub_home
    files = {p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if not p.is_dir()}
    assert files == HUB_FILES  # no tokenizer.json, no safetensors, no processor_config.json
    modules = json.loads((snapshot / "modules.json").read_text())
    assert modules == [{"idx": 0, "name": "0", "path": "0_CLIPModel", "type": "sentence_transformers.models.CLIPModel"}]
    processor = json.loads((snapshot / "0_CLIPModel" / "preprocessor_config.json").read_text())
    assert processor["feature_extractor_type"] == "CLIPFeatureExtractor" and processor["size"] == 224
    tokenizer = json.loads((snapshot / "0_CLIPModel" / "tokenizer_config.json").read_text())
    assert tokenizer["bos_token"]["__type"] == "AddedToken" and tokenizer["model_max_length"] == 77


def test_the_cache_is_laid_out_as_huggingface_hub_lays_it_out(hub_home):
    home, snapshot = hub_home
    repo = home / "hub" / repo_folder_name(HUB_REPO)
    assert repo.name == "models--sentence-transformers--clip-ViT-B-32"
    assert snapshot.parent == repo / "snapshots" and (repo / "refs" / "main").read_text() == snapshot.name
    for path in snapshot.rglob("*"):
        if path.is_dir():
            continue
        assert path.is_symlink() and not os.readlink(path).startswith("/")  # relative, as the hub client makes them
        blob = path.resolve()
        assert blob.parent == repo / "blobs"
        if path.suffix == ".bin":  # LFS files are named by their sha256
            assert blob.name == hashlib.sha256(blob.read_bytes()).hexdigest()


def test_it_loads_by_the_name_users_give_it(hub_home, monkeypatch):
    home, snapshot = hub_home
    monkeypatch.setenv("SENTENCE_TRANSFORMERS_HOME", str(home / "hub"))
    encoder = Encoder("clip-ViT-B-32", device="cpu")
    assert (encoder.files.repo_id, encoder.files.folder, encoder.files.revision) == (HUB_REPO, snapshot, snapshot.name)
    vectors = encoder.encode_texts(["a red circle", "a blue square"])
    assert vectors.shape == (2, 64) and float(vectors[0] @ vectors[1]) < 0.9999
