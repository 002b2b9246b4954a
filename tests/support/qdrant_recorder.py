"""A local HTTP stand-in for a Qdrant server that records what the client sends.

It answers the REST calls that creating a collection and searching it make (Qdrant's documented JSON:
``{"result": ..., "status": "ok", "time": ...}``) with an empty server's answers, and keeps every request's
method, path and JSON body, so a test can check the exact parameters a remote collection is created and
searched with. It stores nothing: use a real server (``ARTSEARCH_TEST_QDRANT_URL``) to test behaviour.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    body: Any


@dataclass
class QdrantRecorder:
    url: str
    requests: list[Recorded] = field(default_factory=list)

    def bodies(self, method: str, pattern: str) -> list[Any]:
        """The JSON bodies of requests with this method whose path (query string dropped) matches ``pattern``."""
        return [r.body for r in self.requests if r.method == method and re.fullmatch(pattern, r.path.split("?")[0])]


_ANSWERS: list[tuple[str, str, Any]] = [
    ("GET", r"/", {"title": "qdrant - vector search engine", "version": "1.20.0"}),
    ("GET", r"/collections/[^/]+/exists", {"exists": False}),
    ("GET", r"/collections", {"collections": []}),
    ("GET", r"/aliases", {"aliases": []}),
    ("PUT", r"/collections/[^/]+", True),
    ("PUT", r"/collections/[^/]+/index", {"operation_id": 1, "status": "completed"}),
    ("POST", r"/collections/[^/]+/points/query", {"points": []}),
    ("POST", r"/collections/[^/]+/points/query/groups", {"groups": []}),
]


def _handler(recorder: QdrantRecorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            recorder.requests.append(Recorded(self.command, self.path, json.loads(raw) if raw else None))
            path = self.path.split("?")[0]
            for method, pattern, result in _ANSWERS:
                if method == self.command and re.fullmatch(pattern, path):
                    body = result if path == "/" else {"result": result, "status": "ok", "time": 0.0001}
                    self._send(200, body)
                    return
            self._send(404, {"status": {"error": f"not in the stand-in: {self.command} {path}"}, "time": 0.0})

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _answer

        def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
            pass

    return Handler


@contextmanager
def running_qdrant_recorder() -> Iterator[QdrantRecorder]:
    recorder = QdrantRecorder(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
