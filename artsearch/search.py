"""SearchService: the one API that app.py and the CLI call.

:meth:`SearchService.page` turns a :class:`Query` (text, image bytes, image URL or
"more like" an indexed artwork, plus filters) and :class:`PageOptions` (pages,
feedback, one per artist, copies folded) into a :class:`ResultPage` of
:class:`Hit` records carrying the payload, the score, a displayable image URL
from storage and the artist record. The encoder is loaded on first use only, so
"more like this" and browsing never pay for it, and it is the model the live index
was built with unless one is configured (see :mod:`artsearch.model.choice`).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from qdrant_client import models

from artsearch import colour, gallery, query_syntax
from artsearch.calibration import SAMPLE_FIELD, SAMPLE_SIZE, SAMPLE_YES, WEAK, Calibration, is_match
from artsearch.calibration import label as match_label
from artsearch.catalog import NAME_TEXT_FIELD, Artist, slugify
from artsearch.config import Settings
from artsearch.dedupe import collapse
from artsearch.errors import (
    ArtsearchError,
    CollectionMissing,
    EmptyQuery,
    ModelLoadError,
    ModelMismatch,
    NotFound,
)
from artsearch.fetch import fetch_image_bytes
from artsearch.images import load_image
from artsearch.index.filters import FACETS, Filters
from artsearch.index.read import VectorIndex
from artsearch.model.choice import IndexModel, check_vector_size, model_for_index
from artsearch.model.encoder import Encoder
from artsearch.model.locate import locate
from artsearch.model.pairing import check_text_model
from artsearch.projection import Projection, place_by_neighbours
from artsearch.storage import open_storage
from artsearch.storage.base import Storage
from artsearch.terms import SUBJECTS_FIELD, TERMS_FIELD
from artsearch.terms import why as why_terms
from artsearch.text import MAX_QUERY_CHARS, clean_text, query_text  # noqa: F401 - MAX_QUERY_CHARS: search.MAX_QUERY_CHARS
from artsearch.vocabulary import load_vocabulary

log = logging.getLogger(__name__)

MAX_K = 50
MIX_TEXT_WEIGHT = 0.5  # an image plus words: the words count half as much as the picture
QUERY_DRAFT_SIZE = (224, 224)  # what CLIP looks at: a query image decodes at the scale the ingest uses
MAP_MAX_POINTS = 5000  # the map shows a random sample of this many artworks of bigger collections
#: How often a service checks that a remote alias still names a collection built with its model (embedded
#: indexes are checked on every search: the pointer file says at once when a rebuild was published).
MODEL_CHECK_SECONDS = 60.0
# A build whose labels and terms cannot be learnt (a broken vocabulary, a refused text model, a sample that cannot
# be read) is tried again after this long, not on every search: each try scrolls the sample and logs a warning.
QUALITY_RETRY_SECONDS = 60.0

#: Extra fetches :meth:`SearchService.page` may make to fill a page whose copies folded away; past that the page is
#: shown short (a collection that is mostly copies of a few pictures must not turn one search into hundreds).
MAX_FILL_ROUNDS = 6
#: The colours alone: works read per share tier and ranked by how much of the colours they have.
COLOUR_TIER_FETCH = 200
#: Words or an image with colours: each fetch asks Qdrant for at least this many works, for the exact rule to keep.
COLOUR_FILL_FETCH = 100


@dataclass
class Query:
    """What to search for. Exactly one of text, image, image_url or like_id is used, in that order of precedence
    from the most specific: like_id, image, image_url, text."""

    text: str = ""
    image: bytes | None = None
    image_url: str = ""
    like_id: str = ""
    filters: Filters = field(default_factory=Filters)
    k: int = 12
    #: The image is a photo of a painting on a wall (the page's "Take a photo"): find the painting in it first.
    photo: bool = False

    def __post_init__(self) -> None:
        # The one place a query's text is cut (MAX_QUERY_CHARS) and cleaned, before anything parses it.
        self.text = query_text(self.text)

    @property
    def mode(self) -> str:
        if self.like_id:
            return "like"
        if self.image is not None:
            return "image"
        if self.image_url.strip():
            return "url"
        if not self.text.strip() and self.filters.colours():
            return "colour"  # "works in blue and ochre": the colours alone
        return "text"


@dataclass
class Hit:
    """One result: the artwork's payload, its score and where to show its image from."""

    artwork_id: str
    score: float
    payload: dict[str, Any]
    image_url: str | None
    artist: Artist | None = None
    vector: np.ndarray | None = field(default=None, repr=False)  # when the query asked for vectors
    copies: list[str] = field(default_factory=list)  # ids of near-duplicates shown under this card
    #: The query named words of its title or artist, and the fused ranking moved it up for that: its place
    #: comes from the name match, not from ``score`` alone (which stays the cosine similarity).
    name_match: bool = False
    #: The colours alone: the share of the picture in the asked colours (the least of two), which ranked it.
    colour_share: float | None = None
    #: How good a match it is on its query's scale (:mod:`artsearch.calibration`): the calibrated score and
    #: "strong match", "match" or "weak match"; None when the build keeps no calibration sample.
    calibrated: float | None = None
    match: str | None = None
    #: The artwork's terms closest to the query too (:mod:`artsearch.terms`): why it matched.
    why: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return str(self.payload.get("title") or "Untitled")

    @property
    def artist_name(self) -> str:
        return str(self.payload.get("artist") or "")

    @property
    def year(self) -> int | None:
        return self.payload.get("year")

    def to_json(self) -> dict[str, Any]:
        genre = self.payload.get("genre") or []
        return {
            "artwork_id": self.artwork_id,
            "title": self.title,
            "artist": self.artist_name,
            "score": round(self.score, 6),
            "image": self.image_url,
            "year": self.year,
            "genre": ", ".join(genre) if isinstance(genre, list) else genre,
            "nationality": self.payload.get("nationality") or "",
            "source_url": self.payload.get("source_url") or "",
            "copies": list(self.copies),  # ids of near-duplicates folded into this result
            "date": self.payload.get("date") or "",
            # The years the period filter uses; basis "artist": an undated work's artist's lifetime.
            "period": [self.payload.get(k) for k in ("year_earliest", "year_latest")]
            if self.payload.get("year_earliest") is not None
            else None,
            "period_basis": self.payload.get("period_basis") or "",
            "match": self.match,
            "calibrated": None if self.calibrated is None else round(self.calibrated, 3),
            "why": list(self.why),
            "subjects": list(self.payload.get(SUBJECTS_FIELD) or []),
        }


