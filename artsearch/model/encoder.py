"""CLIP encoder: texts and images to L2-normalised float32 vectors.

The model is loaded once through sentence-transformers, by hub name
(``clip-ViT-B-32``) or local folder (local files first, see :mod:`artsearch.model.hub`),
and its output size is read from the model, never assumed to be 512.

Image encoding is split in two so the ingest can overlap them:
:meth:`Encoder.preprocess_images` (resize, crop, normalise: pure CPU work that
is safe on decode threads) and :meth:`Encoder.encode_features` (the model
forward). Both go through sentence-transformers' own ``preprocess`` and
``forward``, the same code ``SentenceTransformer.encode`` runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from artsearch.config import ONNX_PATHS, Settings, check_device, check_inference
from artsearch.errors import EmptyQuery, ModelLoadError
from artsearch.model.backends import Backend, load_backend, release_torch_weights
from artsearch.model.choice import IndexModel
from artsearch.model.export import CacheError, default_cache_root, export, export_folder
from artsearch.model.hub import find_model, load_model
from artsearch.model.locate import ModelFiles, locate
from artsearch.model.towers import is_clip
from artsearch.text import clean_text

log = logging.getLogger(__name__)

Features = dict[str, Any]


def resolve_device(device: str) -> str:
    """The torch device for ``ARTSEARCH_DEVICE``: 'auto' is CUDA when a GPU is visible, then Apple MPS, then
    the CPU. A device this machine's torch cannot use is a one-line ModelLoadError saying why."""
    import torch

    device = check_device(device)
    setting = f"ARTSEARCH_DEVICE is '{device}'"
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if torch.backends.mps.is_available() else "cpu"
    if device.startswith("cuda"):
        if torch.version.cuda is None:
            raise ModelLoadError(
                f"{setting}, but this torch ({torch.__version__}) is a CPU-only build: set ARTSEARCH_DEVICE=cpu "
                "(or auto), or install a CUDA build of torch."
            )
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        wanted = int(device.partition(":")[2] or 0)
        if wanted >= count:
            seen = f"{count} GPU(s) (cuda:0 to cuda:{count - 1})" if count else "no GPU"
            raise ModelLoadError(
                f"{setting}, but torch {torch.__version__} sees {seen}: set ARTSEARCH_DEVICE=cpu or auto, or check "
                "the GPU driver (nvidia-smi) and CUDA_VISIBLE_DEVICES."
            )
    if device == "mps" and not torch.backends.mps.is_available():
        raise ModelLoadError(f"{setting}, but Apple MPS is not available on this machine: set ARTSEARCH_DEVICE=cpu.")
    return device


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as float32 (a zero row stays zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class Encoder:
    """A loaded CLIP model. Thread-safe: the forward pass is serialised by a lock.

    Serialising costs little: torch already spreads one forward over all cores,
    and the fast tokenizer is not safe to call from two threads at once.
    """

    def __init__(
        self,
        name_or_path: str,
        *,
        device: str = "auto",
        batch_size: int = 32,
        inference: str = "torch",
        export_missing: bool = False,
        cache_dir: Path | None = None,
    ) -> None:
        """Load the model; ``inference`` picks a faster CPU path (see :mod:`artsearch.model.backends`).

        ``inference`` other than "torch" whose ONNX export is missing falls back to torch with
        one warning, or, with ``export_missing`` (batch jobs), exports it first. The path
        actually in use is :attr:`inference`. Exports live in ``cache_dir`` (default
        :func:`artsearch.model.export.default_cache_root`), never in the model's folder.
        """
        requested = check_inference(inference)
        self.name = name_or_path
        found = find_model(name_or_path)  # first: a missing model fails in seconds, before torch is imported
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_root()
        self._lock = threading.Lock()
        self.files: ModelFiles
        self.files, self.model = load_model(found, self.device)
        self.model.eval()
        self._backend: Backend | None = None
        #: False for a text-only model (a multilingual student distilled into a CLIP's space): no image tower.
        self.has_images = is_clip(self.model)
        if requested != "torch" and not self.has_images:
            log.warning(
                "inference=%s: the fast paths cover CLIP models; the text model %s runs on torch",
                requested,
                name_or_path,
            )
        elif requested != "torch":
            self._backend = load_backend(
                self.model,
                requested,
                files=self.files,
                cache_root=self.cache_dir,
                device=self.device,
                export_missing=export_missing,
            )
        self.inference = self._backend.name if self._backend is not None else "torch"
        self.dim = self._dimension()
        log.info(
            "model %s (%s): %d-d, %s on %s", name_or_path, self.files.describe(), self.dim, self.inference, self.device
        )
        if self.inference in ONNX_PATHS:
            release_torch_weights(self.model)  # ONNX Runtime has its own copy; keep the process small

    @classmethod
    def from_settings(cls, settings: Settings, *, name: str | None = None, export_missing: bool = False) -> Encoder:
        """The encoder ``settings`` describe (device, batch size, inference path, export cache), for the model
        ``name`` (default :attr:`Settings.model_name`: the configured one, else clip-ViT-B-32).

        The ONNX paths are CPU paths: on a GPU the plain torch path is used instead.
        """
        name = name or settings.model_name
        inference = settings.inference
        if inference.startswith("onnx") and resolve_device(settings.device) != "cpu":
            log.info("running %s on %s with torch; ONNX paths are for the CPU", name, settings.device)
            inference = "torch"
        return cls(
            name,
            device=settings.device,
            batch_size=settings.batch_size,
            inference=inference,
            export_missing=export_missing,
            cache_dir=settings.export_cache_dir,
        )

    def index_model(self) -> IndexModel:
        """What an index built with this encoder records about it (see :mod:`artsearch.model.choice`)."""
        return IndexModel.of(self.files, self.dim, self.inference)

    def _dimension(self) -> int:
        dim = self.model.get_embedding_dimension()
        if dim:
            return int(dim)
        return int(self.encode_texts(["dimension probe"]).shape[1])

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; longer than the model's token limit is truncated, not an error."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        cleaned = [clean_text(t) for t in texts]
        if any(not t for t in cleaned):
            raise EmptyQuery("Type a few words to search for, for example 'a gloomy winter landscape'.")
        if self._backend is not None:
            step = self.batch_size
            return normalise(
                np.concatenate([self._encode_texts_fast(cleaned[i : i + step]) for i in range(0, len(cleaned), step)])
            )
        with self._lock:
            out = self.model.encode(
                cleaned,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=False,
                show_progress_bar=False,
            )
        return normalise(out)

    def _encode_texts_fast(self, texts: list[str]) -> np.ndarray:
        assert self._backend is not None
        with self._lock:  # the fast tokenizer is not thread-safe either
            tokens = self.model.preprocess(texts)
            return self._backend.text(tokens["input_ids"].numpy(), tokens["attention_mask"].numpy())

    @property
    def max_tokens(self) -> int | None:
        """The model's own token limit (77 for CLIP, 128 for the multilingual students): longer text is cut there."""
        limit = getattr(self.model, "max_seq_length", None)
        return int(limit) if limit else None

    def preprocess_images(self, images: Sequence[Image.Image]) -> Features:
        """CLIP's resize, centre crop and normalisation, as model-ready tensors."""
        if not self.has_images:
            raise ModelLoadError(
                f"The model {self.name} is a text model: it cannot embed images. Set EMBEDDER_NAME (or --model) to "
                "an image model (CLIP) and this one as TEXT_EMBEDDER_NAME (--text-model)."
            )
        return self.model.preprocess(list(images))

    @staticmethod
    def collate_features(parts: Sequence[Features]) -> Features:
        """Join per-image features (from :meth:`preprocess_images` on single images) into one batch.

        CLIP's preprocessing is per image, so this equals preprocessing the batch at once; the
        ingest preprocesses on its decode threads and joins here.
        """
        import torch

        if len(parts) == 1:
            return parts[0]
        out: Features = {}
        for key, value in parts[0].items():
            if isinstance(value, torch.Tensor):
                out[key] = torch.cat([p[key] for p in parts])
            elif isinstance(value, np.ndarray):
                out[key] = np.concatenate([p[key] for p in parts])
            else:
                out[key] = value
        return out

    def encode_features(self, features: Features) -> np.ndarray:
        """Run the model on preprocessed features (one batch)."""
        if self._backend is not None:
            pixels = features["pixel_values"]
            pixels = pixels.numpy() if hasattr(pixels, "numpy") else np.asarray(pixels)
            with self._lock:
                return normalise(self._backend.image(pixels))
        import torch
        from sentence_transformers.util import batch_to_device

        with self._lock, torch.inference_mode():
            out = self.model.forward(batch_to_device(features, self.model.device))
        return normalise(out["sentence_embedding"].float().cpu().numpy())

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Embed PIL images, in batches of ``batch_size``."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self.encode_features(self.preprocess_images(images[i : i + self.batch_size]))
            for i in range(0, len(images), self.batch_size)
        ]
        return np.concatenate(parts)


