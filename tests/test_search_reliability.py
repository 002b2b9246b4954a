"""Reliability guarantees measured in-process: concurrent sessions, text input, SSRF default, outages.

Every test prints a ``FIGURE`` line (shown with ``pytest -s``); docs/reliability.md quotes them.
Process-level guarantees (rebuild while serving, SIGKILL anywhere, secrets in CLI output) live in
tests/test_rebuild_processes.py and tests/test_config_secrets.py.
"""

from __future__ import annotations

import logging
import random
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from artsearch.errors import UnsafeURL
from artsearch.index.builds import new_stamp, read_pointer, write_pointer
from artsearch.index.filters import Filters
from artsearch.search import MAX_QUERY_CHARS, PageOptions, Query, SearchService
from tests.support.indexes import copy_index

THREADS = 16
MIN_SEARCHES = 2_000
MAX_SEARCHES = 2_400
MAX_SECONDS = 50.0
FLIP_EVERY = 0.05  # seconds between published builds


def answer(hits) -> list[tuple[str, float]]:
    """What a result list is compared by: ids and scores rounded to 5 decimals, in order."""
    return [(h.artwork_id, round(h.score, 5)) for h in hits]


def mixed_queries(layout, ids: list[str]) -> list[tuple[Query, PageOptions]]:
    """Text, image and more-like-this queries, some filtered, some paged."""
    texts = ["a gloomy winter landscape", "water lilies", "portrait of a woman in blue", "🎨 منظر طبيعي", "x" * 500]
    images = [p.read_bytes() for p in layout.valid[::4]][:6]
    likes = ids[::3][:6]
    monet = Filters(artist=["Claude Monet"])
    one = PageOptions()
    queries: list[tuple[Query, PageOptions]] = []
    for i, text in enumerate(texts):
        queries.append((Query(text=text, k=5 + i), one))
        queries.append((Query(text=text, k=10, filters=monet if i % 2 else Filters(nationality=["Dutch"])), one))
    for i, data in enumerate(images):
        queries.append((Query(image=data, k=8), PageOptions(pages=1 + i % 3)))
        queries.append((Query(image=data, k=4, filters=monet), one))
    for i, like in enumerate(likes):
        queries.append((Query(like_id=like, k=6 + i), one))
        genres = Filters(genre=["Impressionism", "Post-Impressionism"])
        queries.append((Query(like_id=like, k=5, filters=genres), one))
    return queries


def flip_builds(settings, stop: threading.Event, flips: list[int]) -> None:
    """Publish an identical copy of the live build every FLIP_EVERY seconds, as a rebuild of unchanged data would.

    Each flip makes the serving VectorIndex open the new folder and close the old client while other
    threads may be using it: the switch must be invisible to searches.
    """
    template = Path(settings.qdrant_path).parent / "template-build"
    pointer = read_pointer(settings)
    assert pointer is not None
    shutil.copytree(Path(settings.qdrant_path) / pointer["folder"], template)
    while not stop.wait(FLIP_EVERY):
        folder = f"{settings.collection_name}-{new_stamp()}"
        shutil.copytree(template, Path(settings.qdrant_path) / folder)
        write_pointer(settings, folder, pointer["collection"])
        flips[0] += 1


def test_16_sessions_share_one_service_with_identical_results(kaggle_index, tmp_path, shared_encoder, caplog):
    """16 threads, one SearchService (lazy encoder, one Qdrant client), live index switches meanwhile."""
    caplog.set_level(logging.INFO, logger="artsearch.index")
    settings, layout = copy_index(kaggle_index, tmp_path)
    serial = SearchService(settings, encoder=shared_encoder)
    queries = mixed_queries(layout, sorted(str(r.id) for r in serial.index.scroll(limit=1000)))
    expected = [answer(serial.page(q, o).hits) for q, o in queries]
    serial.index.close()
    assert all(expected)

    shared = SearchService(settings)  # loads its own encoder lazily, from 16 threads at once
    errors: list[BaseException] = []
    mismatches: list[tuple[int, list, list]] = []
    done = Counter[str]()
    lock = threading.Lock()
    stop = threading.Event()
    flips = [0]
    deadline = time.monotonic() + MAX_SECONDS
    start = threading.Barrier(THREADS)

    def session(seed: int) -> None:
        rng = random.Random(seed)
        start.wait()
        while not stop.is_set() and time.monotonic() < deadline:
            with lock:
                if sum(done.values()) >= MAX_SEARCHES:
                    return
            i = rng.randrange(len(queries))
            try:
                got = answer(shared.page(*queries[i]).hits)
            except BaseException as exc:  # noqa: BLE001 - every failure is a finding
                with lock:
                    errors.append(exc)
                continue
            with lock:
                done[queries[i][0].mode] += 1
                if got != expected[i]:
                    mismatches.append((i, got, expected[i]))

    flipper = threading.Thread(target=flip_builds, args=(settings, stop, flips), daemon=True)
    workers = [threading.Thread(target=session, args=(seed,)) for seed in range(THREADS)]
    started = time.monotonic()
    flipper.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    stop.set()
    flipper.join()
    shared.index.close()

    total = sum(done.values())
    switches = sum("switched to the rebuilt index" in r.getMessage() for r in caplog.records)
    print(
        f"\nFIGURE concurrency: {total} searches ({dict(done)}) from {THREADS} threads in {elapsed:.1f} s, "
        f"{flips[0]} builds published, {switches} switches by the service, {len(errors)} errors, {len(mismatches)} mismatches"
    )
    kinds = Counter(f"{type(e).__name__}: {str(e)[:60]}" for e in errors)
    assert not errors, f"{len(errors)} errors: {kinds.most_common(5)}"
    assert not mismatches, mismatches[:3]
    assert total >= MIN_SEARCHES, f"only {total} searches in {MAX_SECONDS} s"
    assert set(done) == {"text", "image", "like"}
    assert flips[0] >= 3 and switches >= 3


