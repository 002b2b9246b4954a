"""The folder source: any folder of images, artist from sub-folders or a CSV, artists.json merged."""

from __future__ import annotations

import json

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
