"""The page's shared, cached resources (``st.cache_resource`` / ``st.cache_data``): one per server process.

One :class:`SearchService` per process and settings (the model and the Qdrant client load once, the
model warmed on a thread as soon as the first page is served), and the collection's facet counts,
artist data, artists' works, map points and map projection refreshed every minute so a rebuild shows
up without a restart. None of these run on a search: a rerun reads them from the caches.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import logging
import threading
import weakref
from pathlib import Path
from typing import Any

import streamlit as st
from PIL import Image

from artsearch import duplicates
from artsearch.catalog import Artist
from artsearch.config import Settings, read_secrets_file
from artsearch.errors import ArtsearchError
from artsearch.index.filters import Filters
from artsearch.projection import Projection
from artsearch.search import Hit, SearchService, collapse_hits

log = logging.getLogger(__name__)


def secrets_files() -> list[Path]:
    """Where Streamlit looks for secrets (its ``secrets.files`` option: ~/.streamlit and ./.streamlit)."""
    return [Path(str(p)).expanduser() for p in st.get_option("secrets.files") or []]


def secrets_dict(secrets: Any) -> dict[str, Any]:
    """``st.secrets`` as a plain dict, or {} when there is no secrets file.

    A secrets file that exists but cannot be read is a ConfigError naming it and the place it breaks (never its
    contents): Streamlit would report it as missing, and the page would quietly run on the defaults instead of
    the operator's settings.
    """
    for path in secrets_files():
        read_secrets_file(path)  # raises ConfigError for a malformed or unreadable file
    try:
        return dict(secrets.to_dict())
    except FileNotFoundError as exc:  # Streamlit's StreamlitSecretNotFoundError: no secrets file
        log.info("no secrets.toml (%s); using environment variables and defaults", type(exc).__name__)
        return {}


def settings_key(settings: Settings) -> str:
    """A hashable cache key for Settings, covering the fields ``repr`` hides (keys, credentials)."""
    data = json.dumps(dataclasses.asdict(settings), sort_keys=True, default=str)
    return hashlib.sha256(data.encode()).hexdigest()


def _release(service: SearchService) -> None:
    """Close the Qdrant client when the cache drops a service: embedded Qdrant allows one client per folder."""
    service.index.close()


@st.cache_resource(show_spinner=False, on_release=_release)
def _service(key: str, _settings: Settings) -> SearchService:
    return SearchService(_settings)


_warming: weakref.WeakSet[SearchService] = weakref.WeakSet()
_warming_lock = threading.Lock()


def warm_up(service: SearchService, *, wait: bool = False) -> bool:
    """Load the model once per service, so the first visitor's first search does not wait for the torch import
    and the weights. ``serve.py`` calls it with ``wait`` when the server starts (it answers once the model is in);
    under a plain ``streamlit run app.py`` the page calls it once it has been drawn, on a thread, so the first page
    shows before the import takes the interpreter. The encoder property is locked: a search that comes first
    waits for it. Returns whether the model is loaded by now (False while a thread is loading it)."""
    with _warming_lock:
        if service in _warming:
            return False
        _warming.add(service)
    if wait:
        return _warm(service)
    threading.Thread(target=_warm, args=(service,), name="artsearch-warm-model", daemon=True).start()
    return False


def _warm(service: SearchService) -> bool:
    """Load the model and run each tower once, so the first search costs what a later one costs (a model's
    first forward pass allocates and plans what later ones reuse)."""
    try:
        encoder = service.encoder
        encoder.encode_texts(["a painting"])
        encoder.encode_images([Image.new("RGB", (64, 64), (128, 128, 128))])
        if service.settings.text_embedder_name:  # the text model (TEXT_EMBEDDER_NAME) embeds the text queries
            service.text_encoder.encode_texts(["a painting"])
        service.quality()  # the match labels' scales and the vocabulary's vectors, once per build
        # The model is half a million long-lived objects: out of the cyclic collector's sight, a collection
        # (Python runs them as the page allocates) no longer walks them all each time.
        gc.freeze()
        return True
    except ArtsearchError as exc:  # the first search shows this message to the visitor
        log.warning("could not preload the model: %s", exc)
    except Exception:  # a warm-up must never take the server down; the first search reports what is wrong
        log.exception("warming the model up failed")
    return False


def get_service(settings: Settings) -> SearchService:
    """The process-wide SearchService for these settings: the model and Qdrant client are created once."""
    return _service(settings_key(settings), settings)


@st.cache_data(ttl=60, show_spinner=False)
def _overview(key: str, _service: SearchService) -> dict[str, Any]:
    _service.index.require_points()
    return {"facets": _service.facets()}


def overview(service: SearchService) -> dict[str, Any]:
    """Filter choices with counts; raises CollectionMissing when there is nothing to search.

    Cached for a minute so a rebuild's new artists and genres appear without a restart.
    """
    return _overview(settings_key(service.settings), service)


@st.cache_data(ttl=60, show_spinner=False, max_entries=256)
def _facet_counts(key: str, filters: tuple[tuple[str, tuple[str, ...]], ...], _service: SearchService) -> dict:
    return _service.facets(Filters(dict(filters)))


def facet_counts(service: SearchService, filters: Filters) -> dict[str, list[tuple[str, int]]]:
    """Each facet's choices counted among the artworks the *other* chosen filters keep (counted in Qdrant),
    at most a minute old."""
    return _facet_counts(settings_key(service.settings), tuple(filters.items()), service)


@st.cache_data(ttl=60, show_spinner=False, max_entries=512)
def _artist_works(key: str, artist: str, limit: int, _service: SearchService) -> list[Hit]:
    return collapse_hits(_service.artist_works(artist, limit=limit))


def artist_works(service: SearchService, artist: str, limit: int) -> list[Hit]:
    """Works by ``artist`` in the collection, copies folded, read at most once a minute per artist and server."""
    return _artist_works(settings_key(service.settings), artist, limit, service) if artist else []


@st.cache_data(ttl=60, show_spinner=False, max_entries=512)
def _copies_of(key: str, artwork_id: str, _service: SearchService) -> list[str]:
    return duplicates.copies_of(_service.index, artwork_id)


def copies_of(service: SearchService, artwork_id: str) -> list[str]:
    """The collection's copies of one artwork (the duplicates report's rule), looked up at most once a minute."""
    return _copies_of(settings_key(service.settings), artwork_id, service) if artwork_id else []


@st.cache_data(ttl=60, show_spinner=False, max_entries=4)
def _projection(key: str, collection: str | None, _service: SearchService) -> Projection | None:
    return _service.projection()


def projection(service: SearchService) -> Projection | None:
    """The live build's map projection, read from storage once per build (and at most once a minute)."""
    return _projection(settings_key(service.settings), service.index.live_collection(), service)


@st.cache_data(ttl=60, show_spinner=False)
def _artists(key: str, _service: SearchService) -> dict[str, Artist]:
    _service.refresh()  # re-read artists.json at most once a minute, so a rebuild's bios show up
    return _service.artists()


def artists(service: SearchService) -> dict[str, Artist]:
    """artists.json, loaded once a minute at most and shared by every session."""
    return _artists(settings_key(service.settings), service)


@st.cache_data(ttl=60, show_spinner=False)
def _map_points(key: str, _service: SearchService) -> list[dict[str, Any]]:
    return _service.map_points()


def map_points(service: SearchService) -> list[dict[str, Any]]:
    """The collection's map points, read at most once a minute per server (a rebuild shows up within it)."""
    return _map_points(settings_key(service.settings), service)
