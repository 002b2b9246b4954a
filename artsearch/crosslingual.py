"""How well queries in other languages search the collection: what ``eval`` reports with a text model.

With ``TEXT_EMBEDDER_NAME`` set, text queries go through the text model (a multilingual student
distilled into the image model's space). The measures take *parallel queries*, the same description
in English and in other languages, and run each through the service the page uses
(:meth:`SearchService.text_vector`, then the index):

* top-10 overlap with English: the share of a translated query's 10 nearest artworks that the
  English query also finds (1.0: the language makes no difference), with the English query embedded
  by the text model and by the image model (what the search gave before the text model);
* text->image precision@10, per language, for queries that name the artist they expect.

The parallel queries come from a JSON file (``eval --queries FILE``; default
``artsearch/assets/multilingual_queries.json``: art descriptions in English, French, German and
Spanish, and a template per artist for the collection's most frequent artists)::

    {"queries": [{"en": "a vase of flowers", "fr": "un vase de fleurs", "artist": "optional"}],
     "templates": [{"en": "a painting by {artist}", "fr": "un tableau de {artist}"}]}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artsearch.errors import ConfigError
from artsearch.files import read_at_most

DEFAULT_QUERIES = Path(__file__).resolve().parent / "assets" / "multilingual_queries.json"
ENGLISH = "en"
K = 10
MAX_QUERY_FILE = 4 * 1024 * 1024


@dataclass(frozen=True)
class ParallelQuery:
    """One description in several languages (``texts``: language code -> text), and the artist it should find."""

    texts: Mapping[str, str]
    artist: str = ""


@dataclass
class QuerySet:
    queries: list[ParallelQuery] = field(default_factory=list)
    templates: list[Mapping[str, str]] = field(default_factory=list)

    def expanded(self, artists: Sequence[str]) -> list[ParallelQuery]:
        """The queries, then each template filled with each of ``artists`` (which it then expects)."""
        filled = [
            ParallelQuery({lang: text.replace("{artist}", artist) for lang, text in template.items()}, artist)
            for template in self.templates
            for artist in artists
        ]
        return [*self.queries, *filled]


def load_queries(path: Path | None = None) -> QuerySet:
    """Parallel queries from a JSON file (see the module's docstring); one line saying what is wrong if not."""
    path = Path(path or DEFAULT_QUERIES)
    try:
        data = json.loads(read_at_most(path, MAX_QUERY_FILE, what="the queries file", error=ConfigError))
    except ValueError as exc:
        raise ConfigError(f"The queries file {path} is not valid JSON ({exc}).") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"The queries file {path} must hold an object with a 'queries' list.")
    queries = [_parallel(item, path) for item in data.get("queries") or []]
    templates = [_texts(item, path) for item in data.get("templates") or []]
    return QuerySet(queries, templates)


def _texts(item: Any, path: Path) -> dict[str, str]:
    if not isinstance(item, Mapping):
        raise ConfigError(f"The queries file {path}: every query must be an object of language -> text.")
    texts = {str(k): str(v) for k, v in item.items() if k != "artist" and isinstance(v, str) and v.strip()}
    if ENGLISH not in texts or len(texts) < 2:
        raise ConfigError(f"The queries file {path}: every query needs an English text ('en') and another language.")
    return texts


def _parallel(item: Any, path: Path) -> ParallelQuery:
    texts = _texts(item, path)
    return ParallelQuery(texts, str(item.get("artist") or ""))


def measure(service: Any, queries: Sequence[ParallelQuery], k: int = K) -> dict[str, dict[str, float]]:
    """Per language: ``overlap`` (mean top-k overlap with the English query, over every query in that language),
    ``overlap_image_model`` (with the English query as the image model embeds it), and, over the queries that expect an artist, ``precision`` and ``n_precision`` (English too)."""
    sums: dict[str, dict[str, float]] = {}

    def add(language: str, key: str, value: float) -> None:
        figures = sums.setdefault(language, {})
        figures[key] = figures.get(key, 0.0) + value
        figures[f"n_{key}"] = figures.get(f"n_{key}", 0.0) + 1

    separate = service.text_encoder is not service.encoder
    for query in queries:
        english = nearest(service, query.texts[ENGLISH], k)
        # The English query as the image model embeds it: what a search without the text model gives.
        reference = nearest(service, query.texts[ENGLISH], k, image_model=True) if separate else english
        if query.artist:
            add(ENGLISH, "precision", _precision(english, query.artist))
        for language, text in query.texts.items():
            if language == ENGLISH:
                continue
            found = nearest(service, text, k)
            ids = {pid for pid, _artist in found}
            add(language, "overlap", len(ids & {pid for pid, _artist in english}) / max(1, len(english)))
            add(language, "overlap_image_model", len(ids & {pid for pid, _a in reference}) / max(1, len(reference)))
            if query.artist:
                add(language, "precision", _precision(found, query.artist))
    return {
        language: {
            key: (value / figures[f"n_{key}"] if not key.startswith("n_") else value) for key, value in figures.items()
        }
        for language, figures in sums.items()
    }


def nearest(service: Any, text: str, k: int, *, image_model: bool = False) -> list[tuple[str, str]]:
    """(id, artist) of the ``k`` artworks nearest to ``text`` as the service embeds it (its text model), or with
    ``image_model`` as the image model does."""
    vector = service.encoder.encode_texts([text])[0] if image_model else service.text_vector(text)
    points = service.index.query(vector, limit=k)
    return [(str(p.id), str((p.payload or {}).get("artist") or "")) for p in points]


def _precision(found: Sequence[tuple[str, str]], artist: str) -> float:
    return sum(a == artist for _pid, a in found) / max(1, len(found))
