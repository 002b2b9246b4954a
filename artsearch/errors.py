"""Typed errors whose message is meant for the person using artsearch.

Every error a user can cause is one of these. The UI shows ``str(error)`` in a
single ``st.error`` line; the CLI prints it and exits non-zero. Messages say
what to do next and never contain secret values.
"""

from __future__ import annotations


class ArtsearchError(Exception):
    """Base class: ``str(error)`` is a one-line, actionable message."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(ArtsearchError):
    """A setting is missing or malformed."""


class MissingCredentials(ConfigError):
    """Credentials for an external service are not configured."""


class ModelLoadError(ArtsearchError):
    """The CLIP model could not be loaded."""


class ModelMismatch(ArtsearchError):
    """The configured model is not the one the index was built with."""


class ExportError(ArtsearchError):
    """A model's ONNX export is missing, stale or corrupt, or could not be written (the message says which)."""


class QdrantUnavailable(ArtsearchError):
    """Qdrant cannot be reached, or its embedded folder cannot be opened."""


class CollectionMissing(ArtsearchError):
    """The collection does not exist or holds no artworks yet."""


class EmptyQuery(ArtsearchError):
    """The search has nothing to search with."""


class ImageError(ArtsearchError):
    """An image could not be read: corrupt, truncated, not an image, too large."""


class UnsafeURL(ArtsearchError):
    """An image URL was refused (scheme, address, size or content type)."""


class FetchError(ArtsearchError):
    """An HTTP resource could not be fetched."""


class StorageError(ArtsearchError):
    """Images or artist data could not be read or written in storage."""


class WriteError(ArtsearchError):
    """Our own data (images in storage, artists.json, a map, the index) could not be written: a full or failing
    disk. A failed run, never a skipped image: nothing is published, and the same command resumes."""


class NotFound(ArtsearchError):
    """A requested artwork or object does not exist."""


class SourceError(ArtsearchError):
    """A dataset source could not be read or downloaded."""
