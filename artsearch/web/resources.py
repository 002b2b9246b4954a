"""The page's shared, cached resources (``st.cache_resource`` / ``st.cache_data``): one per server process.

One :class:`SearchService` per process and settings (the model and the Qdrant client load once),
and the collection's facet counts, artist data and map points refreshed every minute so a
rebuild shows up without a restart.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Any

import streamlit as st

from artsearch.catalog import Artist
from artsearch.config import Settings, read_secrets_file
from artsearch.errors import ArtsearchError
from artsearch.search import SearchService

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
    service = SearchService(_settings)
    # Load the model in the background now, so the first visitor's first search does not wait for the
    # torch import and the weights; the encoder property is locked, so a search that comes first just waits.
    threading.Thread(target=_warm, args=(service,), name="artsearch-warm-model", daemon=True).start()
    return service


def _warm(service: SearchService) -> None:
    try:
        service.encoder  # noqa: B018 - the property loads the model
    except ArtsearchError as exc:  # the first search shows this message to the visitor
        log.warning("could not preload the model: %s", exc)


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
