"""Faster CPU inference paths for the CLIP encoder: ONNX Runtime (fp32 or int8) and torch bf16 / int8.

``Settings.inference`` picks one of :data:`INFERENCE_PATHS`:

* ``torch``: sentence-transformers' own forward in fp32 (the reference; nothing here is used).
* ``onnx``: both towers (with their projections) exported to ONNX, run by ONNX Runtime in fp32.
* ``onnx-int8``: the same graphs with the weights of every MatMul dynamically quantised to int8
  (``onnxruntime.quantization.quantize_dynamic``; activations are quantised per batch at run time).
* ``torch-bf16``: the loaded model's weights cast to bfloat16 in place.
* ``torch-int8``: ``torch.ao.quantization.quantize_dynamic`` on every ``nn.Linear``, in place.

The ONNX files are made offline, from the loaded model, by
``python -m artsearch.fastpath export --model PATH --inference onnx-int8`` (about 20 s for
ViT-B/32) and cached next to the model, so an app never pays for the export at start-up:

* in ``<model folder>/onnx/`` when that folder is writable and not inside the Hugging Face cache;
* otherwise in ``$ARTSEARCH_CACHE_DIR`` (default ``~/.cache/artsearch``) ``/onnx/<key>/``, where the
  key hashes the model folder's path and its files' fingerprint.

``onnx/manifest.json`` records the model fingerprint the files were exported from and each file's
size; it is written last, so a half-written export is never taken for a finished one. At load
time a missing, stale (the model changed) or corrupt cache (size mismatch, or ONNX Runtime
refuses the file) makes :func:`load_backend` return ``None`` with one warning, and the encoder
runs the plain torch path; with ``export_missing=True`` (batch jobs such as ingest) it exports
instead. Preprocessing (tokenizer, CLIP's resize/crop/normalise) is always sentence-transformers'
own, so every path sees exactly the same input tensors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

INFERENCE_PATHS: tuple[str, ...] = ("torch", "onnx", "onnx-int8", "torch-bf16", "torch-int8")
ONNX_PATHS: tuple[str, ...] = ("onnx", "onnx-int8")
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


class Backend(Protocol):
    """A forward pass for both towers: projected, not yet normalised, float32 embeddings."""

    name: str

    def image(self, pixel_values: np.ndarray) -> np.ndarray: ...

    def text(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...


class CacheError(Exception):
    """The ONNX cache is missing, stale or corrupt (the message says which)."""


def cpu_threads() -> int:
    """Cores this process may run on (respects CPU affinity, e.g. in containers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def check_inference(inference: str) -> str:
    """The validated inference path name, or ValueError naming the valid ones."""
    value = (inference or "torch").strip().lower()
    if value not in INFERENCE_PATHS:
        raise ValueError(f"inference must be one of {', '.join(INFERENCE_PATHS)}, not {inference!r}")
    return value


# --- the towers as plain modules ------------------------------------------------------------


def clip_of(st_model: Any) -> Any:
    """The transformers ``CLIPModel`` inside a sentence-transformers CLIP."""
    module = st_model[0]
    model = getattr(module, "model", None) or getattr(module, "auto_model", None)
    if model is None or not hasattr(model, "get_image_features"):
        raise TypeError("not a sentence-transformers CLIP model (its first module has no CLIP model)")
    return model


def _pooled(out: Any) -> Any:
    """``get_*_features`` returns a tensor in older transformers, a ModelOutput with ``pooler_output`` in newer."""
    return out if hasattr(out, "shape") else out.pooler_output


def _towers(clip: Any) -> tuple[Any, Any]:
    import torch

    class Vision(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = clip

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return _pooled(self.clip.get_image_features(pixel_values=pixel_values))

    class Text(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = clip

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return _pooled(self.clip.get_text_features(input_ids=input_ids, attention_mask=attention_mask))

    return Vision().eval(), Text().eval()


# --- where the cache lives ------------------------------------------------------------------------


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
        vision, text = _towers(clip.float().cpu())
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
    tmp_manifest = folder / f".{MANIFEST}.{os.getpid()}"
    tmp_manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp_manifest, folder / MANIFEST)
    log.info("exported %s for %s to %s in %.1f s", inference, src, folder, time.perf_counter() - started)
    return check_cache(folder, inference, fp)


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
        self.vision, self.text_tower = _towers(clip)

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
    name_or_path: str | None = None,
    device: str = "cpu",
    export_missing: bool = False,
) -> Backend | None:
    """The backend for ``inference``, or None for the plain torch path.

    A missing, stale or corrupt ONNX cache logs one warning and returns None (torch fallback),
    unless ``export_missing``, which exports it now (about 20 s for ViT-B/32).
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
    src = model_folder(st_model, name_or_path)
    if src is None:
        log.warning("inference=%s: cannot locate the model's folder to find its ONNX export; using torch", inference)
        return None
    fp = fingerprint(src)
    folder = cache_dir(src, fp)
    for attempt in (1, 2):
        try:
            files = check_cache(folder, inference, fp)
            return OnnxBackend(files, inference)
        except CacheError as exc:
            problem = str(exc)
        except Exception as exc:  # onnxruntime raises its own types for unreadable graphs
            log.debug("ONNX Runtime could not load the cache", exc_info=True)
            problem = f"ONNX Runtime could not load the export in {folder} ({type(exc).__name__}: {str(exc)[:160]})"
        if not export_missing or attempt == 2:
            log.warning(
                "inference=%s: %s; using the slower torch path. Export once with: "
                "python -m artsearch.fastpath export --model %s --inference %s",
                inference,
                problem,
                name_or_path or src,
                inference,
            )
            return None
        log.info("inference=%s: %s; exporting it now", inference, problem)
        export(st_model, inference, name_or_path=name_or_path, folder=folder, force=True)
    return None  # pragma: no cover - the loop always returns


# --- command line ---------------------------------------------------------------------------------------


@dataclass
class _ExportResult:
    inference: str
    files: dict[str, Path]
    seconds: float


def export_model(name_or_path: str, inferences: Sequence[str], *, force: bool = False) -> list[_ExportResult]:
    """Load a model in fp32 and export each ONNX path of ``inferences`` (the CLI's work)."""
    from artsearch.encoder import Encoder

    encoder = Encoder(name_or_path, device="cpu")
    results = []
    for inference in inferences:
        started = time.perf_counter()
        files = export(encoder.model, inference, name_or_path=name_or_path, force=force)
        results.append(_ExportResult(inference, files, time.perf_counter() - started))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m artsearch.fastpath", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="export the model's towers to ONNX (and int8) next to the model")
    exp.add_argument("--model", required=True, help="model folder or name (EMBEDDER_NAME)")
    exp.add_argument("--inference", default="onnx-int8", choices=ONNX_PATHS)
    exp.add_argument("--force", action="store_true", help="export again even if a valid export exists")
    rm = sub.add_parser("clear", help="delete the ONNX cache of a model")
    rm.add_argument("--model", required=True)
    args = parser.parse_args(argv)
    # onnxruntime.quantization logs a line per tensor on the root logger at INFO: keep that quiet.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("artsearch").setLevel(logging.INFO)
    if args.command == "export":
        for result in export_model(args.model, [args.inference], force=args.force):
            for tower, path in result.files.items():
                print(f"{result.inference} {tower}: {path} ({path.stat().st_size / 1e6:.0f} MB)")
            print(f"done in {result.seconds:.1f} s")
        return 0
    from artsearch.encoder import Encoder

    encoder = Encoder(args.model, device="cpu")
    src = model_folder(encoder.model, args.model)
    if src is None:
        print("cannot locate the model's folder", file=sys.stderr)
        return 1
    folder = cache_dir(src, fingerprint(src))
    shutil.rmtree(folder, ignore_errors=True)
    print(f"removed {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
