"""Query arithmetic ("sunflowers + 2*blue - yellow"): parsing, weighting and the words a name search uses."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from artsearch import query_syntax
from artsearch.query_syntax import Term
from tests.support.hostile import adversarial_queries


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


# --- hostile input: the parser's work is linear in the text ---------------------------------------------------

# The patterns the parser used to run (they backtracked quadratically over long whitespace runs): a reference for
# what the syntax means, run here on short texts only. Newlines are left out of the alphabet: the old patterns'
# "." stopped at them, an accident; queries reach the parser with their whitespace collapsed anyway.
_NUMBER = r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+"
_OLD_PREFIX = re.compile(rf"^\s*({_NUMBER})\s*\*\s*(.*)$")
_OLD_SUFFIX = re.compile(rf"^(.*?)\s*:\s*({_NUMBER})\s*$")
_OLD_OPERATOR = re.compile(r"\s+([+-])\s+")


def _reference_parse(text: str) -> list[tuple[str, float]] | None:
    stripped = text.strip()
    arithmetic = _OLD_OPERATOR.search(stripped) or _OLD_PREFIX.match(stripped) or _OLD_SUFFIX.match(stripped)
    if not arithmetic or stripped[:1] in "+-" or stripped[-1:] in "+-*:":
        return None
    pieces = _OLD_OPERATOR.split(stripped)
    signs = [1.0] + [1.0 if op == "+" else -1.0 for op in pieces[1::2]]
    terms = []
    for raw, sign in zip(pieces[0::2], signs, strict=True):
        term, weight = raw.strip(), 1.0
        if m := _OLD_PREFIX.match(term):
            weight, term = float(m.group(1)), m.group(2).strip()
        elif m := _OLD_SUFFIX.match(term):
            term, weight = m.group(1).strip(), float(m.group(2))
        if not term or term in "+-*:" or not math.isfinite(weight) or weight > query_syntax.MAX_WEIGHT:
            return None
        if "*" in term or ":" in term or term[0] in "+-" or term[-1] in "+-":
            return None
        terms.append((term, sign * weight))
    if len(terms) > query_syntax.MAX_TERMS or sum(w for _, w in terms if w > 0) <= 0:
        return None
    return terms


@settings(max_examples=3000, derandomize=True, deadline=None)
@given(st.text(alphabet=" \t\u00a0\x1c+-*:.019ab", max_size=16))
def test_the_linear_parser_means_what_the_old_patterns_meant(text):
    got = query_syntax.parse(text)
    assert (None if got is None else [(t.text, t.weight) for t in got]) == _reference_parse(text)
    assert query_syntax.is_arithmetic(text) == bool(
        _OLD_OPERATOR.search(text.strip()) or _OLD_PREFIX.match(text.strip()) or _OLD_SUFFIX.match(text.strip())
    )


def test_the_parser_looks_at_each_character_a_bounded_number_of_times():
    """A megabyte of whitespace runs, operator runs, nested weights, colons and stars: the one pass over the text
    makes at most two looks per character, and stops after MAX_TERMS terms; the steps after it (strip, find) are
    linear string methods on its pieces. (The old patterns made about n^2/2 steps on a run of n spaces: 13 s for
    20,000 of them.)"""
    looks = {}
    for name, text in adversarial_queries().items():
        assert len(text) >= 990_000
        cut = query_syntax.scan(text)
        assert cut.examined <= 2 * len(text) + 2, name
        assert len(cut.pieces) <= query_syntax.MAX_TERMS, name
        looks[name] = cut.examined
        terms = query_syntax.parse(text)  # well-formed or not, it returns
        assert terms is None or len(terms) <= query_syntax.MAX_TERMS
    print(f"\nFIGURE query-parse: {len(looks)} adversarial texts of 1 MB, at most {max(looks.values()):,} looks each")
