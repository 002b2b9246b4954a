"""The Kaggle archive as people download it from the website, passed to the real CLI in every form they might.

The archive is unzipped by hand: ``artists.csv``, ``images/images/<Folder>/...`` for all 50 artists,
``resized/resized/...`` (smaller copies of the same pictures), and in some copies a second, correctly named
Albrecht Dürer folder. Whichever folder the user passes as ``--images-dir``, each picture is indexed once
and all 50 artists get their artists.csv row.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artsearch.catalog import slugify
from artsearch.errors import SourceError
from artsearch.sources.kaggle import find_archive
from tests.support.cli import run_cli
from tests.support.datasets import KAGGLE_ARCHIVE_ARTISTS, make_kaggle_archive
from tests.support.indexes import all_payloads, test_settings

PER_ARTIST = 2


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    """~/Downloads with the archive unzipped into it (the website's zip unzips to a folder named archive)."""
    root = tmp_path_factory.mktemp("Downloads")
    (root / "holiday.jpg").write_bytes(b"not part of the archive")
    return root, make_kaggle_archive(root / "archive", per_artist=PER_ARTIST)


FORMS = {
    "the archive's folder": (lambda a: a.root, []),
    "its images folder": (lambda a: a.root / "images", ["--source", "kaggle"]),
    "images/images": (lambda a: a.root / "images" / "images", []),
    "the Downloads folder holding it": (lambda a: a.root.parent, []),
}


@pytest.mark.parametrize("form", FORMS)
def test_every_picture_once_and_all_50_artists_with_their_csv_row(downloads, tmp_path, tiny_clip_path, form):
    _, archive = downloads
    given, flags = FORMS[form]
    settings = test_settings(tmp_path, tiny_clip_path)
    result = run_cli(
        ["qdrant/initialize_db.py", "--images-dir", str(given(archive)), *flags, "--no-progress"], settings
    )
    assert result.returncode == 0, result.stderr[-3000:]

    payloads = all_payloads(settings)
    pictures = {name: paths for name, paths in archive.pictures.items()}
    assert len(payloads) == 50 * PER_ARTIST  # the Dürer copies and the resized copies add nothing
    assert len({p["_id"] for p in payloads}) == len(payloads)
    assert not [p for p in payloads if "resized" in p["image_key"] or p["artist"] in ("images", "resized")]
    by_artist: dict[str, int] = {}
    for p in payloads:
        by_artist[p["artist"]] = by_artist.get(p["artist"], 0) + 1
    assert by_artist == {name: len(paths) for name, paths in pictures.items()}  # the CSV's spelling, 50 of them

    artists = json.loads((settings.data_dir / "artists.json").read_text())
    for name, years, genre, nationality in KAGGLE_ARCHIVE_ARTISTS:
        record = artists[slugify(name)]
        assert record["name"] == name and record["years"] == years.replace(" - ", "–"), record
        assert record["genre"] == genre and record["nationality"] == nationality, record
        assert record["bio"].startswith(f"{name} (") and record["wikipedia"].endswith(name.replace(" ", "_"))
    durer = [p for p in payloads if p["artist"] == "Albrecht Dürer"]
    assert {p["nationality"] for p in durer} == {"German"} and len(durer) == PER_ARTIST
    assert "copies of pictures already read" in result.stdout  # the second Dürer folder, said once
    info = json.loads(run_cli(["-m", "artsearch", "info", "--json"], settings).stdout)
    assert info["artworks"] == 50 * PER_ARTIST and info["artists"] == 50


def test_every_form_finds_the_same_archive(downloads):
    _, archive = downloads
    for form, (given, _) in FORMS.items():
        found = find_archive(given(archive))
        assert found is not None, form
        assert found.images == archive.root / "images" / "images" and found.artists_csv.is_file(), form


def test_a_folder_of_paintings_is_not_taken_for_the_archive(tmp_path):
    (tmp_path / "Claude Monet").mkdir()
    (tmp_path / "Claude Monet" / "lilies.jpg").write_bytes(b"x")
    assert find_archive(tmp_path) is None


def test_two_archives_in_one_folder_ask_which_one(tmp_path):
    for name in ("archive", "archive (1)"):
        make_kaggle_archive(tmp_path / name, per_artist=1, durer_twice=False)
    with pytest.raises(SourceError, match="2 copies of the Kaggle archive"):
        find_archive(tmp_path)
    assert find_archive(tmp_path / "archive (1)").root == Path(tmp_path / "archive (1)")
