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

_NUMBER = r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+"
_PREFIX_WEIGHT = re.compile(rf"^\s*({_NUMBER})\s*\*\s*(.*)$")
_SUFFIX_WEIGHT = re.compile(rf"^(.*?)\s*:\s*({_NUMBER})\s*$")
_OPERATOR = re.compile(r"\s+([+-])\s+")
MAX_TERMS = 8
MAX_WEIGHT = 10.0


@dataclass(frozen=True)
class Term:
    text: str
    weight: float


def _term(raw: str, sign: float) -> Term | None:
    text, weight = raw.strip(), 1.0
    if m := _PREFIX_WEIGHT.match(text):
        weight, text = float(m.group(1)), m.group(2).strip()
    elif m := _SUFFIX_WEIGHT.match(text):
        text, weight = m.group(1).strip(), float(m.group(2))
    if not text or text in "+-*:" or not math.isfinite(weight) or weight > MAX_WEIGHT:
        return None
    if "*" in text or ":" in text or text[0] in "+-" or text[-1] in "+-":  # a stray operator: not our syntax
        return None
    return Term(text, sign * weight)


def is_arithmetic(text: str) -> bool:
    """True when the text uses the syntax at all (an operator between words, or a weight)."""
    stripped = text.strip()
    return bool(_OPERATOR.search(stripped) or _PREFIX_WEIGHT.match(stripped) or _SUFFIX_WEIGHT.match(stripped))


def parse(text: str) -> list[Term] | None:
    """The signed, weighted terms of an arithmetic query; None for plain or malformed text."""
    stripped = text.strip()
    if not is_arithmetic(stripped) or stripped[:1] in "+-" or stripped[-1:] in "+-*:":
        return None
    pieces = _OPERATOR.split(stripped)  # [term, op, term, op, term...]
    terms: list[Term] = []
    signs = [1.0] + [1.0 if op == "+" else -1.0 for op in pieces[1::2]]
    for raw, sign in zip(pieces[0::2], signs, strict=True):
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
