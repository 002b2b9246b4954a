"""Ids, slugs, payloads and artist records: the pure logic under the ingest (name repair: test_text.py)."""

from __future__ import annotations

import uuid

from artsearch.catalog import Artist, Artwork, artwork_id, split_genres


def test_artwork_id_is_a_stable_uuid5_of_source_and_id():
    a = artwork_id("kaggle", "Claude_Monet/Claude_Monet_1.jpg")
    assert uuid.UUID(a).version == 5
    assert a == artwork_id("kaggle", "Claude_Monet/Claude_Monet_1.jpg")
    assert a != artwork_id("folder", "Claude_Monet/Claude_Monet_1.jpg")
    assert a == Artwork(source="kaggle", source_id="Claude_Monet/Claude_Monet_1.jpg", title="t").artwork_id


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
