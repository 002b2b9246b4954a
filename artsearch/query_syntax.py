"""Query arithmetic in the text box, rclip style: ``sunflowers + blue - yellow``.

Syntax (documented on the page):

* terms are joined by ``+`` or ``-`` with a space on each side, so
  "self-portrait" and "19th-century" stay one term;
* a term may carry a weight, ``2*blue`` / ``2 * blue`` or ``blue:0.5``;
* the first term may not start with an operator.

:func:`parse` returns the terms with signed weights, or ``None`` for text that
is not arithmetic (no operator and no weight) or that is malformed (an empty
term, an operator at either end, a weight that is not a number, nothing
positive left); the caller then searches the whole text as plain words, never
showing an error.

:func:`combine` adds normalised embeddings with those weights and normalises
the sum.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_TERMS = 8
MAX_WEIGHT = 10.0


@dataclass(frozen=True)
class Term:
    text: str
    weight: float


@dataclass(frozen=True)
class Scan:
    """The text cut at its operators, in one left-to-right pass.

    ``pieces`` are the raw terms and ``signs`` the sign before each (the first is +1); ``examined`` counts
    the character looks the pass made (at most twice ``len(text)``; the tests hold it to that);
    ``too_many`` says the text has more than ``max_terms`` terms (the pass stopped there).
    """

    pieces: list[str]
    signs: list[float]
    examined: int
    too_many: bool = False


# No regular expressions here: every step below looks at each character a bounded number of times, so the
# work is linear in the text. (The old patterns, ``\s+([+-])\s+`` and ``^(.*?)\s*:\s*(number)\s*$``,
# backtracked quadratically over long runs of whitespace.)


def scan(text: str, *, max_terms: int = MAX_TERMS) -> Scan:
    """Cut ``text`` at its operators: ``+`` or ``-`` with whitespace on each side (whitespace runs included).

    Stops once there are more than ``max_terms`` terms (the query is then not arithmetic anyway).
    """
    pieces: list[str] = []
    signs = [1.0]
    n, i, start, examined = len(text), 0, 0, 0
    while i < n:
        examined += 1
        if not text[i].isspace():
            i += 1
            continue
        run = i  # a run of whitespace starts here; find its end
        while i < n and text[i].isspace():
            examined += 1
            i += 1
        if i + 1 < n and text[i] in "+-" and text[i + 1].isspace():
            examined += 1
            sign = 1.0 if text[i] == "+" else -1.0
            i += 1
            while i < n and text[i].isspace():  # the whitespace after the operator belongs to it
                examined += 1
                i += 1
            pieces.append(text[start:run])
            signs.append(sign)
            start = i
            if len(pieces) >= max_terms:
                return Scan(pieces, signs, examined, too_many=True)
    pieces.append(text[start:])
    return Scan(pieces, signs, examined)


def _is_number(text: str) -> bool:
    """``12``, ``1.5``, ``1.`` or ``.5`` (ASCII digits only)."""
    whole, dot, fraction = text.partition(".")
    if not text.isascii() or not (whole.isdigit() or whole == "") or not (fraction.isdigit() or fraction == ""):
        return False
    return bool(whole) or (bool(dot) and bool(fraction))


def _prefix_weight(text: str) -> tuple[float, str] | None:
    """``2*blue`` / ``2 * blue``: (2.0, "blue"), or None."""
    star = text.find("*")
    if star < 0 or not _is_number(text[:star].strip()):
        return None
    return float(text[:star].strip()), text[star + 1 :].strip()


def _suffix_weight(text: str) -> tuple[str, float] | None:
    """``blue:0.5``: ("blue", 0.5), or None. The weight follows the last colon."""
    colon = text.rfind(":")
    if colon < 0 or not _is_number(text[colon + 1 :].strip()):
        return None
    return text[:colon].strip(), float(text[colon + 1 :].strip())


def _term(raw: str, sign: float) -> Term | None:
    text, weight = raw.strip(), 1.0
    if (prefix := _prefix_weight(text)) is not None:
        weight, text = prefix
    elif (suffix := _suffix_weight(text)) is not None:
        text, weight = suffix
    if not text or text in "+-*:" or not math.isfinite(weight) or weight > MAX_WEIGHT:
        return None
    if "*" in text or ":" in text or text[0] in "+-" or text[-1] in "+-":  # a stray operator: not our syntax
        return None
    return Term(text, sign * weight)


def is_arithmetic(text: str) -> bool:
    """True when the text uses the syntax at all (an operator between words, or a weight)."""
    stripped = text.strip()
    if _prefix_weight(stripped) is not None or _suffix_weight(stripped) is not None:
        return True
    return scan(stripped, max_terms=1).too_many  # more than one term: an operator between words


def parse(text: str) -> list[Term] | None:
    """The signed, weighted terms of an arithmetic query; None for plain or malformed text.

    Linear in the length of ``text``; callers cut a query to ``text.MAX_QUERY_CHARS`` before it gets here.
    """
    stripped = text.strip()
    if not is_arithmetic(stripped) or stripped[:1] in "+-" or stripped[-1:] in "+-*:":
        return None
    cut = scan(stripped)
    if cut.too_many:
        return None
    terms: list[Term] = []
    for raw, sign in zip(cut.pieces, cut.signs, strict=True):
        term = _term(raw, sign)
        if term is None:
            return None
        terms.append(term)
    if len(terms) > MAX_TERMS or sum(t.weight for t in terms if t.weight > 0) <= 0:
        return None
    return terms


def combine(vectors: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray | None:
    """Sum of the normalised ``vectors`` times ``weights``, normalised; None if it cancels out."""
    total = np.zeros_like(np.asarray(vectors[0], dtype=np.float32))
    for vector, weight in zip(vectors, weights, strict=True):
        v = np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(v))
        if norm > 0:
            total += weight * v / norm
    norm = float(np.linalg.norm(total))
    if not math.isfinite(norm) or norm < 1e-6:
        return None
    return (total / norm).astype(np.float32)


#: Words that say nothing about a title or an artist; a name match ignores them.
STOPWORDS = frozenset(
    "a an and are as at be by for from in into is it its of on or over painting picture "
    "that the their this to under with without".split()
)


def name_words(text: str) -> list[str]:
    """The words of a text query that could name an artist or a title (lowercase, no stopwords, 3+ letters)."""
    words = [w.lower() for w in re.findall(r"[^\W_]+", text)]
    return list(dict.fromkeys(w for w in words if len(w) >= 3 and w not in STOPWORDS and not w.isdigit()))
