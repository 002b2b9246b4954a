"""The detail view of an artwork from each source, through AppTest on indexes built by the real rebuild: the
museum (from the local stand-in of its API) and a folder with copies. Kaggle's is in tests/test_app.py."""

from __future__ import annotations

import pytest

from artsearch.catalog import artwork_id
from artsearch.rebuild import rebuild
from artsearch.sources import SourceOptions
from tests.support.app import (
    assert_clean,
    cards,
    detail_text,
    detail_view,
    new_app,
    open_artwork,
    point_env,
    search_text,
    unescaped,
    upload,
)
from tests.support.indexes import build_dupes_index, test_settings
from tests.support.museum import UNICODE_TITLE, running_museum

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.usefixtures("fresh_services"),
]  # a fresh page service per test (conftest)


@pytest.fixture(scope="module")
def museum_index(tmp_path_factory, tiny_clip_path, shared_encoder):
    """The museum stand-in's paintings, ingested through the rebuild as an operator would."""
    root = tmp_path_factory.mktemp("museum_index")
    with running_museum() as museum:
        settings = test_settings(root, tiny_clip_path, museum_api_url=f"{museum.base}/api/artworks/")
        rebuild(settings, SourceOptions(source="museum"), encoder=shared_encoder, progress=False)
    return settings


def test_a_museum_artwork_shows_every_fact_of_its_record_and_links_to_the_museum(museum_index, monkeypatch, tmp_path):
    # The stand-in's pictures are flat colours, which the colour dHash cannot tell apart: keep every result.
    point_env(monkeypatch, museum_index, tmp_path, ARTSEARCH_COLLAPSE_DUPLICATES="false")
    at = search_text(new_app().run(), "a painting", k=12)
    assert_clean(at)
    hokusai = artwork_id("museum", "1003")
    assert hokusai in cards(at)
    at = open_artwork(at, hokusai)
    assert_clean(at)
    text = detail_text(at)
    for fact in (
        UNICODE_TITLE,
        "Artist: Katsushika Hokusai (Japanese, 1760–1849)",
        "Date: c. 1830",  # as the museum writes it; the year field holds only the earliest, 1825
        "Type: Painting",
        "Medium: oil on canvas",
        "Dimensions: Framed: 90 x 110 cm (35 7/16 x 43 5/16 in.); Unframed: 73.5 x 92 cm (28 15/16 x 36 1/4 in.)",
        "Department: European Painting and Sculpture",
        "Culture: Japan; Edo period",
        "Accession number: 191003.1",
        "Credit line: Leonard C. Hanna Jr. Fund 1003",
        "Licence: CC0 (public domain: free to use for any purpose)",
        "Image: 893 × 1000 pixels",
        "Source: The Cleveland Museum of Art, Open Access",
        "Ukiyo-e artist.",  # the creator's biography, in the artist's panel
    ):
        assert fact in text, (fact, text)
    (link,) = list(detail_view(at).get("link_button"))
    assert (
        link.proto.url == "https://clevelandart.org/art/191003.1" and unescaped(link.proto.label) == "The museum's page"
    )
    # The large picture is the stored original (64x48 here), never enlarged.
    (picture,) = [i for i in detail_view(at).image]
    assert picture.value and len(picture.value) == 1


@pytest.fixture(scope="module")
def dupes_index(tmp_path_factory, tiny_clip_path, shared_encoder):
    return build_dupes_index(tmp_path_factory.mktemp("detail_dupes"), tiny_clip_path, shared_encoder)


def test_a_folder_artwork_names_its_file_and_lists_the_copies_folded_into_it(dupes_index, monkeypatch, tmp_path):
    settings, original = dupes_index
    point_env(monkeypatch, settings, tmp_path)
    at = upload(new_app().run(), "sunset.jpg", original.read_bytes())
    assert_clean(at)
    first = cards(at)[0]
    at = open_artwork(at, first)
    text = detail_text(at)
    assert "Sunset" in text and "Source: A folder of images" in text and "File: Original/sunset.jpg" in text
    assert "4 copies of this picture are folded into this result:" in text
    view = detail_view(at)
    copies = [b for b in view.button if b.key.startswith("see_copy_")]
    assert sorted(unescaped(b.label) for b in copies) == ["Sunset cropped", "Sunset recompressed", "Sunset resized"]
    assert not list(view.get("link_button"))  # a folder has no page to link to
    # A copy opens in the same view, and says where it lives.
    at = view.button(key=copies[0].key).click().run()
    assert "File: Copyist" in detail_text(at) and at.query_params["work"] == copies[0].key.removeprefix("see_copy_")


def test_the_cards_n_copies_opens_the_group_and_a_linked_copy_lists_the_others(dupes_index, monkeypatch, tmp_path):
    """ "4 copies" on a card is a button that opens the artwork with its copies; a copy opened from a link (no
    result folded into it) still lists the other three, found in the collection by the same rule."""
    settings, original = dupes_index
    point_env(monkeypatch, settings, tmp_path)
    at = upload(new_app().run(), "sunset.jpg", original.read_bytes())
    first = cards(at)[0]
    at = at.button(key=f"copies_{first}").click().run()
    assert at.query_params["work"] == first and "4 copies of this picture are folded into this result:" in detail_text(
        at
    )
    copy_ids = [b.key.removeprefix("see_copy_") for b in detail_view(at).button if b.key.startswith("see_copy_")]
    assert len(copy_ids) == 3
    linked = new_app(work=copy_ids[0]).run()
    assert_clean(linked)
    assert "4 copies of this picture are in the collection:" in detail_text(linked)
    listed = {b.key.removeprefix("see_copy_") for b in detail_view(linked).button if b.key.startswith("see_copy_")}
    assert listed == {first, *copy_ids[1:]}  # the original and the two other copies; none of the six others
