"""Run as a subprocess by tests/test_images_memory.py: decode one image file the ways artsearch does, and print the
peak memory each way took above the process's resident size just before it (JSON on stdout).

``python tests/support/memory_probe.py FILE MODEL WARMUP_IMAGE``. The peak is VmHWM from /proc/self/status, reset
before each step by writing 5 to /proc/self/clear_refs, so each step is measured on its own. Steps: ``load_image``
at full size (what a caller without a size in mind gets), the page's upload preview (``web.pictures.preview``) and
the search's query vector (``SearchService.image_vector``, the upload path of a search).

``python tests/support/memory_probe.py FILE MODEL WARMUP_IMAGE --page QDRANT_PATH DATA_DIR``: the page server
instead: ``app.py`` through AppTest in this process, on that index, shows its first page and a search with
WARMUP_IMAGE, then the visitor uploads FILE; the report has the process's peak over its life and the upload's peak.
"""

from __future__ import annotations

import gc
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def measure(step: Callable[[], object]) -> dict[str, object]:
    from artsearch.errors import ImageError

    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident size
    base = status_kb("VmRSS")
    try:
        step()
        outcome = "ok"
    except ImageError as exc:
        outcome = str(exc)
    return {"peak_mb": round((status_kb("VmHWM") - base) / 1024, 1), "outcome": outcome}


def page(path: Path, model: str, warmup: Path, qdrant_path: str, data_dir: str) -> dict[str, object]:
    import os

    os.environ.update(
        QDRANT_URL="", QDRANT_PATH=qdrant_path, ARTSEARCH_DATA_DIR=data_dir, EMBEDDER_NAME=model,
        ARTSEARCH_DEVICE="cpu", ARTSEARCH_STORAGE_BACKEND="local", ARTSEARCH_SECRETS=str(Path(data_dir) / "none.toml"),
    )  # fmt: skip
    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parents[2]
    os.chdir(root)
    at = AppTest.from_file(str(root / "app.py"), default_timeout=300)
    at.run()
    at.radio(key="mode").set_value("image").run()

    def upload(file: Path) -> None:
        at.file_uploader(key="upload").set_value((file.name, file.read_bytes(), "image/png"))
        at.run()

    upload(warmup)  # the model is loaded and one search has run: the server as a visitor finds it
    step = measure(lambda: upload(path))
    return {
        "upload": step,
        "errors": [e.value for e in at.error],
        "exceptions": [e.value for e in at.exception],
        "cards": sum(1 for b in at.button if b.key and b.key.startswith("like_")),
        "peak_during_upload_mb": round(status_kb("VmHWM") / 1024, 1),  # the whole process, reset before the upload
        "rss_mb": round(status_kb("VmRSS") / 1024, 1),
    }


def main() -> None:
    path, model = Path(sys.argv[1]), sys.argv[2]
    if len(sys.argv) > 4 and sys.argv[4] == "--page":
        print(json.dumps(page(path, model, Path(sys.argv[3]), sys.argv[5], sys.argv[6])))
        return
    from artsearch.config import load_settings
    from artsearch.images import load_image
    from artsearch.model.encoder import Encoder
    from artsearch.search import SearchService
    from artsearch.web import pictures

    root = Path(tempfile.mkdtemp())
    settings = load_settings(secrets={}, env={}, qdrant_path=root / "qdrant", data_dir=root / "data", device="cpu")
    service = SearchService(settings, encoder=Encoder(model, device="cpu"))
    data = path.read_bytes()
    service.image_vector(Path(sys.argv[3]).read_bytes() if len(sys.argv) > 3 else data)  # warm up torch once
    report = {
        "load_image": measure(lambda: load_image(data, name=path.name)),
        "preview": measure(lambda: pictures.preview(data, settings)),
        "image_vector": measure(lambda: service.image_vector(data, name=path.name)),
        "rss_mb": round(status_kb("VmRSS") / 1024, 1),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
