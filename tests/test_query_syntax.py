"""Query arithmetic ("sunflowers + 2*blue - yellow"): parsing, weighting and the words a name search uses."""

from __future__ import annotations

import numpy as np
import pytest

from artsearch import query_syntax
from artsearch.query_syntax import Term


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("sunflowers + blue - yellow", [Term("sunflowers", 1), Term("blue", 1), Term("yellow", -1)]),
        ("sunflowers + 2*blue", [Term("sunflowers", 1), Term("blue", 2)]),
        ("sunflowers - 0.5 * blue", [Term("sunflowers", 1), Term("blue", -0.5)]),
        ("a gloomy landscape + blue:0.5", [Term("a gloomy landscape", 1), Term("blue", 0.5)]),
        ("2*blue", [Term("blue", 2)]),
        ("self-portrait + 19th-century", [Term("self-portrait", 1), Term("19th-century", 1)]),
    ],
)
def test_arithmetic_parses(text, terms):
    assert query_syntax.parse(text) == terms


@pytest.mark.parametrize(
    "text",
    [
        "a gloomy landscape",  # plain words
        "self-portrait",
        "sunflowers +",
        "+ blue",
        "- blue",
        "sunflowers + - blue",
        "sunflowers + + blue",
        "blue:abc + red",
        "2* + red",
        "red + *",
        "red:0 - blue",  # nothing positive left
        "blue: + red",
        "a + b + c + d + e + f + g + h + i",
        "99*blue + red",
        "",
    ],
)
def test_plain_or_bad_syntax_is_not_arithmetic(text):
    assert query_syntax.parse(text) is None


def test_combine_weights_and_renormalises():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 3.0])
    both = query_syntax.combine([a, b], [1.0, 1.0])
    assert np.allclose(both, [2**-0.5, 2**-0.5])
    heavy = query_syntax.combine([a, b], [1.0, 3.0])
    assert heavy[1] > both[1] and np.isclose(np.linalg.norm(heavy), 1)
    away = query_syntax.combine([a + b, b], [1.0, -1.0])
    assert away[1] < (a + b)[1] / np.linalg.norm(a + b)
    assert query_syntax.combine([a, a], [1.0, -1.0]) is None


def test_name_words_drop_stopwords_short_words_and_numbers():
    assert query_syntax.name_words("Monet water lilies") == ["monet", "water", "lilies"]
    assert query_syntax.name_words("a portrait of a woman in 1880") == ["portrait", "woman"]
    assert query_syntax.name_words("Albrecht Dürer, Dürer!") == ["albrecht", "dürer"]
    assert query_syntax.name_words("a of the") == []
