"""A local stand-in of the Cleveland Museum of Art API, and the records it serves.

The server speaks the museum's documented response format
(``{"info": {...}, "data": [record...]}``, ``images.web.url`` with string
sizes, ``creators[].description`` like ``"Name (Nationality, 1853–1890)"``),
honours ``has_image``/``type``/``department``/``q``/``skip``/``limit`` like the
real API, and serves images including the bad cases: 404, 500 twice, 429 with
``Retry-After``, a truncated JPEG. Every request is logged with its time so
the tests can check retries, ``Retry-After`` and the rate limit.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image

UNICODE_TITLE = "Nature morte aux pêches — 静物"


def jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (seed * 37 % 256, seed * 91 % 256, seed * 13 % 256)).save(buf, "JPEG")
    return buf.getvalue()


@dataclass
class FakeMuseum:
    """State of the stand-in server: records, image bytes, scripted failures, request log."""

    base: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)
    # path -> responses to give before the image itself: (status, headers)
    failures: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    log: list[tuple[float, str, int]] = field(default_factory=list)  # (monotonic time, path, status)
    queries: list[dict[str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # With hold_after = n, image answers after the n-th wait until ``released`` is set (a run can be killed there).
    hold_after: int | None = None
    released: threading.Event = field(default_factory=threading.Event)
    images_served: int = 0

    def requests_to(self, path: str) -> list[tuple[float, int]]:
        with self.lock:
            return [(t, status) for t, p, status in self.log if p == path]

    def image_requests(self) -> list[str]:
        with self.lock:
            return [p for _, p, _ in self.log if p.startswith("/images/")]

    def listing(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """Filter and page like the real /api/artworks/."""
        one = {k: v[0] for k, v in query.items()}
        rows = self.records
        if one.get("has_image") == "1":
            rows = [r for r in rows if r.get("images") is not None]
        if one.get("cc0") == "1":
            rows = [r for r in rows if r.get("share_license_status") == "CC0"]
        if "type" in one:
            rows = [r for r in rows if r.get("type") == one["type"]]
        if "department" in one:
            rows = [r for r in rows if r.get("department") == one["department"]]
        if "q" in one:
            rows = [r for r in rows if one["q"].lower() in json.dumps(r, ensure_ascii=False).lower()]
        skip, limit = int(one.get("skip", 0)), int(one.get("limit", 1000))
        return {"info": {"total": len(rows), "parameters": one}, "data": rows[skip : skip + limit]}


def make_handler(museum: FakeMuseum) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep pytest output quiet
            pass

        def send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            url = urlsplit(self.path)
            with museum.lock:
                museum.log.append((self.started, url.path, status))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self.started = time.monotonic()
            url = urlsplit(self.path)
            if url.path == "/api/artworks/":
                query = parse_qs(url.query)
                with museum.lock:
                    museum.queries.append(query)
                body = json.dumps(museum.listing(query), ensure_ascii=False).encode("utf-8")
                return self.send(200, body, "application/json")
            if url.path == "/notjson/":
                return self.send(200, b"<html>maintenance</html>", "text/html")
            if url.path == "/down/":
                return self.send(503, b"down", "text/plain")
            with museum.lock:
                scripted = museum.failures.get(url.path)
                failure = scripted.pop(0) if scripted else None
            if failure:
                status, headers = failure
                return self.send(status, b"try again", "text/plain", headers)
            if url.path in museum.images:
                with museum.lock:
                    museum.images_served += 1
                    hold = museum.hold_after is not None and museum.images_served > museum.hold_after
                if hold:
                    museum.released.wait(120)  # a safety net only: the test releases it
                return self.send(200, museum.images[url.path], "image/jpeg")
            return self.send(404, b"not found", "text/plain")

    return Handler


def creator(description: str, birth: str | None, death: str | None, bio: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "id": abs(hash(description)) % 100000,
        "description": description,
        "extent": None,
        "qualifier": None,
        "role": "artist",
        "biography": bio,
        "name_in_original_language": extra.get("original"),
        "birth_year": birth,
        "death_year": death,
    }


def record(
    museum: FakeMuseum,
    rid: Any,
    title: Any,
    creators: list[dict[str, Any]],
    *,
    images: Any = "default",
    type_: str = "Painting",
    department: str = "European Painting and Sculpture",
    date: str = "1889",
    earliest: int | None = 1889,
    latest: int | None | str = "earliest",
    culture: list[str] | None = None,
    measurements: str = "Framed: 90 x 110 cm (35 7/16 x 43 5/16 in.); Unframed: 73.5 x 92 cm (28 15/16 x 36 1/4 in.)",
) -> dict[str, Any]:
    """A record in the API's shape; ``images="default"`` links /images/<id>_web.jpg on the stand-in."""
    if images == "default":
        images = {
            size: {
                "url": f"{museum.base}/images/{rid}_{size}.{'tif' if size == 'full' else 'jpg'}",
                "width": str(w),
                "height": str(h),
                "filesize": "1000",
                "filename": f"{rid}_{size}.jpg",
            }
            for size, w, h in (("web", 893, 1000), ("print", 3400, 3807), ("full", 6000, 6719))
        }
    return {
        "id": rid,
        "accession_number": f"19{rid}.1",
        "share_license_status": "CC0",
        "title": title,
        "creation_date": date,
        "creation_date_earliest": earliest,
        "creation_date_latest": earliest if latest == "earliest" else latest,
        "culture": culture if culture is not None else ["Europe, 19th century"],
        "technique": "oil on canvas",
        "creditline": f"Leonard C. Hanna Jr. Fund {rid}",
        "measurements": measurements,
        "department": department,
        "type": type_,
        "url": f"https://clevelandart.org/art/19{rid}.1",
        "images": images,
        "creators": creators,
    }