@dataclass
class PageOptions:
    """How a search is paged and shaped beyond the query itself (the page keeps these between reruns)."""

    pages: int = 1  # pages of ``query.k`` results ("load more" adds one)
    liked: Sequence[str] = ()
    disliked: Sequence[str] = ()
    per_artist: int = 0  # 0: off, else 1-3 results per artist
    collapse: bool = True  # near-duplicates shown once, with their copies listed
    hide_weak: bool = False  # results labelled "weak match" are left out


@dataclass
class ResultPage:
    """What :meth:`SearchService.page` found: the hits to show and the query's vector (to reuse on a rerun).

    ``found`` keeps every result fetched, before copies were folded, so a later call with more pages
    (``previous=``) only fetches what is new.
    """

    hits: list[Hit]
    vector: np.ndarray | None = field(default=None, repr=False)
    found: list[Hit] = field(default_factory=list, repr=False)
    more: bool = False  # there is at least one more result to show: "load more" will find it
    #: No result is a match (calibration.NOTHING_MATCHES): the page says so over the closest ones.
    nothing_matches: bool = False
    hidden: int = 0  # weak matches left out (PageOptions.hide_weak)

    @property
    def fetched(self) -> int:
        """Results fetched before copies were folded."""
        return len(self.found)


class SearchService:
    """Shared by every session of the app: thread-safe, loads the model lazily and once."""

    def __init__(
        self,
        settings: Settings,
        *,
        encoder: Encoder | None = None,
        index: VectorIndex | None = None,
        storage: Storage | None = None,
        text_encoder: Encoder | None = None,
    ) -> None:
        """``encoder``, when given, is used as it is (tests, benchmarks); otherwise the model is chosen from the
        live index's record and the settings, and loaded on first use. ``text_encoder`` likewise for the text
        model (``TEXT_EMBEDDER_NAME``), which is checked against the index either way."""
        self.settings = settings
        self._encoder = encoder
        self._fixed_encoder = encoder is not None
        self._text_encoder = text_encoder
        # (key, calibration, term vectors, when to try again: None once learnt)
        self._quality: tuple[Any, Calibration | None, dict[str, np.ndarray], float | None] | None = None
        self._text_checked: str | None | bool = False  # the live collection the text model was checked for
        self._checked: tuple[str | None, float] | None = None  # (live collection, when) the model was chosen for
        self.index = index or VectorIndex(settings)
        self.storage = storage or open_storage(settings)
        self._artists: dict[str, Artist] | None = None
        self._missing_images: set[str] = set()
        self._lock = threading.Lock()

    # Lazily loaded, shared resources -------------------------------------------------
    @property
    def encoder(self) -> Encoder:
        """The model for the live index: its own, or the configured one if that fits (ModelMismatch if not).

        Loaded once; loaded again only when a rebuild publishes an index made with another model.
        """
        current = self._encoder
        if current is not None and (self._fixed_encoder or not self._model_check_due()):
            return current
        with self._lock:
            return self._encoder_for_index()

    def _live_collection(self) -> str | None:
        try:
            return self.index.live_collection()
        except ArtsearchError:  # unreachable or missing: the search itself says so
            return None

    def _model_check_due(self) -> bool:
        checked = self._checked
        if checked is None:
            return True
        if self.settings.embedded:
            return self._live_collection() != checked[0]
        return time.monotonic() - checked[1] > MODEL_CHECK_SECONDS

    def index_model(self) -> IndexModel | None:
        """The model the live index records it was built with; None for an index built before models were
        recorded, or one that cannot be read now."""
        try:
            return self.index.recorded_model()
        except ArtsearchError:
            return None

    def _encoder_for_index(self) -> Encoder:
        if self._encoder is not None and (self._fixed_encoder or not self._model_check_due()):
            return self._encoder  # another thread chose meanwhile
        collection = self._live_collection()
        recorded = self.index_model() if collection else None
        name = model_for_index(self.settings, recorded)
        encoder = self._encoder
        if encoder is None or encoder.name != name:
            if encoder is not None:
                log.info("the live index was built with %s: loading it in place of %s", name, encoder.name)
            encoder = Encoder.from_settings(self.settings, name=name)
        if collection:
            try:
                index_dim = self.index.vector_size()
            except ArtsearchError:
                index_dim = None
            check_vector_size(name, encoder.dim, index_dim, recorded)
        self._encoder = encoder
        self._checked = (collection, time.monotonic())
        return encoder

    @property
    def text_encoder(self) -> Encoder:
        """The model text queries use: the text model (``TEXT_EMBEDDER_NAME``) once it is checked against the live
        index (same vector size, distilled for the index's image model: ModelMismatch if not), else the image
        model itself."""
        if not self.settings.text_embedder_name:
            return self.encoder
        collection = self._live_collection()
        current = self._text_encoder
        if current is not None and self._text_checked == collection:
            return current
        with self._lock:
            return self._text_encoder_for_index(collection)

    def _text_encoder_for_index(self, collection: str | None) -> Encoder:
        name = str(self.settings.text_embedder_name)
        if self._text_encoder is not None and self._text_checked == collection:
            return self._text_encoder
        recorded = self.index_model() if collection else None
        if recorded is None:  # built before models were recorded, or nothing built yet: the image model's files
            image = self._encoder if self._encoder is not None else self._encoder_for_index()
            recorded = image.index_model()
        check_text_model(locate(name), recorded, allow_other=self.settings.allow_other_model)
        encoder = self._text_encoder
        if encoder is None:
            encoder = Encoder.from_settings(self.settings, name=name)
        check_vector_size(name, encoder.dim, recorded.dim, recorded)
        self._text_encoder, self._text_checked = encoder, collection
        return encoder

    def artists(self) -> dict[str, Artist]:
        # A local copy: refresh() on another session's thread may reset the attribute between the lines.
        artists = self._artists
        if artists is None:
            artists = self._artists = self.storage.read_artists()
        return artists

    def refresh(self) -> None:
        """Forget cached artist data (after a rebuild)."""
        self._artists = None

    # Vectors -------------------------------------------------------------------------
    def text_vector(self, text: str) -> np.ndarray:
        text = query_text(text)
        if not text:
            raise EmptyQuery("Type a few words to search for, for example 'a gloomy winter landscape'.")
        return self.text_encoder.encode_texts([text])[0]

    def image_vector(self, data: bytes, name: str = "the uploaded image", *, photo: bool = False) -> np.ndarray:
        """An image's embedding; a ``photo`` taken in a gallery is searched by the painting found in it (straightened,
        without frame and colour cast: :mod:`artsearch.gallery`), the views' mean when there are several."""
        image = load_image(
            data,
            max_pixels=self.settings.max_image_pixels,
            max_bytes=self.settings.max_upload_mb * 1024 * 1024,
            draft_size=None if photo else QUERY_DRAFT_SIZE,  # the painting may be a small part of the photo
            max_decode_bytes=self.settings.max_decode_bytes,
            name=name,
        )
        if not photo:
            return self.encoder.encode_images([image])[0]
        vectors = self.encoder.encode_images(gallery.photo_views(image))
        combined = query_syntax.combine(list(vectors), [1.0] * len(vectors))
        return combined if combined is not None else vectors[0]

    def url_vector(self, url: str) -> np.ndarray:
        data = fetch_image_bytes(
            url.strip(),
            allow_private=self.settings.allow_private_urls,
            max_bytes=self.settings.max_upload_mb * 1024 * 1024,
        )
        return self.image_vector(data, name="the image at that URL")

    def stored_vector(self, artwork_id: str) -> np.ndarray:
        records = self.index.retrieve([known_id(artwork_id)], with_vectors=True)
        if not records:
            raise NotFound(f"Artwork {artwork_id} is not in the collection (it may have been removed by a rebuild).")
        return np.asarray(records[0].vector, dtype=np.float32)

    def query_vector(self, query: Query) -> np.ndarray | None:
        """The embedding a query searches with (None for the colours alone, which need none)."""
        if query.mode == "colour":
            return None
        if query.mode == "like":
            return self.stored_vector(query.like_id)
        if query.mode == "image":
            return self.mixed_vector(self.image_vector(query.image or b"", photo=query.photo), query.text)
        if query.mode == "url":
            return self.mixed_vector(self.url_vector(query.image_url), query.text)
        return self.arithmetic_vector(query.text)

    # Hits -------------------------------------------------------------------------------
    def to_hit(self, point: Any) -> Hit:
        payload = dict(point.payload or {})
        return Hit(
            artwork_id=str(point.id),
            score=float(getattr(point, "score", 1.0) or 0.0),
            payload=payload,
            image_url=self.image_url(payload.get("image_key", "")),
            artist=self.artist(payload.get("artist_slug") or slugify(payload.get("artist", ""))),
        )

    def image_url(self, key: str) -> str | None:
        """Where to show an image from; None (a placeholder) when storage cannot provide it."""
        if not key:
            return None
        try:
            return self.storage.image_url(key)
        except ArtsearchError as exc:
            if key not in self._missing_images:  # once per image, not once per search that shows it
                self._missing_images.add(key)
                log.warning("no image for %s: %s", key, exc)
            return None

    def artwork(self, artwork_id: str) -> Hit | None:
        """One indexed artwork as a hit (score 1), or None when it is not in the collection (any more)."""
        records = self.index.retrieve([artwork_id]) if artwork_id else []
        return self.to_hit(records[0]) if records else None

    def artworks(self, artwork_ids: Sequence[str]) -> list[Hit]:
        """Indexed artworks as hits (score 1), in the order asked, leaving out those not in the collection."""
        ids = [i for i in dict.fromkeys(str(a) for a in artwork_ids) if i]
        found = {str(r.id): self.to_hit(r) for r in self.index.retrieve(ids)} if ids else {}
        return [found[i] for i in ids if i in found]

    def artist(self, slug: str) -> Artist | None:
        return self.artists().get(slug) if slug else None

    def artist_works(self, artist: str, *, exclude_id: str = "", limit: int = 8) -> list[Hit]:
        """Other works by the same artist, from the index (never a bucket listing)."""
        points = self.index.scroll(filters=Filters(artist=[artist]), limit=limit + 1)
        hits = [self.to_hit(p) for p in points if str(p.id) != exclude_id]
        return hits[:limit]

    def facets(self, filters: Filters | None = None) -> dict[str, list[tuple[str, int]]]:
        """Filter choices per facet (:data:`~artsearch.index.filters.FACETS`): distinct values with counts.

        With ``filters``, each facet is counted inside Qdrant among the artworks that match the *other*
        facets' chosen values (the usual faceted search: picking an artist narrows the nationalities to
        theirs, while the other artists stay on offer). Blank values are never choices. A range facet's
        choices are its bounds there: ``[("earliest", 1480), ("latest", 1926)]``, or [] with no dated work.
        """
        filters = filters or Filters()
        out = {}
        for f in FACETS:
            others = Filters({name: filters.values_of(name) for name in filters if name != f.name})
            if f.kind == "colour":  # chosen with a picker, not from a list
                out[f.name] = []
                continue
            if f.kind == "range":
                bounds = self.index.span_bounds(f.payload_key, f.upper_key, filters=others)
                out[f.name] = [("earliest", bounds[0]), ("latest", bounds[1])] if bounds else []
                continue
            counts = self.index.facet(f.payload_key, filters=others)
            out[f.name] = [(value, count) for value, count in counts if value.strip()]
        return out

    def info(self) -> dict[str, Any]:
        """Where the index lives, what it holds, the model it was built with and the one searches use. No index
        yet is ``artworks: 0`` with the problem said; any other failure (an index that cannot be opened or
        reached) raises, so a count is never a guess."""
        info = dict(self.settings.describe())
        try:
            info["artworks"] = self.index.count()
            info["vector_size"] = self.index.vector_size()
            recorded = self.index.recorded_model()
        except CollectionMissing as exc:
            info["artworks"] = 0
            info["problem"] = str(exc)
            return {**info, "artists": 0}
        info["built_with"] = recorded.describe() if recorded else "not recorded (built before artsearch recorded it)"
        try:
            info["model"] = model_for_index(self.settings, recorded)
        except (ModelMismatch, ModelLoadError) as exc:
            info["model_problem"] = str(exc)
        if self.settings.text_embedder_name:
            try:
                image = recorded or self.encoder.index_model()
                check_text_model(
                    locate(self.settings.text_embedder_name), image, allow_other=self.settings.allow_other_model
                )
                info["text_model"] = self.settings.text_embedder_name
            except (ModelMismatch, ModelLoadError) as exc:
                info["text_model_problem"] = str(exc)
        info["artists"] = len(self.artists())
        return info

    # Query vectors: arithmetic and mixed queries ------------------------------------------------
    def arithmetic_vector(self, text: str) -> np.ndarray:
        """``sunflowers + blue - yellow``: weighted sum of the terms' normalised embeddings, normalised.

        Anything that is not well-formed arithmetic is embedded as plain text.
        """
        text = query_text(text)  # already cut when it comes from a Query; this is a public method
        terms = query_syntax.parse(text)
        if not terms or len(terms) < 2 and terms[0].weight == 1.0:
            return self.text_vector(text)
        vectors = self.text_encoder.encode_texts([t.text for t in terms])  # each a piece of an already cut query
        combined = query_syntax.combine(list(vectors), [t.weight for t in terms])
        return combined if combined is not None else self.text_vector(text)

    def mixed_vector(self, image_vector: np.ndarray, text: str, text_weight: float = MIX_TEXT_WEIGHT) -> np.ndarray:
        """An image plus words ("this, but in winter"): both normalised, weighted, summed and normalised."""
        if not clean_text(text):
            return image_vector
        combined = query_syntax.combine([image_vector, self.arithmetic_vector(text)], [1.0, text_weight])
        return combined if combined is not None else image_vector

    def _hits(self, points: Sequence[Any], vector: np.ndarray | None = None) -> list[Hit]:
        """Hits with their stored vectors; with ``vector``, scores become the cosine to it (fused ranks are not)."""
        hits = []
        for point in points:
            hit = self.to_hit(point)
            if getattr(point, "vector", None) is not None:
                hit.vector = np.asarray(point.vector, dtype=np.float32)
                if vector is not None:
                    hit.score = float(cosine(vector, hit.vector))
            hits.append(hit)
        return hits

    def page(
        self,
        query: Query,
        options: PageOptions | None = None,
        *,
        vector: np.ndarray | None = None,
        previous: ResultPage | None = None,
    ) -> ResultPage:
        """The search, as the page and the CLI run it: encode once, show ``options.pages`` pages of k, fold copies.

        * ``liked`` / ``disliked``: Qdrant's recommendation query with the query
          and the liked artworks as positive and the disliked as negative
          examples (as vectors, so liked artworks can stay on the page); the
          disliked never come back.
        * ``per_artist`` (1-3): a grouped query by artist, so one prolific artist
          cannot fill the page; later pages keep to artists not shown yet.
        * a plain text query that holds words fuses vector similarity with a
          full-text match on titles and artists, so naming an artist counts;
          the hits it moved up say so (``Hit.name_match``).
        * every fetch leaves out everything fetched before, inside Qdrant, so
          nothing repeats even when the index changed in between; a fetch that
          comes back short ends the list.
        * ``collapse``: near-duplicates fold into their best-ranked copy, and the
          page fetches more to make up for them, so it still shows ``pages * k``
          results while the collection has them (at most :data:`MAX_FILL_ROUNDS`
          extra fetches).

        ``vector`` is the query's embedding when the caller already has it; ``previous`` is an
        earlier :class:`ResultPage` of the same query and options with fewer pages ("load more"):
        its vector and results are kept and only the new pages are fetched. Every hit carries its vector.
        The collection is counted only when nothing was found (to tell an empty collection from no match).
        """
        options = options or PageOptions()
        k = max(1, min(int(query.k), MAX_K))
        if vector is None:
            vector = previous.vector if previous is not None and previous.vector is not None else None
        if vector is None:
            vector = self.query_vector(query)
        found: list[Hit] = list(previous.found) if previous is not None else []
        ended = previous is not None and not previous.more
        want = max(1, options.pages) * k
        shown = self._fold(found, options, query)
        for _ in range(max(1, options.pages) + MAX_FILL_ROUNDS):
            if ended or len(shown) > want:
                break
            # One more than the page needs: when it comes back, "load more" will find something.
            need = want - len(shown) + 1
            artists = list(dict.fromkeys(h.artist_name for h in found)) if options.per_artist else []
            if vector is not None and query.filters.colours():
                # Qdrant's Lab cubes reach past the colour and the exact rule drops what is past it (at 10k works
                # most of what the cubes keep): fetched k at a time, the fill rounds ran out before a page was full.
                need = max(need, COLOUR_FILL_FETCH)
            batch = self._one_page(
                query, vector, need, options, exclude_ids=[h.artwork_id for h in found], exclude_artists=artists
            )
            found.extend(batch)
            ended = len(batch) < need
            shown = self._fold(found, options, query)
        if not found:
            self.index.require_points()  # an empty collection says how to build it; otherwise nothing matched
        # A result fetched past the page stays in ``found``: the next page shows it first.
        result = ResultPage(hits=shown[:want], vector=vector, found=found, more=len(shown) > want or not ended)
        return self._judge(result, "text" if query.mode == "text" else "image", options)

    # How good the matches are, and why ---------------------------------------------------------------
    def quality(self) -> tuple[Calibration | None, dict[str, np.ndarray]]:
        """The live build's calibration and the vocabulary's vectors by the text model, learnt once per build and
        text model; (None, {}) for a build without a calibration sample (labels are then not shown)."""
        key = (self._live_collection(), self.settings.text_embedder_name, str(self.settings.vocabulary))
        cached = self._quality
        if cached is not None and cached[0] == key and (cached[3] is None or time.monotonic() < cached[3]):
            return cached[1], cached[2]
        try:
            sample = self.index.flagged_vectors(SAMPLE_FIELD, SAMPLE_YES, limit=SAMPLE_SIZE)
            vocabulary = load_vocabulary(self.settings.vocabulary)
            terms = self.text_encoder.encode_texts(list(vocabulary.texts))
        except ArtsearchError as exc:  # a broken vocabulary, a refused text model: the search itself still runs
            log.warning("no match labels or terms (tried again in %.0f s): %s", QUALITY_RETRY_SECONDS, exc)
            self._quality = (key, None, {}, time.monotonic() + QUALITY_RETRY_SECONDS)
            return None, {}
        calibration = Calibration.fit(sample, terms) if len(sample) else None
        vectors = dict(zip(vocabulary.labels, terms, strict=True))
        self._quality = (key, calibration, vectors, None)
        return calibration, vectors

    def _judge(self, result: ResultPage, mode: str, options: PageOptions) -> ResultPage:
        if not result.hits or result.vector is None:
            return result
        calibration, term_vectors = self.quality()
        query = normalise_vector(result.vector)
        for hit in result.hits:
            similarity = cosine(query, hit.vector) if hit.vector is not None else hit.score
            if calibration is not None:
                hit.calibrated = calibration.score(similarity, mode)
                hit.match = match_label(hit.calibrated)
            hit.why = why_terms(query, hit.payload.get(TERMS_FIELD) or [], term_vectors)
        if calibration is None:
            return result
        result.nothing_matches = not any(is_match(h.match) for h in result.hits)
        if options.hide_weak:
            kept = [h for h in result.hits if h.match != WEAK]
            result.hidden = len(result.hits) - len(kept)
            result.hits = kept
            result.more = result.more and not result.hidden  # what comes next scores lower still
        return result

    @staticmethod
    def _fold(found: list[Hit], options: PageOptions, query: Query) -> list[Hit]:
        colours = query.filters.colours()
        if colours:  # the Lab cubes Qdrant filtered on reach a little past the colour: the exact rule decides
            found = [h for h in found if colour.has_colours(h.payload, colours)]
        return collapse_hits(found) if options.collapse else list(found)

    def _one_page(
        self,
        query: Query,
        vector: np.ndarray | None,
        k: int,
        options: PageOptions,
        *,
        exclude_ids: Sequence[str],
        exclude_artists: Sequence[str],
    ) -> list[Hit]:
        if vector is None:
            return self._by_colour(query, k, exclude_ids)
        liked, disliked = list(options.liked), list(options.disliked)
        exclude = list(dict.fromkeys([*exclude_ids, *disliked, *([query.like_id] if query.like_id else [])]))
        target: Any = vector.astype(np.float32).tolist()
        if liked or disliked:
            stored = {str(r.id): r.vector for r in self.index.retrieve([*liked, *disliked], with_vectors=True)}
            positive = [target, *(stored[i] for i in liked if i in stored)]
            negative = [stored[i] for i in disliked if i in stored]
            # best_score: a candidate scores its similarity to the closest liked example (or the query), and
            # falls below every such candidate when a disliked example is closer still. The average-vector
            # strategy would blur one liked picture into the query instead.
            target = models.RecommendQuery(
                recommend=models.RecommendInput(
                    positive=positive, negative=negative or None, strategy=models.RecommendStrategy.BEST_SCORE
                )
            )
        if options.per_artist:
            size = max(1, min(int(options.per_artist), 3))
            groups = self.index.query_grouped(
                target,
                group_by="artist",
                group_size=size,
                limit=-(-k // size),
                filters=query.filters,
                exclude_ids=exclude,
                exclude_groups=exclude_artists,
                with_vectors=True,
            )
            # Groups come best group first, each group's hits in order: shown flat, the scores must still fall.
            points = sorted((hit for group in groups for hit in group.hits), key=lambda p: -float(p.score or 0.0))
            return self._hits(points[:k])
        words = query_syntax.name_words(query.text) if query.mode == "text" else []
        if words and not (liked or disliked) and not query_syntax.is_arithmetic(query.text):
            points = self.index.query_fused(
                vector, words, filters=query.filters, limit=k, exclude_ids=exclude, with_vectors=True
            )
            hits = self._hits(points, vector)
            for hit in hits:
                hit.name_match = names_match(words, str(hit.payload.get(NAME_TEXT_FIELD) or ""))
            return hits
        points = self.index.query(target, filters=query.filters, limit=k, exclude_ids=exclude, with_vectors=True)
        return self._hits(points)

    def _by_colour(self, query: Query, k: int, exclude_ids: Sequence[str]) -> list[Hit]:
        """The colours alone: works with the most of them first. Share tier by share tier (40 %, 20 %, 5 % of the
        picture, :data:`artsearch.colour.TIERS`), each a Qdrant filter on the colour keys; within a tier, by how
        much of the colours each has (the least of them, when two are asked for)."""
        colours, exclude, out = query.filters.colours(), list(exclude_ids), []
        for tier in colour.TIERS:
            tiered = [
                models.FieldCondition(key=colour.PAYLOAD_KEY, match=models.MatchAny(any=colour.query_keys(c, tier)))
                for c in colours
            ]
            base = query.filters.to_qdrant(exclude)
            flt = models.Filter(must=[*tiered, *([base] if base is not None else [])])
            # A whole tier's first COLOUR_TIER_FETCH (not just k), so the works with the most of it come first.
            points = self.index.scroll_filtered(flt, limit=max(k - len(out), COLOUR_TIER_FETCH), with_vectors=True)
            batch = self._hits(points)
            for hit in batch:
                hit.score = hit.colour_share = colour.amount(hit.payload, colours)
            batch.sort(key=lambda h: -(h.colour_share or 0.0))
            out.extend(batch)
            exclude += [h.artwork_id for h in batch]
            if len(out) >= k:
                break
        return out

    def surprise(self, filters: Filters | None = None) -> Hit | None:
        """A random artwork from the collection (Qdrant's random sample query), or None when it is empty."""
        self.index.require_points()
        points = self.index.sample(limit=1, filters=filters)
        return self.to_hit(points[0]) if points else None

    def map_points(self, max_points: int = MAP_MAX_POINTS) -> list[dict[str, Any]]:
        """Every artwork's place on the map (a random sample of ``max_points`` for bigger collections)."""
        self.index.require_points()
        fields = ["x", "y", "title", "artist", "genre", "image_key"]
        if self.index.count() > max_points:
            records: list[Any] = self.index.sample(limit=max_points)
        else:
            records, offset = [], None
            while True:
                page, offset = self.index.scroll_page(limit=1000, offset=offset, fields=fields)
                records.extend(page)
                if offset is None:
                    break
        out = []
        for r in records:
            p = r.payload or {}
            if p.get("x") is None or p.get("y") is None:
                continue
            genre = p.get("genre") or []
            out.append(
                {
                    "id": str(r.id),
                    "x": float(p["x"]),
                    "y": float(p["y"]),
                    "title": str(p.get("title") or "Untitled"),
                    "artist": str(p.get("artist") or "Unknown artist"),
                    "genre": (genre[0] if genre else "unknown") if isinstance(genre, list) else str(genre),
                    "image_key": str(p.get("image_key") or ""),
                }
            )
        return out

    def projection(self) -> Projection | None:
        """The live build's fitted map projection, or None (an index built before maps existed)."""
        collection = self.index.live_collection()
        if not collection:
            return None
        try:
            return Projection.from_json(self.storage.read_map(collection))
        except (ArtsearchError, OSError, ValueError, KeyError) as exc:
            log.info("no map projection for %s: %s", collection, exc)
            return None

    def place(
        self, vector: np.ndarray, hits: Sequence[Hit], projection: Projection | None
    ) -> tuple[float, float] | None:
        """Where a query falls on the map: projected, or (UMAP, no projection) among its results."""
        if projection is not None:
            spot = projection.place(vector)
            if spot is not None:
                return spot
        placed = [(h.payload["x"], h.payload["y"], h.score) for h in hits if h.payload.get("x") is not None]
        if not placed:
            return None
        return place_by_neighbours([(x, y) for x, y, _ in placed], [s for _, _, s in placed])


def known_id(artwork_id: str) -> str:
    """``artwork_id`` as Qdrant takes it, or NotFound: every artwork id is a UUID, and Qdrant answers any other
    string with a parse error instead of "not found"."""
    try:
        return str(uuid.UUID(str(artwork_id).strip()))
    except ValueError:
        raise NotFound(
            f"Artwork {artwork_id} is not in the collection: artwork ids are UUIDs, as search --json prints them."
        ) from None


def names_match(words: Sequence[str], name_text: str) -> bool:
    """Whether any query word is a word of ``name_text`` (title and artist), as the full-text index splits
    and lowercases it: the hits the fused ranking moved up for their name."""
    return bool(set(words) & {w.lower() for w in re.findall(r"[^\W_]+", name_text)})


def normalise_vector(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / denominator if denominator else 0.0


def collapse_hits(hits: Sequence[Hit]) -> list[Hit]:
    """One result per picture: near-duplicates (same perceptual hash, or cosine without one) fold into the first,
    which lists their ids in ``copies``."""
    groups = collapse([h.vector for h in hits], [h.payload.get("phash") for h in hits])
    out = []
    for group in groups:
        first = hits[group.first]
        first.copies = [hits[i].artwork_id for i in group.others]
        out.append(first)
    return out
