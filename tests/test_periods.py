"""Dates as the sources write them, read as the earliest and latest year (artsearch/periods.py)."""

from __future__ import annotations

import pytest

from artsearch.catalog import Artwork
from artsearch.periods import Period, artist_period, from_fields, parse_period

#: Every form the museum, Kaggle and folders write, and the span each means (the module's table).
FORMS = [
    ("1889", (1889, 1889)),
    ("c. 1765", (1760, 1770)),
    ("ca. 1765", (1760, 1770)),
    ("circa 1765", (1760, 1770)),
    ("1884 - 1920", (1884, 1920)),
    ("1884–1920", (1884, 1920)),
    ("1500–10", (1500, 1510)),
    ("ca. 1500–1510", (1500, 1510)),
    ("c. 1660-1665", (1660, 1665)),
    ("about 1520–25", (1520, 1525)),
    ("1884/85", (1884, 1885)),
    ("1884 or 1885", (1884, 1885)),
    ("1630s", (1630, 1639)),
    ("c. 1890s", (1890, 1899)),
    ("1600s", (1600, 1699)),
    ("16th century", (1500, 1599)),
    ("19th century", (1800, 1899)),
    ("16th-17th century", (1500, 1699)),
    ("early 16th century", (1500, 1535)),
    ("mid 16th century", (1530, 1570)),
    ("mid-16th century", (1530, 1570)),
    ("late 16th century", (1565, 1599)),
    ("late 15th–early 16th century", (1465, 1535)),
    ("first half of the 16th century", (1500, 1550)),
    ("second half of 16th century", (1550, 1599)),
    ("before 1500", (1450, 1500)),
    ("after 1500", (1500, 1550)),
    ("500 BC", (-500, -500)),
    ("3rd century BCE", (-300, -201)),
    ("March 3, 1885", (1885, 1885)),
    ("1840 - 1926", (1840, 1926)),  # Kaggle's artists.csv life dates
]


@pytest.mark.parametrize(("text", "span"), FORMS)
def test_every_form_the_sources_use_reads_as_its_span(text, span):
    assert parse_period(text) == Period(*span)


@pytest.mark.parametrize("text", ["", "   ", "undated", "n.d.", None, "Unknown"])
def test_text_without_a_year_has_no_period(text):
    assert parse_period(text) is None


def test_the_museums_own_numbers_win_over_the_text_and_one_end_stands_for_both():
    assert from_fields(1760, 1770, "c. 1765") == Period(1760, 1770)
    assert from_fields(1770, 1760, "") == Period(1760, 1770)
    assert from_fields(None, 1500, "before 1500") == Period(1500, 1500)
    assert from_fields(None, None, "mid 16th century") == Period(1530, 1570)
    assert from_fields("", None, "", year=1889) == Period(1889, 1889)
    assert from_fields(None, None, "undated") is None


def test_payloads_keep_the_text_and_store_both_years_with_their_basis():
    museum = Artwork("museum", "1", "A", extra={"date": "c. 1765"}, earliest=1762, latest=1768).payload()
    assert (museum["date"], museum["year_earliest"], museum["year_latest"], museum["period_basis"]) == (
        "c. 1765",
        1762,
        1768,
        "work",
    )
    undated = Artwork("folder", "x.jpg", "B").payload()
    assert "year_earliest" not in undated and "year_latest" not in undated


def test_an_undated_works_span_from_its_artists_life_needs_both_dates():
    assert artist_period(1840, 1926) == Period(1840, 1926)
    assert artist_period(1954, None) is None and artist_period(None, 1890) is None
    assert artist_period(1900, 1800) is None
    assert Period(-300, -201).text() == "300 BC–201 BC" and Period(1889, 1889).text() == "1889"


def test_a_folders_date_column_is_shown_as_written_and_read_for_the_period(tmp_path):
    from artsearch.sources.folder import FolderSource
    from tests.support.datasets import jpeg_bytes, painting

    (tmp_path / "Anon").mkdir()
    for name in ("a", "b"):
        (tmp_path / "Anon" / f"{name}.jpg").write_bytes(jpeg_bytes(painting(1)))
    (tmp_path / "metadata.csv").write_text("path,date\nAnon/a.jpg,mid 16th century\nAnon/b.jpg,\n")
    source = FolderSource(tmp_path)
    payloads = {item.artwork.source_id: item.artwork.payload() for item in source.items()}
    a, b = payloads["Anon/a.jpg"], payloads["Anon/b.jpg"]
    assert (a["date"], a["year_earliest"], a["year_latest"]) == ("mid 16th century", 1530, 1570)
    assert "date" not in b and "year_earliest" not in b
