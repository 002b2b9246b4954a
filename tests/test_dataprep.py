"""artsearch.dataprep on real files: the Kaggle-layout fixture with a mis-encoded folder, an unmatched artist and broken files."""

from __future__ import annotations

import csv
import unicodedata
from pathlib import Path

import pytest
from PIL import Image

from artsearch import dataprep
from artsearch.errors import ConfigError, SourceError
from artsearch.sources import SourceOptions, open_source
from artsearch.sources.folder import FolderSource
from artsearch.storage.local import LocalStorage
from tests.support.datasets import UNMATCHED_ARTIST, jpeg_bytes, make_kaggle_layout, painting


@pytest.fixture(scope="module")
def kaggle(tmp_path_factory: pytest.TempPathFactory):
    layout = make_kaggle_layout(tmp_path_factory.mktemp("dataprep") / "kaggle")
    scan = dataprep.scan_source(open_source(SourceOptions(source="kaggle", images_dir=layout.root, download=False)))
    return layout, scan


def origins(checks: list[dataprep.FileCheck]) -> set[str]:
    return {c.item.origin for c in checks}


def test_scan_separates_every_valid_and_every_broken_file(kaggle):
    layout, scan = kaggle
    assert origins(scan.valid) == {str(p) for p in layout.valid}
    assert origins(scan.broken) == {str(p) for p in layout.broken}
    assert all(c.width and c.height and c.size_bytes for c in scan.valid)
    reasons = {Path(c.original).name: c.reason for c in scan.broken}
    assert "truncated" in reasons["Vincent_van_Gogh_truncated.jpg"]
    assert "empty (0 bytes)" in reasons["Vincent_van_Gogh_empty.jpg"]
    assert "not an image" in reasons["Vincent_van_Gogh_text.jpg"]
    assert "megapixels" in reasons["Vincent_van_Gogh_bomb.png"]
    assert "not an image" in reasons["notes.bin"]
    # Reasons name the file by its path inside the dataset, not the machine's absolute path.
    assert all(c.reason.startswith(c.original) and not c.original.startswith("/") for c in scan.broken)


def test_scan_reports_repaired_names_and_unmatched_artists(kaggle):
    _, scan = kaggle
    folder = [r for r in scan.repairs if r.kind == "folder"]
    assert [(r.before, r.after, r.fix) for r in folder] == [("Albrecht_Du╠êrer", "Albrecht_Dürer", "mis-encoded UTF-8")]
    files = [r for r in scan.repairs if r.kind == "file"]
    assert len(files) == 4 and all(r.after.startswith("Albrecht_Dürer_") for r in files)
    assert scan.unmatched == ["Mystery Painter"]
    assert scan.without_images == []
    assert scan.has_artist_table
    rows = {r["folder"]: r for r in scan.artist_rows()}
    assert rows["Albrecht_Du╠êrer"]["artist"] == "Albrecht Dürer"
    assert rows["Albrecht_Du╠êrer"]["in artists.csv"] is True
    assert rows["Albrecht_Du╠êrer"]["nationality"] == "German"
    assert rows[UNMATCHED_ARTIST]["in artists.csv"] is False
    assert (rows["Vincent_van_Gogh"]["images"], rows["Vincent_van_Gogh"]["broken"]) == (4, 5)
    assert scan.unmatched_rows() == [{"artist": "Mystery Painter", "files": 4, "valid images": 4}]


def test_summary_counts_before_and_after(kaggle):
    layout, scan = kaggle
    summary = {r["step"]: (r["before"], r["after"]) for r in scan.summary_rows()}
    assert summary["files"] == (len(layout.valid) + len(layout.broken), len(layout.valid))
    assert summary["broken files"] == (len(layout.broken), 0)
    assert summary["mis-encoded names"] == (5, 0)
    assert summary["artists"] == (4, 4)
    assert summary["artists without an artists.csv row"] == (1, 1)
    assert len(scan.file_rows()) == len(scan.files)
    assert {r["file"] for r in scan.broken_rows()} == {c.original for c in scan.broken}


