"""Where a model's files are, and which model they are: without the network.

A model is named by a local folder (``models/tiny-clip-shapes``) or by a hub name (``clip-ViT-B-32``,
``org/name``). :func:`locate` turns the name into :class:`ModelFiles`: the folder, or for a hub name its
snapshot in the Hugging Face cache (``$HF_HOME/hub/models--org--name/snapshots/<commit>/``) with the
repo id and revision, or no folder when the hub name is not cached yet. Nothing here touches the
network; :mod:`artsearch.model.hub` does when the files are missing.

A name that looks like a path but is not there (a mistyped folder), a file, or a folder that is not a
sentence-transformers model is a one-line :class:`~artsearch.errors.ModelLoadError` here, before
anything is loaded.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from artsearch.errors import ModelLoadError

#: sentence-transformers' organisation on the hub: ``SentenceTransformer("clip-ViT-B-32")`` loads
#: ``sentence-transformers/clip-ViT-B-32`` (``SentenceTransformer.default_huggingface_organization``).
HUB_ORGANISATION = "sentence-transformers"
_SMALL_FILE = 8 * 1024 * 1024
_EDGE = 1024 * 1024
_OWN_FOLDERS = ("onnx",)  # exports an older artsearch wrote into model folders: not part of the model


@dataclass(frozen=True)
class ModelFiles:
    """A model's name as configured, and where its files are.

    ``folder`` is a local model folder, or the cached snapshot of a hub model (``repo_id`` at
    ``revision``); None when a hub model is not in the cache yet.
    """

    name: str
    folder: Path | None
    repo_id: str | None = None
    revision: str | None = None

    @property
    def from_hub(self) -> bool:
        return self.repo_id is not None

    @cached_property
    def fingerprint(self) -> str:
        """A content fingerprint of the files (see :func:`fingerprint`); empty when they are not here."""
        return fingerprint(self.folder) if self.folder is not None else ""

    def export_key(self) -> Path:
        """The model's folder in an export cache: the repo id and revision, or the folder's name and content."""
        if self.folder is None:
            raise ModelLoadError(f"The model {self.name} is not in the Hugging Face cache, so it has no export yet.")
        if self.repo_id and self.revision:
            return Path(self.repo_id.replace("/", "--")) / self.revision
        return Path(f"{self.folder.name}-{self.fingerprint[:16]}")

    def describe(self) -> str:
        if self.repo_id:
            at = f" at revision {self.revision[:12]}" if self.revision else ""
            return f"{self.repo_id}{at}"
        return str(self.folder or self.name)


def hub_cache_dir() -> Path | None:
    """The hub cache sentence-transformers downloads into: ``SENTENCE_TRANSFORMERS_HOME`` when it is set,
    else huggingface_hub's own (``HF_HUB_CACHE``, ``$HF_HOME/hub``); None means huggingface_hub's default."""
    home = os.environ.get("SENTENCE_TRANSFORMERS_HOME")
    return Path(home) if home else None


def hub_repo_ids(name: str) -> list[str]:
    """The repo ids a hub name can mean, in sentence-transformers' order: ``org/name`` as it is; a bare
    name under sentence-transformers' organisation first, then as it is (transformers' original models)."""
    name = name.strip()
    return [name] if "/" in name else [f"{HUB_ORGANISATION}/{name}", name]


def cached_snapshot(repo_id: str) -> Path | None:
    """The snapshot folder of ``repo_id``'s main revision in the hub cache, or None (filesystem only)."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "modules.json", cache_dir=hub_cache_dir())
    if isinstance(found, str) and Path(found).is_file():
        return Path(found).parent
    return None


def _looks_like_a_path(name: str) -> bool:
    """True for names that cannot be hub ids, or whose first folder exists here (``models/tiny-clip-shpes``)."""
    if name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") > 1 or name.endswith("/"):
        return True
    first = Path(name).parts[0] if Path(name).parts else ""
    return "/" in name and Path(first).expanduser().is_dir()