GOGH = creator("Vincent van Gogh (Dutch, 1853–1890)", "1853", "1890", "Dutch Post-Impressionist painter.")
GOGH_NO_BIO = creator("Vincent van Gogh (Dutch, 1853–1890)", "1853", "1890", None)
COLE = creator("Thomas Cole (American, 1801-1848)", "1801", "1848", None)
HOKUSAI = creator("Katsushika Hokusai (Japanese, 1760–1849)", "1760", "1849", "Ukiyo-e artist.", original="葛飾北斎")
SHERMAN = creator("Cindy Sherman (American, born 1954)", "1954", None, "Photographer.")
MASTER = creator("Master of the Legend (Flemish, active 1480s–1500s)", None, None, None)

GOOD = {1001, 1002, 1003, 1007, 1008, 1009, 1012}  # read() succeeds
YIELDED = GOOD | {1006}  # 1006's image is a 404: yielded, read() fails


@contextmanager
def running_museum() -> Iterator[FakeMuseum]:
    """The stand-in on a free port of 127.0.0.1, serving the records above; shut down afterwards."""
    state = FakeMuseum()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    m = state
    m.records = [
        record(m, 1001, "The Starry Field", [GOGH], date="1889", earliest=1889),
        record(m, 1002, "View of Schroon Mountain", [COLE], date="1838", earliest=1838),
        record(m, 1003, UNICODE_TITLE, [HOKUSAI], date="c. 1830", earliest=1825, culture=["Japan", "Edo period"]),
        record(m, 1004, "No image at all", [COLE], images={}),
        record(m, 1005, "Filtered by has_image", [COLE], images=None),
        record(m, 1006, "Image 404", [COLE]),
        record(m, 1007, "Flaky server", [GOGH_NO_BIO], date="1888", earliest=1888),
        record(m, 1008, "Rate limited", []),
        record(m, 1009, "Truncated JPEG", [SHERMAN], date="1981", earliest=1981),
        record(m, 1010, None, [COLE]),
        record(m, 1011, "A sculpture", [COLE], type_="Sculpture"),
        record(m, 1012, "Altarpiece", [MASTER], department="Medieval Art", date="c. 1490", earliest=1485),
        record(m, None, "Record without id", [COLE]),
    ]
    for rid in GOOD:
        m.images[f"/images/{rid}_web.jpg"] = jpeg(rid)
    full = jpeg(1009)
    m.images["/images/1009_web.jpg"] = full[: len(full) // 2]
    m.images.pop("/images/1006_web.jpg", None)
    m.failures["/images/1007_web.jpg"] = [(500, {}), (500, {})]
    m.failures["/images/1008_web.jpg"] = [(429, {"Retry-After": "1"})]
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


#: Museum records dated in every form the API uses: (id, title, creation_date, creation_date_earliest,
#: creation_date_latest, the span stored). The API gives the numbers for most; two have only the text.
DATED = [
    (2001, "Circa", "c. 1765", 1760, 1770, (1760, 1770)),
    (2002, "Span", "1884 - 1920", 1884, 1920, (1884, 1920)),
    (2003, "Century part", "mid 16th century", None, None, (1530, 1570)),  # no numbers: read from the text
    (2004, "Decade", "1630s", 1630, 1639, (1630, 1639)),
    (2005, "Before", "before 1500", None, None, (1450, 1500)),
    (2006, "Circa span", "ca. 1500–1510", 1500, 1510, (1500, 1510)),
    (2007, "One year", "1889", 1889, 1889, (1889, 1889)),
    (2008, "Undated", "", None, None, None),
]


def build_dated_index(root, model: str, encoder):
    """The :data:`DATED` records served by the stand-in and ingested by the real rebuild; returns the settings."""
    from artsearch.rebuild import rebuild
    from artsearch.sources import SourceOptions
    from tests.support.indexes import test_settings

    with running_museum() as museum:
        makers = [GOGH, COLE, MASTER, HOKUSAI]
        museum.records = [
            record(museum, rid, title, [makers[n % 4]], date=date, earliest=lo, latest=hi)
            for n, (rid, title, date, lo, hi, _) in enumerate(DATED)
        ]
        museum.images = {f"/images/{rid}_web.jpg": _blobs(rid) for rid, *_ in DATED}
        settings = test_settings(root, model, museum_api_url=f"{museum.base}/api/artworks/")
        rebuild(settings, SourceOptions(source="museum"), encoder=encoder, progress=False)
    return settings


def _blobs(seed: int) -> bytes:
    """A distinct picture per record (blobs of colour), so near-duplicate folding keeps them apart."""
    import numpy as np

    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize((160, 120), Image.Resampling.BICUBIC).save(
        buf, "JPEG"
    )
    return buf.getvalue()
