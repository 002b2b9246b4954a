"""The museum source through the real rebuild: the default without Kaggle credentials, bad records reported."""

from __future__ import annotations

import logging

from artsearch.catalog import artwork_id
from artsearch.rebuild import rebuild
from artsearch.search import Query, SearchService
from artsearch.sources import SourceOptions
from artsearch.storage.local import LocalStorage
from tests.support.indexes import test_settings
from tests.support.museum import GOOD, UNICODE_TITLE, jpeg


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
