"""The art vocabulary: terms (subjects, styles, moods, colours, media) an artwork's picture can be described by.

A text file, one term a line, ``#`` for comments; a line ``label | text`` shows ``label`` and embeds
``text`` (a longer prompt helps small models). The default is ``artsearch/assets/art_vocabulary.txt``;
``ARTSEARCH_VOCABULARY`` names another. At every build the terms are embedded with the text model, and
each artwork keeps the terms closest to its vector (:mod:`artsearch.terms`); the calibration of match
labels uses them as its sample of text queries (:mod:`artsearch.calibration`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from artsearch.errors import ConfigError
from artsearch.files import read_at_most

DEFAULT_VOCABULARY = Path(__file__).resolve().parent / "assets" / "art_vocabulary.txt"
MAX_BYTES = 1024 * 1024
MAX_TERMS = 5000


@dataclass(frozen=True)
class Vocabulary:
    labels: tuple[str, ...]  # what the page shows and the Subjects facet offers
    texts: tuple[str, ...]  # what is embedded

    def __len__(self) -> int:
        return len(self.labels)


def load_vocabulary(path: Path | None = None) -> Vocabulary:
    """The terms of ``path`` (default :data:`DEFAULT_VOCABULARY`); one line saying what is wrong if unusable."""
    path = Path(path or DEFAULT_VOCABULARY)
    raw = read_at_most(path, MAX_BYTES, what="the vocabulary (ARTSEARCH_VOCABULARY)", error=ConfigError)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"The vocabulary {path} is not UTF-8 text.") from None
    labels: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        label, _, prompt = (part.strip() for part in line.partition("|"))
        if label:
            labels.setdefault(label, prompt or label)
    if not labels:
        raise ConfigError(f"The vocabulary {path} holds no terms: one term a line (ARTSEARCH_VOCABULARY).")
    if len(labels) > MAX_TERMS:
        raise ConfigError(f"The vocabulary {path} holds {len(labels)} terms; at most {MAX_TERMS} are embedded.")
    return Vocabulary(tuple(labels), tuple(labels.values()))
