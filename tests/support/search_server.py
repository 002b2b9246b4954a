"""A stand-in for the app's server process: one SearchService answering searches over stdin/stdout.

Streamlit's page cannot be queried from a test without a browser, so this process plays the app's part in
tests/test_rebuild_processes.py: it builds exactly one :class:`SearchService` (as ``st.cache_resource``
does for the app) and keeps it for its whole life, so an index switch must happen inside that object.

Protocol: one JSON object per line in, one per line out.
``{"text": "...", "k": 50}`` -> ``{"ok": true, "ids": [...]}`` or ``{"ok": false, "type": "...", "error": "..."}``.
The first line out is ``{"ready": true}``, after a first search has loaded the model and opened the index.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from artsearch.config import load_settings  # noqa: E402
from artsearch.errors import ArtsearchError  # noqa: E402
from artsearch.search import Query, SearchService  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--qdrant-path", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    # Only what the test passes counts: the engine and inference path its index was built with.
    env = {k: v for k, v in os.environ.items() if k in ("ARTSEARCH_EMBEDDED_ENGINE", "ARTSEARCH_INFERENCE")}
    settings = load_settings(
        secrets={},
        env=env,
        embedder_name=args.model,
        qdrant_path=args.qdrant_path,
        data_dir=args.data_dir,
        device="cpu",
    )
    service = SearchService(settings)
    service.page(Query(text="warm up", k=1))
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            hits = service.page(Query(text=request.get("text", ""), k=int(request.get("k", 10)))).hits
            reply = {"ok": True, "ids": [h.artwork_id for h in hits]}
        except ArtsearchError as exc:
            reply = {"ok": False, "type": type(exc).__name__, "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - the test wants to see any failure, not a dead pipe
            reply = {"ok": False, "type": type(exc).__name__, "error": repr(exc)}
        print(json.dumps(reply), flush=True)
    service.index.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
