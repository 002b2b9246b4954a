"""How the page reads: card and artist-panel text, the grid, message kinds, facet labels."""

from __future__ import annotations

from artsearch.catalog import Artist
from artsearch.errors import CollectionMissing, EmptyQuery, ImageError, QdrantUnavailable
from artsearch.index.filters import Filters
from artsearch.search import Hit
from artsearch.web import cards

ID = "6f1f3a5e-3c2b-5a0e-9d55-a27e0c1c4b7a"


def hit(**payload) -> Hit:
    return Hit(artwork_id=ID, score=0.8312, payload=payload, image_url=None)


def test_card_lines():
    assert cards.card_lines(hit(title="Water Lilies", artist="Claude Monet", year=1906)) == (
        "Water Lilies",
        "Claude Monet · 1906",
        "similarity 0.83",
    )
    assert cards.card_lines(hit()) == ("Untitled", "Unknown artist", "similarity 0.83")


def test_a_card_gives_the_date_as_the_source_writes_it_and_its_copies():
    folded = hit(title="Altarpiece", artist="Master of the Legend", year=1485, date="c. 1490")
    folded.copies = ["a", "b"]
    assert cards.card_lines(folded) == ("Altarpiece", "Master of the Legend · c. 1490", "similarity 0.83 · 3 copies")


def test_a_work_the_name_moved_up_says_so_instead_of_its_similarity():
    named = hit(title="Sunflowers", artist="Vincent van Gogh")
    named.name_match = True
    assert cards.card_lines(named)[2] == "name match"


def test_markdown_in_data_is_shown_literally():
    lines = cards.artist_lines(Artist(name="A_b", bio="costs $1 and $2"))
    assert lines[0] == r"**A\_b**" and r"\$1 and \$2" in lines[1]
    assert cards.message_text(EmptyQuery("see **this** [x](https://e.org)")) == (
        "see \\*\\*this\\*\\* \\[x\\]\\(https\\:\u2060\\/\\/e\\.org\\)"
    )


def test_artist_panel_lines():
    artist = Artist(
        name="Claude Monet",
        years="1840 - 1926",
        nationality="French",
        genre="Impressionism",
        bio="word " * 400,
        wikipedia="http://en.wikipedia.org/wiki/Claude Monet",
    )
    lines = cards.artist_lines(artist)
    assert lines[0] == "**Claude Monet**"
    assert lines[1] == r"French · 1840 \- 1926 · Impressionism"
    assert lines[2].endswith("…") and len(lines[2]) <= 600
    assert lines[3] == "[Wikipedia](https://en.wikipedia.org/wiki/Claude%20Monet)"


def test_artist_panel_without_a_record_or_with_only_a_name():
    assert cards.artist_lines(None, "Mystery Painter") == [
        "**Mystery Painter**",
        "No biography for this artist in the collection.",
    ]
    assert cards.artist_lines(Artist(name="Anon"))[1] == "No biography for this artist in the collection."
    assert cards.artist_lines(Artist(name="Anon", birth_year=1600))[1] == "1600 –"
    assert not any(
        "Wikipedia" in line for line in cards.artist_lines(Artist(name="X", wikipedia="javascript:alert(1)"))
    )


def test_grid_rows():
    assert cards.rows(list(range(10))) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert cards.rows([]) == []


def test_message_kinds():
    assert cards.message_kind(CollectionMissing("x")) == "info"
    assert cards.message_kind(EmptyQuery("x")) == "info"
    assert cards.message_kind(QdrantUnavailable("x")) == "error"
    assert cards.message_kind(ImageError("x")) == "error"


def test_facet_labels_show_counts_as_plain_text():
    label = cards.facet_label({"Claude Monet": 10, "A_b *c*\nd": 2})
    assert label("Claude Monet") == "Claude Monet (10)" and label("Other") == "Other"
    assert label("A_b *c*\nd") == "A_b *c* d (2)"  # an option label is plain text: nothing to escape, one line


def test_messages_read_as_sentences():
    from artsearch.web.state import PageState

    assert cards.empty_results_message(PageState()) == "Nothing in the collection matches this search."
    assert cards.empty_results_message(PageState(filters=Filters(artist=["X"]))).endswith("sidebar.")
