"""The app's server process with the real page: ``app.py`` run by Streamlit's AppTest, over and over, in one
long-lived process, so its ``st.cache_resource`` service (one encoder, one index reader) lives as long as a
``streamlit run`` server's does.

Protocol, as tests/support/search_server.py: one JSON object per line in, one per line out.
``{"text": "...", "k": 50}`` -> ``{"ok": true, "ids": [card ids in order]}`` or ``{"ok": false, "error": "..."}``.
The first line out is ``{"ready": true}``, after a first search has loaded the model and opened the index.
The index, model and data folder come from the environment, as a deployment sets them (QDRANT_PATH, ...).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from tests.support.app import cards, new_app  # noqa: E402


def search(text: str, k: int) -> dict:
    try:
        at = new_app(q=text, k=str(k)).run()
    except Exception as exc:  # noqa: BLE001 - the test wants to see any failure, not a dead pipe
        return {"ok": False, "error": repr(exc)}
    problems = [e.value for e in at.exception] + [e.value for e in at.error]
    return {"ok": not problems, "ids": cards(at), "error": " | ".join(map(str, problems))}


def main() -> int:
    first = search("warm up", 1)
    print(json.dumps({"ready": first["ok"], **({} if first["ok"] else {"error": first["error"]})}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        print(json.dumps(search(request.get("text", ""), int(request.get("k", 12)))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
