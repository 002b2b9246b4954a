"""What every source is: a ``name``, an ``items()`` iterator of :class:`SourceItem` and an ``artists()`` mapping.

Reading an item's bytes is deferred to ``item.read()`` so the ingest can do it
on its decode threads (a download for the museum source, a file read for the others).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from artsearch.catalog import Artist, Artwork
from artsearch.images import WEB_FORMATS


@dataclass
class SourceItem:
    """One artwork and a way to get its image bytes."""

    artwork: Artwork
    read: Callable[[], bytes]
    origin: str  # a path or URL, for the end-of-run report
    fingerprint: str = ""  # changes when the image changes (size and mtime for files)
    # The image formats this item may be decoded as (artsearch.images): a collection's own folder allows more
    # than what comes over the network.
    formats: tuple[str, ...] = WEB_FORMATS


class Source(Protocol):
    name: str

    def items(self) -> Iterator[SourceItem]:
        """Artworks in a stable order. May raise SourceError for the whole source."""
        ...

    def artists(self) -> dict[str, Artist]:
        """Artist records keyed by slug, for artists.json."""
        ...

    def skipped(self) -> list[tuple[str, str]]:
        """(origin, reason) for records the source itself could not use."""
        ...
