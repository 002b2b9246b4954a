"""MuseumSource against a local stand-in of the Cleveland Museum of Art API (``tests/support/museum.py``).

The stand-in speaks the museum's documented response format and serves images including the bad cases: 404,
500 twice, 429 with ``Retry-After``, a truncated JPEG. Every request is logged with its time so the tests can
check retries, ``Retry-After`` and the rate limit. The last test runs the museum source through the real
rebuild: the default without Kaggle credentials, bad records reported.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from artsearch.catalog import artwork_id
from artsearch.errors import ArtsearchError, SourceError
from artsearch.rebuild import rebuild
from artsearch.search import Query, SearchService
from artsearch.sources import SourceOptions
from artsearch.sources.museum import MuseumSource, parse_creator_description, retry_after_seconds
from artsearch.storage.local import LocalStorage
from tests.support.cli import run_cli
from tests.support.indexes import test_settings
from tests.support.museum import GOOD, UNICODE_TITLE, YIELDED, FakeMuseum, jpeg
from tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[1]


def source(museum: FakeMuseum, root: Path, **kwargs: Any) -> MuseumSource:
    kwargs = {"page_size": 3, "rate_limit": 5.0, "backoff": 0.1, "timeout": 5.0, **kwargs}
    return MuseumSource(f"{museum.base}/api/artworks/", storage=LocalStorage(root), **kwargs)


def read_all(items: list[Any], workers: int = 4) -> tuple[dict[str, bytes], dict[str, str]]:
    """Call item.read() on a thread pool like the ingest does; (source_id -> bytes, source_id -> error)."""

    def one(item: Any) -> tuple[str, bytes | None, str | None]:
        try:
            return item.artwork.source_id, item.read(), None
        except ArtsearchError as exc:
            return item.artwork.source_id, None, str(exc)

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(one, items))
    return {sid: data for sid, data, _ in results if data is not None}, {sid: err for sid, _, err in results if err}


def test_ingest_maps_records_downloads_retries_and_reports(museum: FakeMuseum, tmp_path: Path) -> None:
    src = source(museum, tmp_path)
    items = list(src.items())

    ids = [item.artwork.source_id for item in items]
    assert sorted(ids) == sorted(str(i) for i in YIELDED)  # each good record once, in API order
    assert len(ids) == len(set(ids))
    skipped = dict(src.skipped())
    assert skipped == {
        "https://clevelandart.org/art/191004.1": "no image",
        "https://clevelandart.org/art/191010.1": "no title",
        "https://clevelandart.org/art/19None.1": "no id",
    }
    query = museum.queries[0]
    assert query["has_image"] == ["1"] and query["cc0"] == ["1"] and query["type"] == ["Painting"]
    assert query["limit"] == ["3"] and [q["skip"][0] for q in museum.queries] == ["0", "3", "6", "9"]

    by_id = {item.artwork.source_id: item.artwork for item in items}
    starry = by_id["1001"]
    assert (starry.source, starry.title, starry.artist, starry.nationality, starry.year) == (
        "museum",
        "The Starry Field",
        "Vincent van Gogh",
        "Dutch",
        1889,
    )
    assert (starry.genre, starry.width, starry.height) == ("Painting", 893, 1000)
    assert starry.image_key == "museum/images/1001.jpg"
    assert starry.source_url == "https://clevelandart.org/art/191001.1"
    assert starry.extra == {
        "date": "1889",
        "type": "Painting",
        "technique": "oil on canvas",
        "department": "European Painting and Sculpture",
        "accession_number": "191001.1",
        "culture": "Europe, 19th century",
        "credit_line": "Leonard C. Hanna Jr. Fund 1001",
        "measurements": "Framed: 90 x 110 cm (35 7/16 x 43 5/16 in.); Unframed: 73.5 x 92 cm (28 15/16 x 36 1/4 in.)",
        "licence": "CC0",
        "image_url": f"{museum.base}/images/1001_web.jpg",
    }
    assert by_id["1003"].title == UNICODE_TITLE and by_id["1003"].artist == "Katsushika Hokusai"
    # The date as the museum writes it (the year is only the earliest), and every culture the record names.
    assert (by_id["1003"].extra["date"], by_id["1003"].year) == ("c. 1830", 1825)
    assert by_id["1003"].extra["culture"] == "Japan; Edo period"
    assert by_id["1008"].artist == "Unknown artist" and by_id["1008"].nationality == ""

    artists = src.artists()
    assert set(artists) == {
        "vincent-van-gogh",
        "thomas-cole",
        "katsushika-hokusai",
        "cindy-sherman",
        "master-of-the-legend",
    }
    gogh = artists["vincent-van-gogh"]
    assert (gogh.name, gogh.years, gogh.birth_year, gogh.death_year, gogh.nationality) == (
        "Vincent van Gogh",
        "1853–1890",
        1853,
        1890,
        "Dutch",
    )
    assert gogh.bio == "Dutch Post-Impressionist painter."  # the record without a bio did not erase it
    assert artists["thomas-cole"].bio == "" and artists["thomas-cole"].years == "1801–1848"
    assert (artists["cindy-sherman"].birth_year, artists["cindy-sherman"].death_year) == (1954, None)
    assert artists["master-of-the-legend"].years == "active 1480s–1500s"
    assert artists["master-of-the-legend"].nationality == "Flemish"

    start = len(museum.log)
    images, errors = read_all(items)
    assert set(images) == {str(i) for i in GOOD}
    assert errors.keys() == {"1006"} and "not found" in errors["1006"] and "1006_web.jpg" in errors["1006"]
    for rid in GOOD - {1009}:
        assert images[str(rid)] == jpeg(rid)
        assert (tmp_path / f"museum/images/{rid}.jpg").read_bytes() == jpeg(rid)
    # The truncated JPEG arrives intact at the HTTP level; the ingest's decoder is what refuses it.
    # It is not kept, so a later run fetches it again (the museum may have fixed it).
    assert images["1009"] == museum.images["/images/1009_web.jpg"]
    assert not (tmp_path / "museum/images/1009.jpg").exists()
    # Only the web size is ever fetched.
    assert all(path.endswith("_web.jpg") for path in museum.image_requests())

    assert [s for _, s in museum.requests_to("/images/1006_web.jpg")] == [404]  # 404: no retry
    assert [s for _, s in museum.requests_to("/images/1007_web.jpg")] == [500, 500, 200]
    rate_limited = museum.requests_to("/images/1008_web.jpg")
    assert [s for _, s in rate_limited] == [429, 200]
    assert rate_limited[1][0] - rate_limited[0][0] >= 1.0  # Retry-After: 1 honoured

    # The rate limit holds across the listing and the four download threads.
    times = sorted(t for t, _, _ in museum.log)
    assert len(times) == len(museum.log) > start
    busiest = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
    assert busiest <= 5 + 1, f"{busiest} requests in one second"


def test_second_run_downloads_nothing_already_stored(museum: FakeMuseum, tmp_path: Path) -> None:
    first = source(museum, tmp_path, rate_limit=50.0)
    read_all(list(first.items()))
    before = museum.image_requests()

    second = source(museum, tmp_path, rate_limit=50.0)
    images, errors = read_all(list(second.items()))
    new = museum.image_requests()[len(before) :]
    # Only what never succeeded is asked for again: the 404, and the truncated file that was not kept.
    assert sorted(new) == ["/images/1006_web.jpg", "/images/1009_web.jpg"]
    assert set(images) == {str(i) for i in GOOD} and set(errors) == {"1006"}
    assert images["1001"] == jpeg(1001)


def test_killed_run_resumes_to_same_final_state(museum: FakeMuseum, tmp_path: Path) -> None:
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    read_all(list(source(museum, reference, rate_limit=50.0).items()))
    museum.failures["/images/1007_web.jpg"] = [(500, {}), (500, {})]
    museum.failures["/images/1008_web.jpg"] = [(429, {"Retry-After": "1"})]

    script = textwrap.dedent(f"""
        from pathlib import Path
        from artsearch.errors import ArtsearchError
        from artsearch.sources.museum import MuseumSource
        from artsearch.storage.local import LocalStorage
        src = MuseumSource({museum.base + "/api/artworks/"!r}, storage=LocalStorage(Path({str(resumed)!r})),
                           page_size=3, rate_limit=3.0, backoff=0.1)
        for item in src.items():
            try:
                item.read()
            except ArtsearchError:
                pass
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    museum.images_served, museum.hold_after = (
        0,
        2,
    )  # the third image waits: the kill lands part way however fast or slow the machine is
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=REPO)
    images_dir = resumed / "museum" / "images"
    deadline = time.monotonic() + 120  # a safety net, not a speed
    while time.monotonic() < deadline and len(list(images_dir.glob("*.jpg"))) < 2:
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=10)
    museum.hold_after = None
    museum.released.set()
    done_before = {p.name for p in images_dir.glob("*.jpg")}
    assert 2 <= len(done_before) < len(GOOD), "the run should have been killed part way"

    requests_before = len(museum.log)
    read_all(list(source(museum, resumed, rate_limit=50.0).items()))
    asked_again = {p for _, p, _ in museum.log[requests_before:]}
    assert not {f"/images/{name.removesuffix('.jpg')}_web.jpg" for name in done_before} & asked_again

    def snapshot(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    assert snapshot(resumed) == snapshot(reference)  # same files, same bytes, no leftover temp files
    assert len(snapshot(reference)) == len(GOOD) - 1  # every image that decodes; not the truncated 1009


def test_filters_and_limit_are_passed_to_the_api(museum: FakeMuseum, tmp_path: Path) -> None:
    src = source(museum, tmp_path, rate_limit=50.0, query="pêches")
    assert [i.artwork.title for i in src.items()] == [UNICODE_TITLE]
    assert museum.queries[-1]["q"] == ["pêches"]

    src = source(museum, tmp_path, rate_limit=50.0, department="Medieval Art")
    assert [i.artwork.source_id for i in src.items()] == ["1012"]

    src = source(museum, tmp_path, rate_limit=50.0, artwork_type="Sculpture")
    assert [i.artwork.genre for i in src.items()] == ["Sculpture"]

    pages = len(museum.queries)
    src = source(museum, tmp_path, rate_limit=50.0, limit=2)
    assert [i.artwork.source_id for i in src.items()] == ["1001", "1002"]
    assert len(museum.queries) == pages + 1  # stopped after the first page
    assert not museum.image_requests()  # listing never downloads; read() does


@pytest.mark.parametrize("where", ["unreachable", "/notjson/", "/down/"])
def test_broken_api_is_a_one_line_source_error(museum: FakeMuseum, tmp_path: Path, where: str) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/artworks/" if where == "unreachable" else museum.base + where
    src = MuseumSource(url, storage=LocalStorage(tmp_path), max_retries=2, backoff=0.01, rate_limit=50.0)
    with pytest.raises(SourceError) as info:
        list(src.items())
    message = str(info.value)
    assert "\n" not in message and "ARTSEARCH_MUSEUM_API_URL" in message and url.split("?")[0] in message
    if where == "/down/":
        assert [s for _, s in museum.requests_to("/down/")] == [503, 503, 503]  # 1 try + 2 retries


def test_image_failing_every_retry_raises_source_error(museum: FakeMuseum, tmp_path: Path) -> None:
    museum.failures["/images/1001_web.jpg"] = [(502, {})] * 5
    src = source(museum, tmp_path, rate_limit=50.0, max_retries=2, limit=1)
    (item,) = list(src.items())
    with pytest.raises(SourceError, match="HTTP 502 after 3 attempt"):
        item.read()
    assert not (tmp_path / "museum/images/1001.jpg").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Vincent van Gogh (Dutch, 1853–1890)", ("Vincent van Gogh", "Dutch", 1853, 1890)),
        ("Thomas Cole (American, 1801-1848)", ("Thomas Cole", "American", 1801, 1848)),
        ("Cindy Sherman (American, born 1954)", ("Cindy Sherman", "American", 1954, None)),
        ("Master of the Legend (Flemish, active 1480s–1500s)", ("Master of the Legend", "Flemish", None, None)),
        ("Anonymous (active 1600s)", ("Anonymous", "", None, None)),
        ("Unknown painter (Unknown, 1600-1650)", ("Unknown painter", "", 1600, 1650)),
        ("Someone (1850–1900)", ("Someone", "", 1850, 1900)),
        ("Jan Steen", ("Jan Steen", "", None, None)),
        ("Pierre Mignard (French, c. 1612–after 1695)", ("Pierre Mignard", "French", 1612, 1695)),
        ("Jacopo Robusti (Tintoretto) (Italian, 1518–1594)", ("Jacopo Robusti (Tintoretto)", "Italian", 1518, 1594)),
        ("Lyonel Feininger (American, born Germany, 1871–1956)", ("Lyonel Feininger", "American", 1871, 1956)),
        ("A Monk (died 1600)", ("A Monk", "", None, 1600)),
        ("", ("", "", None, None)),
    ],
)
def test_parse_creator_description(text: str, expected: tuple[Any, ...]) -> None:
    assert parse_creator_description(text) == expected


