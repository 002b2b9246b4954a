"""The folder source: any folder of images, artist from sub-folders or a CSV, artists.json merged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artsearch.errors import SourceError
from artsearch.sources.folder import FolderSource, title_from_filename
from tests.support.datasets import jpeg_bytes, painting


def make_folder(root):
    (root / "Paul Klee").mkdir(parents=True)
    (root / "Paul Klee" / "castle_and_sun.jpg").write_bytes(jpeg_bytes(painting(1)))
    (root / "Paul Klee" / "senecio.jpg").write_bytes(jpeg_bytes(painting(2)))
    (root / "loose.jpg").write_bytes(jpeg_bytes(painting(3)))
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.jpg").write_bytes(jpeg_bytes(painting(4)))
    return root


def test_artist_from_subfolder_title_from_filename_hidden_ignored(tmp_path):
    source = FolderSource(make_folder(tmp_path / "art"))
    items = {i.artwork.source_id: i.artwork for i in source.items()}
    assert set(items) == {"Paul Klee/castle_and_sun.jpg", "Paul Klee/senecio.jpg", "loose.jpg"}
    assert items["Paul Klee/senecio.jpg"].artist == "Paul Klee"
    assert items["Paul Klee/castle_and_sun.jpg"].title == "Castle and sun"
    assert items["loose.jpg"].artist == "Unknown artist"
    assert items["loose.jpg"].image_key == "images/folder/loose.jpg"


def test_csv_metadata_and_artists_json_fill_in_details(tmp_path):
    root = make_folder(tmp_path / "art")
    (root / "meta.csv").write_text(
        "path,title,artist,year,genre,nationality\nloose.jpg,Twittering Machine,Paul Klee,1922,Expressionism,Swiss\n"
    )
    (root / "artists.json").write_text(json.dumps({"paul-klee": {"name": "Paul Klee", "bio": "Swiss-German painter."}}))
    source = FolderSource(root, metadata_csv=root / "meta.csv")
    items = {i.artwork.source_id: i.artwork for i in source.items()}
    loose = items["loose.jpg"]
    assert (loose.title, loose.artist, loose.year, loose.nationality) == (
        "Twittering Machine",
        "Paul Klee",
        1922,
        "Swiss",
    )
    assert source.artists()["paul-klee"].bio == "Swiss-German painter."


def test_per_artist_limits_each_artist(tmp_path):
    source = FolderSource(make_folder(tmp_path / "art"), per_artist=1)
    artists = [i.artwork.artist for i in source.items()]
    assert sorted(artists) == ["Paul Klee", "Unknown artist"]


def test_bad_csv_and_missing_folder_are_clear_errors(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        FolderSource(tmp_path / "nope")
    root = make_folder(tmp_path / "art")
    (root / "meta.csv").write_text("file,title\nloose.jpg,x\n")
    with pytest.raises(SourceError, match="'path' column"):
        FolderSource(root, metadata_csv=root / "meta.csv")


def test_titles_from_filenames():
    assert title_from_filename("Vincent_van_Gogh_12") == "Vincent van Gogh 12"
    assert title_from_filename("water-lilies") == "Water lilies"


# --- through the rebuild: formats, files that are not images, artsearch's own folders ------------------------


def test_an_owners_formats_are_indexed_and_shown_and_other_files_listed(tmp_path, tiny_clip_path, shared_encoder):
    from artsearch.images import WEB_FORMATS, load_image
    from artsearch.rebuild import rebuild
    from artsearch.sources import SourceOptions
    from tests.support.datasets import library_format_files
    from tests.support.indexes import all_payloads, test_settings

    images = tmp_path / "collection"
    (images / "Studio").mkdir(parents=True)
    pictures = library_format_files()
    for name, data in pictures.items():
        (images / "Studio" / name).write_bytes(data)
    (images / "Studio" / "painting.jpg").write_bytes(jpeg_bytes(painting(1)))
    not_images = {"README.txt": b"About this collection", "notes.md": b"# notes", "clip.mp4": b"\x00\x00\x00 ftyp"}
    for name, data in not_images.items():
        (images / name).write_bytes(data)
    (images / "metadata.csv").write_text("path,title\nStudio/painting.tga,A targa\n")  # our own files: silent
    (images / "artists.json").write_text(json.dumps({"studio": {"name": "Studio", "bio": "A workshop."}}))
    settings = test_settings(tmp_path, tiny_clip_path)
    report = rebuild(
        settings, SourceOptions(source="folder", images_dir=images), encoder=shared_encoder, progress=False
    )

    assert report.indexed == len(pictures) + 1, report.summary()
    listed = {Path(origin).name: reason for origin, reason in report.skipped}
    assert set(listed) == set(not_images) and all("is not an image file" in r for r in listed.values()), listed
    payloads = {p["source_id"]: p for p in all_payloads(settings)}
    assert payloads["Studio/painting.tga"]["title"] == "A targa"
    for name in pictures:
        payload = payloads[f"Studio/{name}"]
        assert (payload["width"], payload["height"]) == (64, 48), payload
        # What the page shows is a JPEG copy (browsers cannot show TGA, PSD, JPEG 2000...); the web formats decode it.
        assert payload["image_key"].endswith(f"{name}.jpg")
        shown = load_image((settings.data_dir / payload["image_key"]).read_bytes(), formats=WEB_FORMATS)
        assert shown.size == (64, 48)
    assert payloads["Studio/painting.jpg"]["image_key"].endswith("painting.jpg")  # a JPEG is kept as it is


def test_uploads_and_urls_keep_the_short_list(kaggle_index, shared_encoder):
    from artsearch.errors import ImageError
    from artsearch.search import Query, SearchService
    from tests.support.datasets import library_format_files

    settings, _, _ = kaggle_index
    service = SearchService(settings, encoder=shared_encoder)
    try:
        for name, data in library_format_files().items():
            with pytest.raises(ImageError) as info:
                service.page(Query(image=data, k=3))
            assert "use a JPEG, PNG, WEBP, GIF, BMP or TIFF file" in str(info.value), name
    finally:
        service.index.close()


def test_artsearchs_own_folders_inside_the_images_folder_are_never_read(tmp_path, tiny_clip_path, shared_encoder):
    """`--images-dir .` from the project: its data/ (with the images artsearch keeps) and the index lie inside."""
    from artsearch.rebuild import rebuild
    from artsearch.sources import SourceOptions
    from tests.support.indexes import all_payloads, test_settings

    project = tmp_path / "project"
    (project / "Painter").mkdir(parents=True)
    for n in range(3):
        (project / "Painter" / f"p{n}.jpg").write_bytes(jpeg_bytes(painting(60 + n)))
    settings = test_settings(project, tiny_clip_path, qdrant_path=project / "index")
    options = SourceOptions(source="folder", images_dir=project)
    for _ in range(2):  # the second run finds the images the first one kept in data/, and the index folder
        report = rebuild(settings, options, encoder=shared_encoder, progress=False)
        assert not report.skipped, report.summary()
    assert (settings.data_dir / "images" / "folder" / "Painter" / "p0.jpg").is_file()
    assert sorted(p["source_id"] for p in all_payloads(settings)) == [
        "Painter/p0.jpg",
        "Painter/p1.jpg",
        "Painter/p2.jpg",
    ]
