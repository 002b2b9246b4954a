"""What the detail view says for an artwork of each source; the page itself is in tests/test_app_detail.py."""

from __future__ import annotations

from artsearch.catalog import Artist
from artsearch.search import Hit
from artsearch.web import detail

ID = "6f1f3a5e-3c2b-5a0e-9d55-a27e0c1c4b7a"
GOGH = Artist(
    name="Vincent van Gogh",
    years="1853–1890",
    nationality="Dutch",
    wikipedia="https://en.wikipedia.org/wiki/Vincent_van_Gogh",
)


def hit(record: Artist | None = None, **payload) -> Hit:
    return Hit(artwork_id=ID, score=0.734, payload=payload, image_url=None, artist=record)


def test_a_museum_artwork_shows_every_fact_the_museum_keeps_in_one_order():
    museum = hit(
        GOGH,
        title="The Starry Field",
        artist="Vincent van Gogh",
        source="museum",
        year=1889,
        date="c. 1889",
        genre=["Painting"],
        technique="oil on canvas",
        measurements="Unframed: 73.5 x 92 cm",
        department="European Painting and Sculpture",
        culture="Europe, 19th century",
        accession_number="1958.31",
        credit_line="Bequest of Leonard C. Hanna Jr.",
        licence="CC0",
        width=893,
        height=1000,
        source_url="https://clevelandart.org/art/1958.31",
    )
    assert detail.facts(museum) == [
        ("Artist", "Vincent van Gogh (Dutch, 1853–1890)"),
        ("Date", "c. 1889"),  # as the museum writes it, not the earliest year
        ("Type", "Painting"),
        ("Medium", "oil on canvas"),
        ("Dimensions", "Unframed: 73.5 x 92 cm"),
        ("Department", "European Painting and Sculpture"),
        ("Culture", "Europe, 19th century"),
        ("Accession number", "1958.31"),
        ("Credit line", "Bequest of Leonard C. Hanna Jr."),
        ("Licence", "CC0 (public domain: free to use for any purpose)"),
        ("Image", "893 × 1000 pixels"),
        ("Source", "The Cleveland Museum of Art, Open Access"),
    ]
    assert detail.source_link(museum) == ("The museum's page", "https://clevelandart.org/art/1958.31")


def test_a_kaggle_artwork_links_to_its_artists_article():
    kaggle = hit(GOGH, title="Sunflowers", artist="Vincent van Gogh", source="kaggle", genre=["Post-Impressionism"])
    assert detail.facts(kaggle) == [
        ("Artist", "Vincent van Gogh (Dutch, 1853–1890)"),
        ("Genre", "Post-Impressionism"),
        ("Source", 'Kaggle, "Best Artworks of All Time"'),
    ]
    assert detail.source_link(kaggle) == (
        "Vincent van Gogh on Wikipedia",
        "https://en.wikipedia.org/wiki/Vincent_van_Gogh",
    )


def test_a_folder_artwork_names_its_file_and_has_no_page_to_link_to():
    folder = hit(None, title="Sunset", artist="Original", source="folder", source_id="Original/sunset.jpg", year=1901)
    assert detail.facts(folder) == [
        ("Artist", "Original"),
        ("Date", "1901"),
        ("Source", "A folder of images"),
        ("File", "Original/sunset.jpg"),
    ]
    assert detail.source_link(folder) is None
    assert detail.source_link(hit(Artist(name="X", wikipedia="javascript:alert(1)"), source="kaggle")) is None


def test_why_a_result_is_shown():
    plain = hit(title="x")
    assert detail.why_shown(plain) == "similarity 0.73"
    plain.name_match = True
    assert detail.why_shown(plain) == "similarity 0.73, moved up because the search names its artist or title"
