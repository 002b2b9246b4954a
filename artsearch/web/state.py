"""What defines a search on the page, and how it travels in the address bar (so a search is a link).

:class:`PageState` is everything the visitor chose (mode, words, URL, "more like", k, filters); it
turns into the :class:`~artsearch.search.Query` to run and to and from ``st.query_params``. A
shared link may be tampered with: everything read from it is clamped, validated or dropped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from artsearch.errors import EmptyQuery
from artsearch.images import SUPPORTED_UPLOAD_TYPES
from artsearch.index.filters import FACETS, Filters
from artsearch.search import MAX_K, Query

PLACEHOLDER = "a gloomy landscape in the winter"
DEFAULT_K = 12
#: The modes a visitor picks; "like" ("more like this") is entered from a result card instead.
MODES: dict[str, str] = {"text": "Text", "image": "Upload an image", "camera": "Take a photo", "url": "Image URL"}
ALL_MODES = (*MODES, "like")


@dataclass
class PageState:
    """Everything that defines a search on the page (except the uploaded file's bytes)."""

    mode: str = "text"
    text: str = ""
    url: str = ""
    like_id: str = ""
    k: int = DEFAULT_K
    mix: str = ""  # words blended into an image search ("this, but in winter")
    filters: Filters = field(default_factory=Filters)
    work: str = ""  # the artwork whose detail view is open (``work=<id>`` in a link), or ""

    def query(self, image: bytes | None = None, *, submitted: bool = False) -> Query | None:
        """The Query to run, or None when the visitor has not asked for anything yet.

        With nothing to search for, an explicit ``submitted`` (the Search button)
        raises EmptyQuery with what to do, instead of silently showing nothing.
        """
        common = {"filters": self.filters, "k": clamp_k(self.k)}
        if self.mode == "like":
            return Query(like_id=self.like_id, **common) if self.like_id else None
        if self.mode == "image":
            if image is None:
                return _nothing(
                    submitted, f"Choose an image file ({upload_formats()}) to find artworks that look like it."
                )
            return Query(image=image, text=self.mix, **common)
        if self.mode == "camera":  # a photo of a painting on a wall: the search finds the painting in it
            if image is None:
                return _nothing(submitted, "Take a photo of the painting (a phone opens its camera) to find it.")
            return Query(image=image, text=self.mix, photo=True, **common)
        if self.mode == "url":
            if not self.url.strip():
                return _nothing(submitted, "Paste the address of an image (https://...) to find artworks like it.")
            return Query(image_url=self.url, text=self.mix, **common)
        if not self.text.strip():
            if self.filters.colours():  # "works in blue and ochre": the colours alone
                return Query(text="", **common)
            return _nothing(submitted, f"Type a few words to search for, for example '{PLACEHOLDER}'.")
        return Query(text=self.text, **common)


def upload_formats() -> str:
    """The upload widget's formats as a visitor reads them: "PNG, JPEG or WEBP" (JPG and JPEG are one)."""
    names = list(dict.fromkeys("JPEG" if t.lower() in ("jpg", "jpeg") else t.upper() for t in SUPPORTED_UPLOAD_TYPES))
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


def _nothing(submitted: bool, message: str) -> None:
    """Nothing to search with: fine on a fresh page, a message when the visitor pressed Search."""
    if submitted:
        raise EmptyQuery(message)


def clamp_k(value: Any) -> int:
    """A result count in 1..MAX_K; anything unreadable is the default."""
    try:
        k = int(str(value).strip())
    except (TypeError, ValueError):
        return DEFAULT_K
    return max(1, min(k, MAX_K))


def valid_id(value: str) -> str:
    """An artwork id from a link: a UUID, or "" (Qdrant rejects anything else with an unhelpful error)."""
    try:
        return str(uuid.UUID(value.strip()))
    except (ValueError, AttributeError):
        return ""


def _one(params: Mapping[str, Any], key: str) -> str:
    value = params.get(key, "")
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else ""
    return str(value)


def _many(params: Mapping[str, Any], key: str) -> list[str]:
    value = params.get(key, [])
    values = [value] if isinstance(value, str) else list(value)
    return list(dict.fromkeys(str(v) for v in values if str(v)))


def state_from_params(params: Mapping[str, Any]) -> PageState:
    """Read a shared link. ``params`` maps a key to a string or a list of strings (repeated keys)."""
    mode = _one(params, "mode") or "text"
    like_id = valid_id(_one(params, "like"))
    if mode not in ALL_MODES or (mode == "like" and not like_id):
        mode = "text"
    return PageState(
        mode=mode,
        text=_one(params, "q"),
        url=_one(params, "url"),
        like_id=like_id,
        k=clamp_k(_one(params, "k") or DEFAULT_K),
        filters=Filters(
            {
                f.name: [_one(params, b) for b in f.bounds] if f.kind == "range" else _many(params, f.name)
                for f in FACETS
            }
        ),
        mix=_one(params, "mix"),
        work=valid_id(_one(params, "work")),
    )


def params_from_state(state: PageState) -> dict[str, str | list[str]]:
    """What goes in the address bar: only what differs from an empty page, so links stay short."""
    params: dict[str, str | list[str]] = {}
    if state.mode != "text":
        params["mode"] = state.mode
    if state.text.strip():
        params["q"] = state.text.strip()
    if state.mode == "url" and state.url.strip():
        params["url"] = state.url.strip()
    if state.mode == "like" and state.like_id:
        params["like"] = state.like_id
    if state.mode in ("image", "url") and state.mix.strip():
        params["mix"] = state.mix.strip()
    if clamp_k(state.k) != DEFAULT_K:
        params["k"] = str(clamp_k(state.k))
    for f in FACETS:
        values = state.filters.get(f.name, ())
        if f.kind == "range":
            params.update({bound: value for bound, value in zip(f.bounds, values, strict=False) if value})
        elif values:
            params[f.name] = list(values)
    if valid_id(state.work):
        params["work"] = valid_id(state.work)
    return params


def filter_key(facet_name: str) -> str:
    """The session-state key of a facet's sidebar widget (``f_artist``...)."""
    return f"f_{facet_name}"


def known(values: Iterable[str], options: Sequence[str]) -> list[str]:
    """Keep the values that are still choices (a link may name an artist a rebuild removed)."""
    allowed = set(options)
    return [v for v in values if v in allowed]