def test_csv_rows_without_images_are_listed(tmp_path: Path):
    layout = make_kaggle_layout(tmp_path / "kaggle", per_artist=1)
    with (layout.root / "artists.csv").open("a", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerow([9, "Frida Kahlo", "1907 - 1954", "Primitivism", "Mexican", "", "", 0])
    scan = dataprep.scan_source(open_source(SourceOptions(source="kaggle", images_dir=layout.root, download=False)))
    assert scan.without_images == ["Frida Kahlo"]


def test_counts_per_artist_genre_and_nationality(kaggle):
    _, scan = kaggle
    by_artist = {r["artist"]: r["images"] for r in dataprep.counts(scan.valid, "artist")}
    assert by_artist == {"Claude Monet": 10, "Albrecht Dürer": 4, "Mystery Painter": 4, "Vincent van Gogh": 4}
    assert dataprep.counts(scan.valid, "artist")[0] == {"artist": "Claude Monet", "images": 10}
    by_genre = {r["genre"]: r["images"] for r in dataprep.counts(scan.valid, "genre")}
    assert by_genre["Impressionism"] == 10 and by_genre["(unknown)"] == 4
    by_nationality = {r["nationality"]: r["images"] for r in dataprep.counts(scan.valid, "nationality")}
    assert by_nationality == {"French": 10, "German": 4, "Dutch": 4, "(unknown)": 4}
    with pytest.raises(ValueError):
        dataprep.counts(scan.valid, "year")  # type: ignore[arg-type]


def test_an_artwork_with_several_genres_counts_in_each(kaggle):
    _, scan = kaggle
    check = scan.valid[0]
    check.item.artwork.genre, saved = "Expressionism,Abstract Expressionism", check.item.artwork.genre
    try:
        genres = {r["genre"]: r["images"] for r in dataprep.counts([check], "genre")}
    finally:
        check.item.artwork.genre = saved
    assert genres == {"Abstract Expressionism": 1, "Expressionism": 1}


def test_sample_takes_artists_in_turn_and_only_usable_files(kaggle):
    _, scan = kaggle
    picked = dataprep.sample(scan.files, per_artist=2, limit=6)
    assert len(picked) == 6 and all(c.ok for c in picked)
    assert [c.artist for c in picked[:4]] == ["Albrecht Dürer", "Claude Monet", "Mystery Painter", "Vincent van Gogh"]
    everything = dataprep.sample(scan.files, per_artist=1, limit=100)
    assert len(everything) == 4


def test_contact_sheet_is_one_rgb_image_with_a_cell_per_thumbnail(kaggle):
    _, scan = kaggle
    picked = dataprep.sample(scan.valid, per_artist=2, limit=6)
    sheet = dataprep.contact_sheet(picked, columns=4, thumb=100)
    assert isinstance(sheet, Image.Image) and sheet.mode == "RGB"
    assert sheet.size == (8 + 4 * 108, 8 + 2 * (100 + 16 + 8))
    # Something was drawn in the first cell (the thumbnails are colourful, the background white).
    assert sheet.crop((8, 8, 108, 108)).getextrema() != ((255, 255),) * 3
    blank = dataprep.contact_sheet(scan.broken, columns=3, thumb=50, label=False)
    assert blank.getextrema() == ((255, 255),) * 3


def test_write_cleaned_keeps_exactly_the_valid_images_under_repaired_names(kaggle, tmp_path: Path):
    layout, scan = kaggle
    out = tmp_path / "cleaned"
    cleaned = dataprep.write_cleaned(scan, out)
    assert (out / dataprep.MARKER).is_file()
    assert {p.parent.name for p in cleaned.images} == {
        "Albrecht Dürer",
        "Claude Monet",
        "Mystery Painter",
        "Vincent van Gogh",
    }
    assert (out / "Albrecht Dürer" / "Albrecht_Dürer_1.jpg").read_bytes() == (
        layout.images_dir / "Albrecht_Du╠êrer" / "Albrecht_Du╠êrer_1.jpg"
    ).read_bytes()
    written = sorted(p for p in out.rglob("*") if p.is_file() and p.parent != out)
    assert written == sorted(cleaned.images) and len(written) == len(layout.valid)
    assert not any("truncated" in p.name or p.suffix == ".bin" for p in written)

    # The cleaned folder is an ordinary folder source with the metadata CSV.
    items = list(FolderSource(out, metadata_csv=cleaned.metadata_csv).items())
    assert len(items) == len(layout.valid)
    by_file = {Path(i.origin).name: i.artwork for i in items}
    assert by_file["Albrecht_Dürer_2.jpg"].artist == "Albrecht Dürer"
    assert by_file["Albrecht_Dürer_2.jpg"].nationality == "German"
    assert by_file["Claude_Monet_cmyk.jpg"].genre == "Impressionism"
    assert by_file[f"{UNMATCHED_ARTIST}_1.jpg"].artist == "Mystery Painter"
    assert by_file[f"{UNMATCHED_ARTIST}_1.jpg"].genre == ""

    artists = LocalStorage(out).read_artists()
    assert set(artists) == {"albrecht-durer", "claude-monet", "mystery-painter", "vincent-van-gogh"}
    assert artists["albrecht-durer"].bio == "Albrecht Dürer was a painter."
    assert artists["mystery-painter"].bio == ""
    with cleaned.rejected_csv.open(encoding="utf-8") as fh:
        rejected = list(csv.DictReader(fh))
    assert {r["original"] for r in rejected} == {c.original for c in scan.broken}
    assert all(r["reason"] for r in rejected)
    with cleaned.metadata_csv.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == dataprep.METADATA_COLUMNS
    assert {r["original"] for r in rows} == {c.original for c in scan.valid}


def test_write_cleaned_replaces_its_own_previous_copy(kaggle, tmp_path: Path):
    _, scan = kaggle
    out = tmp_path / "cleaned"
    dataprep.write_cleaned(scan, out)
    stale = out / "Old Artist" / "gone.jpg"
    stale.parent.mkdir()
    stale.write_bytes(b"stale")
    dataprep.write_cleaned(scan, out)
    assert not stale.exists()
    assert (out / "Claude Monet" / "Claude_Monet_1.jpg").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["cleaned"]  # no temporary folders left behind


def test_write_cleaned_refuses_folders_it_did_not_write_and_the_source_itself(kaggle, tmp_path: Path):
    layout, scan = kaggle
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete")
    with pytest.raises(SourceError, match="not empty"):
        dataprep.write_cleaned(scan, precious)
    assert (precious / "thesis.txt").read_text() == "do not delete"
    for target in (layout.images_dir / "cleaned", layout.images_dir, layout.root):
        with pytest.raises(SourceError, match="overlaps"):
            dataprep.write_cleaned(scan, target)
    assert not (layout.images_dir / "cleaned").exists()


def test_folder_source_names_repairs_nfc_and_collisions(tmp_path: Path):
    images = tmp_path / "images"
    nfd = unicodedata.normalize("NFD", "Édouard Manet")
    for folder in (nfd, "b"):
        (images / folder).mkdir(parents=True)
    (images / nfd / "olympia.jpg").write_bytes(jpeg_bytes(painting(1)))
    (images / "b" / "olympia.jpg").write_bytes(jpeg_bytes(painting(2)))
    metadata = images / "metadata.csv"
    metadata.write_text(
        f"path,artist\n{nfd}/olympia.jpg,Édouard Manet\nb/olympia.jpg,Édouard Manet\n", encoding="utf-8"
    )
    source = open_source(SourceOptions(source="folder", images_dir=images))
    assert source.metadata  # open_source picked up metadata.csv beside the images
    scan = dataprep.scan_source(source)
    assert [(r.kind, r.fix) for r in scan.repairs] == [("folder", "Unicode normalised (NFC)")]
    assert not scan.has_artist_table and scan.unmatched == []
    assert {r["in artists.csv"] for r in scan.artist_rows()} == {None}
    cleaned = dataprep.write_cleaned(scan, tmp_path / "out")
    assert sorted(p.name for p in cleaned.images) == ["olympia.jpg", "olympia_2.jpg"]
    assert {p.parent.name for p in cleaned.images} == {"Édouard Manet"}
    again = dataprep.scan_source(open_source(SourceOptions(source="folder", images_dir=cleaned.root)))
    assert len(again.valid) == 2 and not again.repairs and {c.artist for c in again.valid} == {"Édouard Manet"}


def test_check_item_turns_an_unreadable_file_into_a_reason(tmp_path: Path):
    (tmp_path / "a").mkdir()
    path = tmp_path / "a" / "gone.jpg"
    path.write_bytes(jpeg_bytes(painting(3)))
    item = next(FolderSource(tmp_path).items())
    path.unlink()
    check = dataprep.check_item(item, name="a/gone.jpg")
    assert not check.ok and "Cannot read" in check.reason


def test_open_source_refuses_a_source_it_does_not_know(tmp_path: Path):
    with pytest.raises(ConfigError, match="auto, kaggle, folder, museum"):
        open_source(SourceOptions(source="flickr", images_dir=tmp_path))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Albrecht Dürer", "Albrecht Dürer"),
        ("AC/DC", "AC_DC"),
        ("..", "unnamed"),
        (".hidden", "hidden"),
        ("a\tb", "a_b"),
    ],
)
def test_safe_component(name: str, expected: str):
    assert dataprep.safe_component(name) == expected
