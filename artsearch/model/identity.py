"""Which model made a vector: a key that changes when the weights, the inference path or the pipeline change.

The vector cache (:mod:`artsearch.vector_cache`) files every vector under this key, so a vector is reused
only where the same model on the same path would compute it again. :func:`identify` reads the key from a
loaded encoder. A rebuild with nothing new to embed should not pay for loading the model (seconds of torch
and ONNX Runtime start-up), so the :class:`ModelId` is also kept as a record, and
:meth:`ModelId.still_current` checks it against the files on disk without loading anything: the weights
folder's fingerprint (:func:`artsearch.model.locate.fingerprint`), the Hugging Face cache's ``refs/main``
for a hub model, and the manifest of the ONNX export in our cache for the ONNX paths.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from artsearch.config import ONNX_PATHS
from artsearch.errors import ModelLoadError
from artsearch.model.export import MANIFEST, export_folder, onnx_files
from artsearch.model.locate import fingerprint

log = logging.getLogger(__name__)

#: Bump when decoding or preprocessing changes what the model sees (JPEG draft size, resize, colour handling).
PIPELINE_VERSION = 1


@dataclass(frozen=True)
class ModelId:
    """A model on an inference path, as the vector cache knows it."""

    key: str  # what cached vectors are filed under
    label: str  # for people: "clip-ViT-B-32 (onnx-int8, cpu)"
    dim: int
    folder: str  # the weights folder, "" when it could not be found (then it can only be checked by loading)
    weights: str  # the folder's fingerprint, or "name:<name>"
    export: str  # the ONNX export's identity, "" on the torch paths
    inference: str
    device: str  # "cpu", "cuda", ...
    exports: str = ""  # the folder of its ONNX exports in our cache, "" on the torch paths

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelId:
        fields = dataclasses.fields(cls)
        return cls(**{f.name: data[f.name] for f in fields if f.name in data or f.default is dataclasses.MISSING})

    def still_current(self) -> bool:
        """True when the files this record was made from are unchanged (nothing is loaded to tell)."""
        if not self.folder:
            return False
        folder = Path(self.folder)
        try:
            if not folder.is_dir() or _hub_revision_moved(folder) or fingerprint(folder) != self.weights:
                return False
            return export_id(Path(self.exports) if self.exports else None, self.inference) == self.export
        except OSError:
            return False


def _hub_revision_moved(folder: Path) -> bool:
    """A Hugging Face cache snapshot whose repository's ``refs/main`` now names another snapshot."""
    if folder.parent.name != "snapshots":
        return False
    ref = folder.parent.parent / "refs" / "main"
    return ref.is_file() and ref.read_text().strip() != folder.name


def predicted_device(setting: str) -> str | None:
    """The device kind ``resolve_device(setting)`` will give, when it can be told without importing torch.

    "auto" is the CPU for a torch built without CUDA or ROCm (read from ``torch/version.py``); otherwise
    only loading torch can tell, and this returns None.
    """
    if setting != "auto":
        return setting.split(":")[0]
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.origin:
        return None
    try:
        text = (Path(spec.origin).parent / "version.py").read_text()
    except OSError:
        return None
    gpu_builds = re.findall(r"^(cuda|hip)\s*(?::[^=]*)?=\s*(.+)$", text, flags=re.MULTILINE)
    if len(gpu_builds) == 2 and all(value.strip() == "None" for _, value in gpu_builds):
        return "cpu"
    return None


def export_id(exports: Path | None, inference: str) -> str:
    """The identity of the ONNX export an ONNX path runs: its manifest without the timing; "" for torch paths."""
    if inference not in ONNX_PATHS:
        return ""
    if exports is None:
        return "missing"
    try:
        manifest = json.loads((exports / MANIFEST).read_text())
    except (OSError, ValueError):
        return "missing"
    files = manifest.get("files", {}) if isinstance(manifest, dict) else {}
    exported = manifest.get("exported", {}) if isinstance(manifest, dict) else {}
    wanted = {name: files.get(name) for name in onnx_files(inference).values()}
    summary = [
        manifest.get("format"),
        manifest.get("fingerprint"),
        wanted,
        exported.get("torch"),
        exported.get("opset"),
    ]
    return hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest()[:32]


def identify(encoder: Any) -> ModelId:
    """The :class:`ModelId` of a loaded :class:`artsearch.model.encoder.Encoder` (its files as located)."""
    files = encoder.files
    folder = files.folder
    weights = files.fingerprint if folder is not None else f"name:{encoder.name}"
    if folder is None:
        log.warning("cannot find the files of model %s, so cached vectors are matched by its name only", encoder.name)
    exports: Path | None = None
    if folder is not None and encoder.inference in ONNX_PATHS:
        try:
            exports = export_folder(files, encoder.cache_dir)
        except ModelLoadError:
            exports = None
    export = export_id(exports, encoder.inference)
    device = str(encoder.device).split(":")[0]
    key = hashlib.sha256(
        json.dumps([PIPELINE_VERSION, encoder.inference, device, weights, export, encoder.dim]).encode()
    ).hexdigest()[:32]
    return ModelId(
        key=key,
        label=f"{encoder.name} ({encoder.inference}, {device})",
        dim=int(encoder.dim),
        folder=str(folder) if folder is not None else "",
        weights=weights,
        export=export,
        inference=encoder.inference,
        device=device,
        exports=str(exports) if exports is not None else "",
    )