# --- 5. image URL search through the service: the SSRF defaults hold -----------------------------------------


class _ImageHandler(BaseHTTPRequestHandler):
    body = b""
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        type(self).requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def image_server(kaggle_index) -> Iterator[tuple[str, type[_ImageHandler]]]:
    """A local HTTP server answering every GET with one indexed painting."""
    _, layout, _ = kaggle_index
    handler = type("Handler", (_ImageHandler,), {"body": layout.valid[0].read_bytes(), "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/painting.jpg", handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[::ffff:127.0.0.1]/x.jpg",
        "http://10.0.0.1/x.jpg",
        "file:///etc/passwd",
        "http://user:secret-password@example.com/x.jpg",
    ],
)
def test_service_refuses_internal_urls_by_default(kaggle_index, shared_encoder, url):
    service = SearchService(kaggle_index[0], encoder=shared_encoder)
    assert service.settings.allow_private_urls is False
    try:
        with pytest.raises(UnsafeURL) as info:
            service.page(Query(image_url=url))
    finally:
        service.index.close()
    assert "\n" not in str(info.value) and "secret-password" not in str(info.value)


def test_service_url_search_refuses_loopback_unless_allowed(kaggle_index, tmp_path, shared_encoder, image_server):
    """Settings.allow_private_urls reaches fetch_image_bytes: off by default (no request made), on for local use."""
    url, handler = image_server
    settings, layout = copy_index(kaggle_index, tmp_path)
    refusing = SearchService(settings, encoder=shared_encoder)
    with pytest.raises(UnsafeURL, match="loopback"):
        refusing.page(Query(image_url=url))
    refusing.index.close()
    assert handler.requests == []  # refused before connecting

    allowing = SearchService(settings.replace(allow_private_urls=True), encoder=shared_encoder)
    hits = allowing.page(Query(image_url=url, k=3)).hits
    allowing.index.close()
    assert handler.requests == ["/painting.jpg"]
    assert hits[0].image_url and Path(hits[0].image_url).name == layout.valid[0].name and hits[0].score > 0.99
    print("\nFIGURE ssrf-service: 6 refusals checked at the SearchService level (5 addresses + loopback default)")


# --- 6. text input: CLIP's 77-token limit really truncates ---------------------------------------------------


def test_texts_differing_only_after_token_77_embed_identically(shared_encoder):
    tokenizer = shared_encoder.model.tokenizer
    assert shared_encoder.model.max_seq_length == 77  # what sentence-transformers truncates at
    head = " ".join(["landscape"] * 80)
    assert len(tokenizer(head)["input_ids"]) > 77  # the shared head alone is past the limit
    same = shared_encoder.encode_texts([head + " with a red boat", head + " 🎨 منظر طبيعي " + "x" * 5000])
    assert np.array_equal(same[0], same[1])
    short = " ".join(["landscape"] * 60)  # the difference falls inside the limit: embeddings differ
    differ = shared_encoder.encode_texts([short + " with a red boat", short + " at night in the snow"])
    assert not np.allclose(differ[0], differ[1])
    print("\nFIGURE text: texts differing only after token 77 embed identically; within 77 tokens they differ")


def test_service_search_with_overlong_text_matches_its_truncation(kaggle_index, shared_encoder):
    """10,000 characters search like their first 2,000 (MAX_QUERY_CHARS), and like their first 77 tokens."""
    service = SearchService(kaggle_index[0], encoder=shared_encoder)
    try:
        text = "a gloomy landscape in the winter, " * 300
        assert len(text) > 10_000
        long_hits = answer(service.page(Query(text=text, k=10)).hits)
        short_hits = answer(service.page(Query(text=text[:MAX_QUERY_CHARS], k=10)).hits)
        assert long_hits == short_hits and len(long_hits) == 10
    finally:
        service.index.close()
