"""Reliability guarantees measured in-process: concurrent sessions, text input, SSRF default, outages.

Every test prints a ``FIGURE`` line (shown with ``pytest -s``); docs/reliability.md quotes them.
Process-level guarantees (rebuild while serving, SIGKILL anywhere, secrets in CLI output) live in
tests/test_rebuild_processes.py and tests/test_config_secrets.py.
"""

from __future__ import annotations

import json
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

from artsearch import cli, query_syntax
from artsearch.errors import UnsafeURL
from artsearch.index.builds import new_stamp, read_pointer, write_pointer
from artsearch.index.filters import Filters
from artsearch.search import MAX_QUERY_CHARS, PageOptions, Query, SearchService
from artsearch.web import state as web_state
from tests.support.hostile import adversarial_queries
from tests.support.indexes import copy_index

THREADS = 16
SEARCHES_PER_THREAD = 150  # 2,400 searches in all: bounded by count, never by the clock
FLIP_EVERY = 100  # searches between published builds
SAFETY_NET_S = 300  # only so a hang fails instead of stalling CI; no test asserts a duration


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


def flip_builds(settings, stop: threading.Event, flips: list[int], searches_done) -> None:
    """Publish an identical copy of the live build every FLIP_EVERY searches, as a rebuild of unchanged data would.

    Each flip makes the serving VectorIndex open the new folder and close the old client while other
    threads may be using it: the switch must be invisible to searches. Flips follow the searches' count, not
    the clock, so a slow machine sees as many as a fast one.
    """
    template = Path(settings.qdrant_path).parent / "template-build"
    pointer = read_pointer(settings)
    assert pointer is not None
    shutil.copytree(Path(settings.qdrant_path) / pointer["folder"], template)
    next_flip = FLIP_EVERY
    while not stop.wait(0.01):
        if searches_done() < next_flip:
            continue
        folder = f"{settings.collection_name}-{new_stamp()}"
        shutil.copytree(template, Path(settings.qdrant_path) / folder)
        write_pointer(settings, folder, pointer["collection"])
        flips[0] += 1
        next_flip += FLIP_EVERY


def test_16_sessions_share_one_service_with_identical_results(kaggle_index, tmp_path, shared_encoder, caplog):
    """16 threads, one SearchService (lazy encoder, one Qdrant client), live index switches meanwhile.

    Each thread runs SEARCHES_PER_THREAD searches: the test asserts no errors and answers identical to the serial
    ones, never a throughput (a loaded machine is slower, not wrong)."""
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
    start = threading.Barrier(THREADS)

    def searches_done() -> int:
        with lock:
            return sum(done.values()) + len(errors)

    def session(seed: int) -> None:
        rng = random.Random(seed)
        start.wait()
        for _ in range(SEARCHES_PER_THREAD):
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

    flipper = threading.Thread(target=flip_builds, args=(settings, stop, flips, searches_done), daemon=True)
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
    assert total == THREADS * SEARCHES_PER_THREAD
    assert set(done) == {"text", "image", "like"}
    assert flips[0] >= 3 and switches >= 3


# --- hostile query text: cut before parsing, and no visitor waits for another's query ---------------------------


def _guard_the_parser(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the length of every text that reaches query_syntax; refuse (fail the test) one past the cut at once,
    instead of letting a quadratic parser run on it for hours."""
    seen: list[int] = []
    for name in ("parse", "is_arithmetic", "name_words", "scan"):
        original = getattr(query_syntax, name, None)
        if original is None:
            continue

        def guarded(text, *args, _original=original, _name=name, **kwargs):
            seen.append(len(text))
            assert len(text) <= MAX_QUERY_CHARS, f"{len(text):,} characters reached query_syntax.{_name}"
            return _original(text, *args, **kwargs)

        monkeypatch.setattr(query_syntax, name, guarded)
    return seen


def test_no_query_past_the_cut_reaches_the_parser(kaggle_index, tmp_path, shared_encoder, monkeypatch, capsys):
    """A megabyte of adversarial text from the service, the page's state (a shared link) and the CLI: what reaches
    the parser is at most MAX_QUERY_CHARS characters, and each search answers."""
    settings, layout = copy_index(kaggle_index, tmp_path)
    seen = _guard_the_parser(monkeypatch)
    texts = adversarial_queries()
    service = SearchService(settings, encoder=shared_encoder)
    picture = layout.valid[0].read_bytes()
    try:
        for text in texts.values():
            assert service.page(Query(text=text, k=3)).hits
            assert service.page(Query(image=picture, text=text, k=3)).hits  # words steering an upload
            state = web_state.PageState(text=text)  # what a link's ?q= becomes
            assert service.page(state.query(submitted=True)).hits
    finally:
        service.index.close()
    monkeypatch.setenv("ARTSEARCH_SECRETS", str(tmp_path / "none.toml"))
    connection = ["--model", settings.embedder_name, "--qdrant-path", str(settings.qdrant_path)]
    connection += ["--data-dir", str(settings.data_dir)]
    for text in (texts["spaces"], texts["spaced colons"]):
        capsys.readouterr()
        assert cli.main(["search", text, "--k", "2", "--json", *connection]) == 0
        assert len(json.loads(capsys.readouterr().out)) == 2
    assert seen and max(seen) <= MAX_QUERY_CHARS
    print(
        f"\nFIGURE query-cut: {len(texts)} adversarial 1 MB texts x 3 paths + 2 CLI runs; at most {max(seen):,} characters reached the parser"
    )


def test_a_visitor_is_served_while_another_sends_adversarial_queries(kaggle_index, shared_encoder):
    """One thread sends the megabyte texts (through the service, and straight to the parser) without pause; another
    visitor's searches keep being answered meanwhile. Counted: the visitor completes VISITOR_SEARCHES while the
    adversary is still busy. (Before the fix one such query held the GIL inside the regex engine for hours.)"""
    visitor_searches = 20
    service = SearchService(kaggle_index[0], encoder=shared_encoder)
    texts = list(adversarial_queries().values())
    adversary_started, visitor_finished = threading.Event(), threading.Event()
    adversary_done: list[int] = []
    served_while_busy: list[int] = []
    errors: list[BaseException] = []

    def adversary() -> None:
        try:
            while not visitor_finished.is_set():
                for text in texts:
                    adversary_started.set()
                    service.page(Query(text=text, k=5))
                    query_syntax.parse(text)  # and the parser on the whole megabyte, uncut
                    adversary_done.append(1)
        except BaseException as exc:  # noqa: BLE001 - every failure is a finding
            errors.append(exc)

    def visitor() -> None:
        try:
            adversary_started.wait()
            for i in range(visitor_searches):
                assert service.page(Query(text=f"a gloomy winter landscape {i}", k=5)).hits
                served_while_busy.append(len(adversary_done))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            visitor_finished.set()

    threads = [threading.Thread(target=adversary, daemon=True), threading.Thread(target=visitor, daemon=True)]
    for thread in threads:
        thread.start()
    threads[1].join(SAFETY_NET_S)  # a safety net for a hang, far past a passing run; nothing is timed
    visitor_finished.set()
    threads[0].join(SAFETY_NET_S)
    service.index.close()
    assert not errors, errors[:3]
    assert len(served_while_busy) == visitor_searches, (
        f"the visitor got {len(served_while_busy)} of {visitor_searches} answers while the adversarial queries ran"
    )
    assert not threads[0].is_alive(), "the adversarial thread never finished a query"
    print(
        f"\nFIGURE query-visitor: {visitor_searches} visitor searches answered while {len(adversary_done)} "
        "adversarial 1 MB queries ran beside them"
    )


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