@dataclass
class ExportResult:
    inference: str
    files: dict[str, Path]
    seconds: float


def export_model(
    name_or_path: str, inferences: Sequence[str], *, force: bool = False, cache_dir: Path | None = None
) -> list[ExportResult]:
    """Load a model in fp32 and export each ONNX path of ``inferences`` (``python -m artsearch optimize``)."""
    import time

    encoder = Encoder(name_or_path, device="cpu", cache_dir=cache_dir)
    results = []
    for inference in inferences:
        started = time.perf_counter()
        files = export(encoder.model, inference, files=encoder.files, cache_root=encoder.cache_dir, force=force)
        results.append(ExportResult(inference, files, time.perf_counter() - started))
    return results


def clear_exports(name_or_path: str, *, cache_dir: Path | None = None) -> Path:
    """Delete the ONNX exports of a model (``python -m artsearch optimize --clear``); returns the folder.

    Needs only the model's files, not a load: a model that no longer loads can still be cleared.
    """
    import shutil

    files = locate(name_or_path)
    if files.folder is None:
        raise CacheError(f"The model {name_or_path} is not on this machine, so it has no exports to clear.")
    folder = export_folder(files, cache_dir or default_cache_root())
    shutil.rmtree(folder, ignore_errors=True)
    return folder