def _missing_folder_message(name: str) -> str:
    path = Path(name).expanduser()
    parent = next((p for p in path.parents if p.is_dir()), None) if path.parents else None
    hint = ""
    if parent is not None:
        siblings = [p.name for p in parent.iterdir() if p.is_dir() and not p.name.startswith(".")]
        close = difflib.get_close_matches(path.name, siblings, n=3, cutoff=0.6)
        if close:
            hint = " Did you mean " + " or ".join(str(parent / c) for c in close) + "?"
    return (
        f"There is no model folder {name} (EMBEDDER_NAME or --model).{hint} Give the path of a "
        "sentence-transformers model folder, such as models/tiny-clip-shapes, or a hub name such as clip-ViT-B-32."
    )


def check_model_folder(path: Path, name: str) -> None:
    """A ModelLoadError unless ``path`` is a sentence-transformers model folder (it has ``modules.json``)."""
    if not path.is_dir():
        raise ModelLoadError(
            f"The model {name} is a file, not a folder: give the sentence-transformers model folder it belongs to."
        )
    if not (path / "modules.json").is_file():
        what = "a Hugging Face model folder" if (path / "config.json").is_file() else "a folder"
        raise ModelLoadError(
            f"The folder {name} is {what} without modules.json, so it is not a sentence-transformers model. Give a "
            "sentence-transformers CLIP model folder (modules.json, config.json, tokenizer and processor files), "
            "e.g. models/tiny-clip-shapes, or save the model with sentence-transformers first."
        )


def locate(name: str) -> ModelFiles:
    """Where the model ``name`` is: a local folder, a cached hub snapshot, or (folder None) a hub name to download.

    Raises ModelLoadError for a mistyped folder, a file, or a folder that is not a sentence-transformers model.
    """
    name = (name or "").strip()
    if not name:
        raise ModelLoadError("No model given: set EMBEDDER_NAME (or --model) to a hub name or a model folder.")
    path = Path(name).expanduser()
    if path.exists():
        check_model_folder(path, name)
        return ModelFiles(name, path.resolve())
    if _looks_like_a_path(name):
        raise ModelLoadError(_missing_folder_message(name))
    candidates = hub_repo_ids(name)
    for repo_id in candidates:
        snapshot = cached_snapshot(repo_id)
        if snapshot is not None:
            return ModelFiles(name, snapshot, repo_id, snapshot.name)
    return ModelFiles(name, None, candidates[0])


def fingerprint(folder: Path) -> str:
    """A cheap content fingerprint of a model folder (exports an older artsearch wrote into it excluded).

    Small files are hashed whole. Large files (weights) by size, mtime and their first and last
    MiB, except Hugging Face cache blobs, which are named by their own hash already.
    """
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if rel.parts[0] in _OWN_FOLDERS or path.is_dir():
            continue
        real = path.resolve()
        size = real.stat().st_size
        h.update(f"{rel.as_posix()}\0{size}\0".encode())
        if path.is_symlink() and real.parent.name == "blobs":
            h.update(real.name.encode())
        elif size <= _SMALL_FILE:
            h.update(real.read_bytes())
        else:
            h.update(str(real.stat().st_mtime_ns).encode())
            with real.open("rb") as fh:
                h.update(fh.read(_EDGE))
                fh.seek(size - _EDGE)
                h.update(fh.read(_EDGE))
    return h.hexdigest()


def declared_dimension(folder: Path) -> int | None:
    """The embedding size a model folder declares, read from its files without loading it (None if unsure).

    The last module that sets a size wins: a CLIP module's ``projection_dim``, a Dense layer's ``out_features``.
    """
    try:
        modules = json.loads((folder / "modules.json").read_text())
        dim = None
        for module in modules:
            config_dir = folder / module.get("path", "")
            kind = str(module.get("type", ""))
            if kind.endswith("CLIPModel") or kind.endswith("Transformer"):
                config = json.loads((config_dir / "config.json").read_text())
                dim = config.get("projection_dim", dim)
            elif kind.endswith("Dense"):
                dim = json.loads((config_dir / "config.json").read_text()).get("out_features", dim)
        return int(dim) if dim else None
    except (OSError, ValueError, TypeError, AttributeError):
        return None
