"""ONNX exports of the CLIP towers (fp32, and int8 with quantised MatMuls), made once and cached.

The files are made offline from the loaded fp32 model, by ``python -m artsearch optimize`` or by a
rebuild (about 20 s for ViT-B/32), so an app never pays for the export at start-up. They live in a
cache of our own, never inside the model's folder (which may be read-only, shared, or the Hugging Face
cache): ``<ARTSEARCH_CACHE_DIR>/onnx/<key>/`` (default ``data/cache/onnx/``), where the key is the hub
repo id and revision (``sentence-transformers--clip-ViT-B-32/<commit>``), or for a folder its name and
a hash of its content (``tiny-clip-shapes-<hash>``), so a copied or moved folder finds its export.

``manifest.json`` records the model fingerprint the files were exported from and each file's
size; it is written last, so a half-written export is never taken for a finished one.
:func:`check_cache` says what is wrong with a missing, stale (the model changed) or corrupt cache.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from artsearch.config import ONNX_PATHS, check_inference
from artsearch.errors import ExportError
from artsearch.files import atomic_write_json
from artsearch.model.hub import verbose
from artsearch.model.locate import ModelFiles
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


class CacheError(ExportError):
    """The ONNX cache is missing, stale or corrupt (the message says which)."""


def default_cache_root() -> Path:
    """The export cache when no Settings say otherwise: ``ARTSEARCH_CACHE_DIR``, else ``data/cache``
    (what :attr:`artsearch.config.Settings.export_cache_dir` gives with the default data folder)."""
    return Path(os.environ.get("ARTSEARCH_CACHE_DIR") or Path("data") / "cache").expanduser()


def export_folder(files: ModelFiles, cache_root: Path | None = None) -> Path:
    """The folder a model's exports live in, inside ``cache_root`` (default :func:`default_cache_root`)."""
    return Path(cache_root or default_cache_root()) / "onnx" / files.export_key()


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

    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        if not verbose():  # the tracer's advice is for whoever wrote the model, not for our operator
            warnings.simplefilter("ignore")
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
    files: ModelFiles,
    cache_root: Path | None = None,
    folder: Path | None = None,
    force: bool = False,
) -> dict[str, Path]:
    """Export (and for ``onnx-int8`` quantise) both towers of a loaded fp32 CLIP; returns the files.

    Files already exported from the same model are reused unless ``force``. Writes go to a
    temporary folder first and are moved into place, manifest last, so a crash or a concurrent
    export never leaves a cache that looks complete but is not. Any failure (a full disk, a
    read-only cache, a graph the exporter refuses) is a one-line :class:`CacheError`.
    """
    inference = check_inference(inference)
    if inference not in ONNX_PATHS:
        raise ValueError(f"only {', '.join(ONNX_PATHS)} are exported; {inference} runs in torch directly")
    fp = files.fingerprint
    folder = folder or export_folder(files, cache_root)
    if not force:
        try:
            return check_cache(folder, inference, fp)
        except CacheError:
            pass
    try:
        return _export(st_model, inference, files, folder, fp)
    except CacheError:
        raise
    except OSError as exc:
        raise CacheError(
            f"Cannot write the ONNX export to {folder} ({exc.strerror or exc}): free some space, or set "
            "ARTSEARCH_CACHE_DIR to a writable folder."
        ) from None
    except Exception as exc:  # torch.onnx and the quantiser raise many types
        log.debug("ONNX export failed", exc_info=True)
        raise CacheError(
            f"Could not export {files.describe()} to ONNX ({type(exc).__name__}: {str(exc)[:200]}); "
            "set ARTSEARCH_INFERENCE=torch to run without the fast path."
        ) from None


def _export(st_model: Any, inference: str, files: ModelFiles, folder: Path, fp: str) -> dict[str, Path]:
    import torch

    clip = clip_of(st_model)
    if next(clip.parameters()).dtype != torch.float32:
        raise CacheError("export needs the model in float32 (load it with inference='torch')")
    folder.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(folder)
    if manifest.get("fingerprint") != fp or manifest.get("format") != _FORMAT:
        manifest = {"format": _FORMAT, "fingerprint": fp, "source": files.describe(), "files": {}}
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
    log.info("exported %s for %s to %s in %.1f s", inference, files.describe(), folder, time.perf_counter() - started)
    return check_cache(folder, inference, fp)
