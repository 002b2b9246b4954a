"""ONNX exports of the CLIP towers (fp32, and int8 with quantised MatMuls), made once and cached.

The files are made offline from the loaded fp32 model, by ``python -m artsearch optimize`` or by a
rebuild (about 20 s for ViT-B/32), so an app never pays for the export at start-up:

* in ``<model folder>/onnx/`` when that folder is writable and not inside the Hugging Face cache;
* otherwise in ``$ARTSEARCH_CACHE_DIR`` (default ``~/.cache/artsearch``) ``/onnx/<key>/``, where the
  key hashes the model folder's path and its files' fingerprint.

``manifest.json`` records the model fingerprint the files were exported from and each file's
size; it is written last, so a half-written export is never taken for a finished one.
:func:`check_cache` says what is wrong with a missing, stale (the model changed) or corrupt cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from artsearch.config import ONNX_PATHS, check_inference
from artsearch.files import atomic_write_json
from artsearch.model.towers import clip_of, towers

log = logging.getLogger(__name__)

OPSET = 17
MANIFEST = "manifest.json"
_FORMAT = 2  # bump when the exported graphs change (inputs, outputs, pre/post-processing, what is quantised)
# Only the MatMuls (every Linear of both towers) are quantised. The vision tower's one Conv, the
# patch embedding, stays fp32: ONNX Runtime's ConvInteger kernel is a slow generic one (12% of
# the int8 forward, 129 ms of 1050 per batch of 32 on an AVX2 CPU, against 53 ms for the fp32
# Conv), and quantising raw pixels costs ranking fidelity too.
QUANTISED_OPS = ["MatMul"]
_SMALL_FILE = 8 * 1024 * 1024
_EDGE = 1024 * 1024


class CacheError(Exception):
    """The ONNX cache is missing, stale or corrupt (the message says which)."""


def model_folder(st_model: Any, name_or_path: str | None = None) -> Path | None:
    """The local folder the CLIP weights were loaded from (a Hugging Face cache snapshot for hub names)."""
    try:
        path = Path(clip_of(st_model).config._name_or_path)
        if path.is_dir():
            return path.resolve()
    except (TypeError, AttributeError):
        pass
    if name_or_path and Path(name_or_path).expanduser().is_dir():
        return Path(name_or_path).expanduser().resolve()
    return None


def fingerprint(folder: Path) -> str:
    """A cheap content fingerprint of a model folder (our own ``onnx/`` cache excluded).

    Small files are hashed whole. Large files (weights) by size, mtime and their first and last
    MiB, except Hugging Face cache blobs, which are named by their own sha256 already.
    """
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if rel.parts[0] == "onnx" or path.is_dir():
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


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK) and "huggingface" not in folder.parts


def user_cache_dir() -> Path:
    return Path(os.environ.get("ARTSEARCH_CACHE_DIR") or Path.home() / ".cache" / "artsearch").expanduser()


def cache_dir(folder: Path, model_fingerprint: str) -> Path:
    """``<model>/onnx`` when the model folder is ours to write to, else a keyed folder in the user cache."""
    if _writable(folder):
        return folder / "onnx"
    key = hashlib.sha256(f"{folder}\0{model_fingerprint}".encode()).hexdigest()[:20]
    return user_cache_dir() / "onnx" / key


def onnx_files(inference: str) -> dict[str, str]:
    """Tower -> file name for an ONNX path."""
    suffix = ".int8.onnx" if inference == "onnx-int8" else ".onnx"
    return {"vision": "vision" + suffix, "text": "text" + suffix}


def _read_manifest(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / MANIFEST).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def check_cache(folder: Path, inference: str, model_fingerprint: str) -> dict[str, Path]:
    """The cached files for ``inference``, or CacheError saying what is wrong with them."""
    manifest = _read_manifest(folder)
    if not manifest:
        raise CacheError(f"no ONNX export in {folder}")
    if manifest.get("fingerprint") != model_fingerprint or manifest.get("format") != _FORMAT:
        raise CacheError(f"the ONNX export in {folder} was made from a different model or artsearch version")
    files = manifest.get("files", {})
    out = {}
    for tower, name in onnx_files(inference).items():
        path = folder / name
        if name not in files:
            raise CacheError(f"{path} has not been exported")
        if not path.is_file() or path.stat().st_size != files[name]:
            raise CacheError(f"{path} is missing or has the wrong size (a partial copy or a corrupt file)")
        out[tower] = path
    return out


# --- export -----------------------------------------------------------------------------------------


class _DropAdvice(logging.Filter):
    """Drops ONNX Runtime's "consider pre-processing before quantization" line: it is about static
    quantisation (calibration), not the dynamic kind used here, and would puzzle every rebuild's operator."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def _export_tower(module: Any, args: tuple[Any, ...], path: Path, inputs: list[str], axes: dict[str, dict]) -> None:
    import torch

    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(
            module,
            args,
            str(path),
            input_names=inputs,
            output_names=["embedding"],
            dynamic_axes={**axes, "embedding": {0: "batch"}},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def export(
    st_model: Any,
    inference: str = "onnx-int8",
    *,
    name_or_path: str | None = None,
    folder: Path | None = None,
    force: bool = False,
) -> dict[str, Path]:
    """Export (and for ``onnx-int8`` quantise) both towers of a loaded fp32 CLIP; returns the files.

    Files already exported from the same model are reused unless ``force``. Writes go to a
    temporary folder first and are moved into place, manifest last, so a crash or a concurrent
    export never leaves a cache that looks complete but is not.
    """
    import torch

    inference = check_inference(inference)
    if inference not in ONNX_PATHS:
        raise ValueError(f"only {', '.join(ONNX_PATHS)} are exported; {inference} runs in torch directly")
    src = model_folder(st_model, name_or_path)
    if src is None:
        raise CacheError("cannot tell which folder the model was loaded from, so there is nowhere to cache it")
    fp = fingerprint(src)
    folder = folder or cache_dir(src, fp)
    if not force:
        try:
            return check_cache(folder, inference, fp)
        except CacheError:
            pass
    clip = clip_of(st_model)
    if next(clip.parameters()).dtype != torch.float32:
        raise CacheError("export needs the model in float32 (load it with inference='torch')")
    folder.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(folder)
    if manifest.get("fingerprint") != fp or manifest.get("format") != _FORMAT:
        manifest = {"format": _FORMAT, "fingerprint": fp, "source": str(src), "files": {}}
    names = onnx_files(inference)
    fp32_names = onnx_files("onnx")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=".export-", dir=folder) as tmp_name:
        tmp = Path(tmp_name)
        vision, text = towers(clip.float().cpu())
        size = int(clip.config.vision_config.image_size)
        tokens = st_model.preprocess(["an export example", "a second, longer export example text"])
        _export_tower(
            vision,
            (torch.zeros(2, 3, size, size),),
            tmp / fp32_names["vision"],
            ["pixel_values"],
            {"pixel_values": {0: "batch"}},
        )
        _export_tower(
            text,
            (tokens["input_ids"], tokens["attention_mask"]),
            tmp / fp32_names["text"],
            ["input_ids", "attention_mask"],
            {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}},
        )
        made = dict(fp32_names)
        if inference == "onnx-int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quiet = _DropAdvice()  # the quantiser advises static-quantisation pre-processing on the root logger
            logging.getLogger().addFilter(quiet)
            try:
                for tower, name in names.items():
                    quantize_dynamic(
                        tmp / fp32_names[tower],
                        tmp / name,
                        weight_type=QuantType.QInt8,
                        op_types_to_quantize=QUANTISED_OPS,
                    )
            finally:
                logging.getLogger().removeFilter(quiet)
            made.update({f"{t}-int8": n for t, n in names.items()})
        for name in made.values():
            os.replace(tmp / name, folder / name)
            manifest["files"][name] = (folder / name).stat().st_size
    manifest["exported"] = {
        "torch": torch.__version__,
        "opset": OPSET,
        "seconds": round(time.perf_counter() - started, 1),
    }
    atomic_write_json(folder / MANIFEST, manifest, indent=2)
    log.info("exported %s for %s to %s in %.1f s", inference, src, folder, time.perf_counter() - started)
    return check_cache(folder, inference, fp)