def test_retry_after_seconds_or_http_date() -> None:
    now = time.time()
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert retry_after_seconds(formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


# --- through the rebuild -----------------------------------------------------------------------------------


def test_default_rebuild_without_kaggle_uses_the_museum_and_reports_bad_records(
    museum,
    tmp_path,
    tiny_clip_path,
    shared_encoder,
    monkeypatch,
    caplog,
):
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "no-kaggle"))
    monkeypatch.delenv("KAGGLE_API_TOKEN", raising=False)
    settings = test_settings(tmp_path, tiny_clip_path, museum_api_url=f"{museum.base}/api/artworks/")
    with caplog.at_level(logging.WARNING, logger="artsearch.rebuild"):
        report = rebuild(settings, SourceOptions(), encoder=shared_encoder, progress=False)
    fallback = [r.getMessage() for r in caplog.records if "No Kaggle credentials" in r.getMessage()]
    assert len(fallback) == 1 and "--source museum" in fallback[0] and "\n" not in fallback[0]

    decodable = GOOD - {1009}  # 1009's JPEG is truncated: downloaded fine, refused by the decoder
    assert report.indexed == len(decodable)
    reasons = dict(report.skipped)
    skipped_ids = " ".join(origin for origin, _ in report.skipped)
    for bad in ("1006", "1009", "1004"):  # image 404, truncated image, no image at all
        assert bad in skipped_ids, report.summary()
    assert any("404" in reason for reason in reasons.values())

    service = SearchService(settings, encoder=shared_encoder)
    try:
        points = {str(p.id): p.payload for p in service.index.scroll(limit=100)}
        assert set(points) == {artwork_id("museum", str(rid)) for rid in decodable}
        hokusai = points[artwork_id("museum", "1003")]
        assert hokusai["title"] == UNICODE_TITLE and hokusai["artist"] == "Katsushika Hokusai"
        assert hokusai["year"] == 1825 and hokusai["source_url"]
        artists = LocalStorage(settings.data_dir).read_artists()
        assert artists["vincent-van-gogh"].bio == "Dutch Post-Impressionist painter."
        assert artists["vincent-van-gogh"].nationality == "Dutch"
        first = service.page(Query(like_id=artwork_id("museum", "1001"), k=3)).hits
        assert first and all(h.image_url for h in first)  # images were kept in storage for the page
    finally:
        service.index.close()

    requests_before = len(museum.log)
    again = rebuild(settings, SourceOptions(source="museum"), encoder=shared_encoder, progress=False)
    image_requests = [path for _, path, _ in museum.log[requests_before:] if path.startswith("/images/")]
    assert again.indexed == len(decodable)  # a fresh build, re-encoded from stored images
    # Only what never became an artwork is fetched again: the 404 and the truncated JPEG, which a
    # fixed museum file would now repair. The truncated bytes were never kept in storage.
    assert set(image_requests) == {"/images/1006_web.jpg", "/images/1009_web.jpg"}
    assert not LocalStorage(settings.data_dir).has_image("museum/images/1009.jpg")

    museum.images["/images/1009_web.jpg"] = jpeg(1009)  # the museum repairs its file
    repaired = rebuild(settings, SourceOptions(source="museum"), encoder=shared_encoder, progress=False)
    assert repaired.indexed == len(decodable) + 1
    assert LocalStorage(settings.data_dir).read_image("museum/images/1009.jpg") == jpeg(1009)


def test_no_network_says_so_and_leaves_no_build_folder_behind(tmp_path, tiny_clip_path):
    """`initialize_db.py --source museum` on a machine without network: the API's name does not resolve."""
    settings = test_settings(tmp_path, tiny_clip_path)
    unresolvable = "http://openaccess-api.clevelandart.invalid/api/artworks/"  # .invalid never resolves (RFC 2606)
    result = run_cli(
        ["qdrant/initialize_db.py", "--source", "museum", "--no-progress"], settings,
        env_extra={"ARTSEARCH_MUSEUM_API_URL": unresolvable},
    )  # fmt: skip
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "cannot reach the museum api" in errors[0].lower() and "(no network?" in errors[0]
    assert "use --source folder --images-dir DIR" in errors[0]
    qdrant = Path(settings.qdrant_path)
    assert not qdrant.exists() or not [p for p in qdrant.iterdir() if p.is_dir() and p.name != ".readers"]
