"""Faster CPU inference paths for the CLIP encoder: ONNX Runtime (fp32 or int8) and torch bf16 / int8.

``Settings.inference`` picks one of :data:`artsearch.config.INFERENCE_PATHS`:

* ``torch``: sentence-transformers' own forward in fp32 (the reference; nothing here is used).
* ``onnx``: both towers (with their projections) exported to ONNX, run by ONNX Runtime in fp32.
* ``onnx-int8``: the same graphs with the weights of every MatMul dynamically quantised to int8
  (``onnxruntime.quantization.quantize_dynamic``; activations are quantised per batch at run time).
* ``torch-bf16``: the loaded model's weights cast to bfloat16 in place.
* ``torch-int8``: ``torch.ao.quantization.quantize_dynamic`` on every ``nn.Linear``, in place.

The ONNX files come from :mod:`artsearch.model.export`. At load time a missing, stale or corrupt
export makes :func:`load_backend` return ``None`` with one warning, and the encoder runs the plain
torch path; with ``export_missing=True`` (batch jobs such as ingest) it exports instead.
Preprocessing (tokenizer, CLIP's resize/crop/normalise) is always sentence-transformers' own, so
every path sees exactly the same input tensors.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from artsearch.config import check_inference
from artsearch.model.export import CacheError, check_cache, export, export_folder
from artsearch.model.locate import ModelFiles
from artsearch.model.towers import clip_of, towers

log = logging.getLogger(__name__)


class Backend(Protocol):
    """A forward pass for both towers: projected, not yet normalised, float32 embeddings."""

    name: str

    def image(self, pixel_values: np.ndarray) -> np.ndarray: ...

    def text(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...


def cpu_threads() -> int:
    """Cores this process may run on (respects CPU affinity, e.g. in containers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# --- backends -----------------------------------------------------------------------------------------


def session_options(threads: int | None = None) -> Any:
    """ONNX Runtime options for both towers: one intra-op thread per core, full graph optimisation."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or cpu_threads()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return opts


class OnnxBackend:
    """Both towers in ONNX Runtime sessions (CPU, one intra-op thread per core)."""

    def __init__(self, files: dict[str, Path], name: str, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.name = name
        opts = session_options(threads)
        providers = ["CPUExecutionProvider"]
        self.vision = ort.InferenceSession(str(files["vision"]), opts, providers=providers)
        self.text_session = ort.InferenceSession(str(files["text"]), opts, providers=providers)

    def image(self, pixel_values: np.ndarray) -> np.ndarray:
        pixels = np.ascontiguousarray(pixel_values, dtype=np.float32)
        return self.vision.run(None, {"pixel_values": pixels})[0]

    def text(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": np.asarray(input_ids, np.int64), "attention_mask": np.asarray(attention_mask, np.int64)}
        return self.text_session.run(None, feeds)[0]


class TorchBackend:
    """The loaded model converted in place: bf16 weights, or dynamic int8 ``nn.Linear`` layers."""

    def __init__(self, clip: Any, name: str) -> None:
        import torch

        self.name = name
        if name == "torch-bf16":
            clip.to(torch.bfloat16)
            self.dtype = torch.bfloat16
        elif name == "torch-int8":
            torch.ao.quantization.quantize_dynamic(clip, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
            self.dtype = torch.float32
        else:
            raise ValueError(f"not a torch fast path: {name}")
        self.vision, self.text_tower = towers(clip)

    def image(self, pixel_values: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            x = torch.as_tensor(pixel_values).to(self.dtype)
            return self.vision(x).float().numpy()

    def text(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = self.text_tower(torch.as_tensor(input_ids), torch.as_tensor(attention_mask))
            return out.float().numpy()


def release_torch_weights(st_model: Any) -> None:
    """Free the torch copy of the weights once ONNX Runtime holds its own (about 600 MB for ViT-B/32).

    The parameters move to the ``meta`` device: shapes stay, storage goes. Tokenizer and image
    processor, all the ONNX paths need from sentence-transformers, are untouched.
    """
    clip_of(st_model).to("meta")


def load_backend(
    st_model: Any,
    inference: str,
    *,
    files: ModelFiles,
    cache_root: Path | None = None,
    device: str = "cpu",
    export_missing: bool = False,
) -> Backend | None:
    """The backend for ``inference``, or None for the plain torch path.

    A missing, stale or corrupt ONNX cache logs one warning and returns None (torch fallback),
    unless ``export_missing``, which exports it now (about 20 s for ViT-B/32); an export that
    fails (a full disk, a read-only cache) also falls back to torch with one warning.
    """
    inference = check_inference(inference)
    if inference == "torch":
        return None
    if device != "cpu":
        log.warning(
            "inference=%s is a CPU path; the model runs on %s, so the plain torch path is used", inference, device
        )
        return None
    if inference.startswith("torch-"):
        return TorchBackend(clip_of(st_model), inference)
    if files.folder is None:
        log.warning(
            "inference=%s: the files of %s are not on this machine, so it has no export; using torch",
            inference,
            files.name,
        )
        return None
    fp = files.fingerprint
    folder = export_folder(files, cache_root)
    for attempt in (1, 2):
        try:
            return OnnxBackend(check_cache(folder, inference, fp), inference)
        except CacheError as exc:
            problem = str(exc)
        except Exception as exc:  # onnxruntime raises its own types for unreadable graphs
            log.debug("ONNX Runtime could not load the cache", exc_info=True)
            problem = f"ONNX Runtime could not load the export in {folder} ({type(exc).__name__}: {str(exc)[:160]})"
        if not export_missing or attempt == 2:
            log.warning(
                "inference=%s: %s; using the slower torch path. Export once with: "
                "python -m artsearch optimize --model %s --inference %s",
                inference,
                problem,
                files.name,
                inference,
            )
            return None
        log.info("inference=%s: %s; exporting it now", inference, problem)
        try:
            export(st_model, inference, files=files, folder=folder, force=True)
        except CacheError as exc:
            log.warning("inference=%s: %s; using the slower torch path", inference, exc)
            return None
    return None  # pragma: no cover - the loop always returns
