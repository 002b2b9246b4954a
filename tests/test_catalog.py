"""Ids, slugs, name repair and artist records: the pure logic under the ingest."""

from __future__ import annotations

import uuid

import pytest

from artsearch.catalog import Artist, Artwork, artwork_id, slugify, split_genres
from artsearch.text import name_key, repair_mojibake


def test_artwork_id_is_a_stable_uuid5_of_source_and_id():
    a = artwork_id("kaggle", "Claude_Monet/Claude_Monet_1.jpg")
    assert uuid.UUID(a).version == 5
    assert a == artwork_id("kaggle", "Claude_Monet/Claude_Monet_1.jpg")
    assert a != artwork_id("folder", "Claude_Monet/Claude_Monet_1.jpg")
    assert a == Artwork(source="kaggle", source_id="Claude_Monet/Claude_Monet_1.jpg", title="t").artwork_id


@pytest.mark.parametrize(
    ("broken", "fixed"),
    [
        ("Albrecht_Du╠êrer", "Albrecht_Dürer"),  # UTF-8 (decomposed ü) read as cp437, as the Kaggle zip ships it
        ("DÃ¼rer", "Dürer"),  # UTF-8 read as cp1252
        ("Ã‰douard Manet", "Édouard Manet"),
        ("Pierre-Auguste_Renoir", "Pierre-Auguste_Renoir"),  # fine already: unchanged
        ("Nature morte — 静物", "Nature morte — 静物"),
        ("Ñoño", "Ñoño"),
    ],
)
def test_mojibake_is_repaired_in_general_and_good_text_is_left_alone(broken, fixed):
    assert repair_mojibake(broken) == fixed


def test_name_keys_match_folder_names_to_csv_names():
    assert name_key("Albrecht_Du╠êrer") == name_key("Albrecht Dürer") == "albrecht-durer"
    assert slugify("  ") == "unknown"


def test_payload_has_the_documented_fields_and_splits_genres():
    art = Artwork(source="s", source_id="1", title="T", artist="Paul Klee", genre="Expressionism,Bauhaus", year=1920)
    payload = art.payload()
    assert set(payload) >= {
        "artwork_id", "title", "artist", "artist_slug", "genre", "nationality", "year",
        "image_key", "source", "source_url", "width", "height",
    }  # fmt: skip
    assert payload["genre"] == ["Expressionism", "Bauhaus"] and payload["artist_slug"] == "paul-klee"
    assert split_genres("") == []


def test_artist_merge_fills_gaps_without_overwriting():
    a = Artist(name="Paul Klee", nationality="Swiss,German", bio="")
    b = Artist(name="Paul Klee", nationality="German", bio="A painter.", birth_year=1879)
    merged = a.merged_with(b)
    assert (merged.nationality, merged.bio, merged.birth_year) == ("Swiss,German", "A painter.", 1879)
    assert Artist.from_json({**merged.to_json(), "unknown_field": 1}) == merged
