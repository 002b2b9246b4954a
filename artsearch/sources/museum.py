"""The Cleveland Museum of Art Open Access API as a source (keyless, CC0).

``GET {api_url}?has_image=1&cc0=1&type=Painting&skip=0&limit=100`` returns
``{"info": {"total": ...}, "data": [record, ...]}``; each record carries its
creators and links to its images. Field names follow the museum's documentation
(https://openaccess-api.clevelandart.org/): ``images.web.url`` with string
``width``/``height``; ``creators[].description`` such as
``"Vincent van Gogh (Dutch, 1853–1890)"``, ``birth_year``/``death_year`` as
strings, ``biography`` possibly null. There is no separate name or nationality
field, so :func:`parse_creator_description` takes them out of the description.

Images are fetched lazily by ``item.read()`` on the ingest's threads, through
one rate-limited, retrying :class:`requests.Session`, and kept in storage so
the app can show them and a re-run downloads nothing.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from artsearch.catalog import UNKNOWN_ARTIST, Artist, Artwork
from artsearch.errors import ImageError, SourceError
from artsearch.images import load_image
from artsearch.sources.base import SourceItem
from artsearch.storage.base import Storage

log = logging.getLogger(__name__)

USER_AGENT = "artsearch (CLIP artwork search; museum open-access ingest)"
MAX_IMAGE_BYTES = 50 * 1024 * 1024  # a "web" image is about 1 MB; refuse anything absurd
MAX_RETRY_AFTER = 120.0  # seconds; a longer Retry-After is capped, not obeyed for hours
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
NO_NETWORK_HINT = "use --source folder --images-dir DIR to build from a folder of images"


class Unreachable(SourceError):
    """The server could not be reached at all (no network, DNS, refused), after the retries."""


class RateLimiter:
    """At most ``rate`` request starts per second, across all threads.

    A minimum interval between starts rather than a token bucket: no bursts,
    which is what a polite client wants, and in any one-second window there
    are at most ``rate + 1`` requests.
    """

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


_DESCRIPTION = re.compile(r"^(?P<name>.*?)\s*\((?P<inner>[^()]*)\)\s*$")
_YEAR = re.compile(r"\b(\d{3,4})\b")
_RANGE_DASH = re.compile(r"\s*[–—-]\s*")
_DATE_WORD = re.compile(r"(?:active|born|died|fl|ca?)\b", re.IGNORECASE)


def _split_description(text: str) -> tuple[str, str, str]:
    """'Name (Nationality, dates)' -> (name, nationality, dates text)."""
    text = " ".join((text or "").split())
    match = _DESCRIPTION.match(text)
    if not match or not match.group("name"):
        return text, "", ""
    parts = [p.strip() for p in match.group("inner").split(",") if p.strip()]
    nationality = ""
    if parts and not re.search(r"\d", parts[0]) and not _DATE_WORD.match(parts[0]):
        nationality = parts.pop(0)
        if nationality.lower() in ("unknown", "nationality unknown"):
            nationality = ""
    return match.group("name"), nationality, ", ".join(parts)


def _years_from_dates(dates: str) -> tuple[int | None, int | None]:
    """'1853–1890' -> (1853, 1890); 'born 1950' -> (1950, None); 'active 1600s' -> (None, None)."""
    lowered = dates.lower()
    if not dates or "active" in lowered or "fl." in lowered:
        return None, None
    halves = _RANGE_DASH.split(dates, maxsplit=1)
    if len(halves) == 2:
        birth, death = _YEAR.search(halves[0]), _YEAR.search(halves[1])
        if birth or death:
            return (int(birth.group(1)) if birth else None), (int(death.group(1)) if death else None)
    first = _YEAR.search(dates)
    year = int(first.group(1)) if first else None
    if lowered.startswith("born"):
        return year, None
    if lowered.startswith("died"):
        return None, year
    return None, None


def parse_creator_description(text: str) -> tuple[str, str, int | None, int | None]:
    """The museum's creator description -> (name, nationality, birth year, death year).

    ``"Vincent van Gogh (Dutch, 1853–1890)"`` -> ``("Vincent van Gogh", "Dutch", 1853, 1890)``.
    Also handles a hyphen for the en-dash, ``born 1950``, ``active 1600s``, no
    nationality, ``Unknown`` nationality and descriptions without parentheses.
    """
    name, nationality, dates = _split_description(text)
    birth, death = _years_from_dates(dates)
    return name, nationality, birth, death


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _texts(value: Any) -> list[str]:
    """A field the API gives as a list of strings (``culture``), or a lone string: its non-blank entries."""
    values = value if isinstance(value, list) else [value]
    return [text for text in (_text(v) for v in values) if text]


def creator_to_artist(creator: dict[str, Any]) -> Artist | None:
    """One entry of a record's ``creators`` as an :class:`Artist`, or None without a name."""
    name, nationality, dates = _split_description(_text(creator.get("description")))
    name = name or _text(creator.get("name_in_original_language"))
    if not name:
        return None
    parsed_birth, parsed_death = _years_from_dates(dates)
    birth = _int_or_none(creator.get("birth_year")) or parsed_birth
    death = _int_or_none(creator.get("death_year")) or parsed_death
    if birth and death:
        years = f"{birth}–{death}"
    else:
        years = dates or (f"born {birth}" if birth else f"died {death}" if death else "")
    return Artist(
        name=name,
        years=years,
        birth_year=birth,
        death_year=death,
        nationality=nationality,
        bio=_text(creator.get("biography")),
    )


class MuseumSource:
    """Paintings (or other types) from the museum's open-access API.

    Images come at the API's ``web`` size (about 900-1300 px on the long side),
    the smallest it offers: CLIP only needs 224 px, so ``print`` (3400 px) and
    ``full`` (TIFF) would be downloads thrown away.

    Retries are a small hand-written loop rather than ``urllib3.Retry`` because
    every attempt, retries included, must pass the shared rate limiter, and a
    ``Retry-After`` on any retryable status (not only 429/503) is honoured.

    ``rate_limit`` is requests per second for this source as a whole (listing
    pages, downloads and retries, all threads); ``workers`` caps simultaneous
    downloads; ``backoff`` is the first retry delay in seconds, doubled each time.
    """

    name = "museum"

    def __init__(
        self,
        api_url: str,
        *,
        storage: Storage,
        artwork_type: str | None = "Painting",
        department: str | None = None,
        query: str | None = None,
        limit: int | None = None,
        page_size: int = 100,
        workers: int = 4,
        rate_limit: float = 5.0,
        timeout: float = 20.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        session: requests.Session | None = None,
    ) -> None:
        self.api_url = api_url
        self.storage = storage
        self.artwork_type = artwork_type
        self.department = department
        self.query = query
        self.limit = limit
        self.page_size = max(1, page_size)
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.backoff = backoff
        self.limiter = RateLimiter(rate_limit)
        # Bounds concurrent downloads however many threads the ingest calls read() from.
        self._downloads = threading.BoundedSemaphore(max(1, workers))
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
            adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(1, workers) + 1)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self.session = session
        self._artists: dict[str, Artist] = {}
        self._skipped: list[tuple[str, str]] = []

    # -- HTTP -------------------------------------------------------------

    def _get(
        self, url: str, params: dict[str, Any] | None = None, *, what: str = "Image", stream: bool = False
    ) -> requests.Response:
        """GET with the rate limit, retries with backoff and ``Retry-After``; raise SourceError.

        Returns a 2xx response. 404 and other 4xx fail at once; 429, 500, 502-504,
        timeouts and connection errors are retried ``max_retries`` times.
        """
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            self.limiter.wait()
            try:
                response = self.session.get(url, params=params, timeout=self.timeout, stream=stream)
            except TRANSIENT_ERRORS as exc:
                if last:
                    raise Unreachable(f"Could not reach {url}: {type(exc).__name__}.") from None
                self._sleep(attempt, None, url, type(exc).__name__)
                continue
            except requests.RequestException as exc:
                raise SourceError(f"Bad request to {url}: {exc}.") from None
            if response.ok:
                return response
            response.close()
            if response.status_code == 404:
                raise SourceError(f"{what} not found at {url} (HTTP 404).")
            if response.status_code not in RETRY_STATUSES or last:
                raise SourceError(f"{url} answered HTTP {response.status_code} after {attempt + 1} attempt(s).")
            self._sleep(attempt, retry_after_seconds(response.headers.get("Retry-After")), url, response.status_code)
        raise AssertionError("unreachable")  # pragma: no cover

    def _sleep(self, attempt: int, retry_after: float | None, url: str, why: object) -> None:
        """Exponential backoff with jitter, or what the server asked for if it asked for longer."""
        delay = self.backoff * (2**attempt) * random.uniform(1.0, 1.5)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        log.info("Retrying %s in %.1f s (%s)", url, delay, why)
        time.sleep(delay)

    def _download(self, url: str) -> bytes:
        with self._downloads:
            response = self._get(url, stream=True)
            with response:
                size = _int_or_none(response.headers.get("Content-Length"))
                if size is not None and size > MAX_IMAGE_BYTES:
                    raise SourceError(f"Image at {url} is {size} bytes, over the {MAX_IMAGE_BYTES} byte limit.")
                chunks, total = [], 0
                try:
                    for chunk in response.iter_content(64 * 1024):
                        total += len(chunk)
                        if total > MAX_IMAGE_BYTES:
                            raise SourceError(f"Image at {url} is over the {MAX_IMAGE_BYTES} byte limit.")
                        chunks.append(chunk)
                except requests.RequestException as exc:
                    raise SourceError(f"Download of {url} broke off: {type(exc).__name__}.") from None
        return b"".join(chunks)

    def _reader(self, key: str, url: str) -> Callable[[], bytes]:
        def read() -> bytes:
            if self.storage.has_image(key):
                return self.storage.read_image(key)
            data = self._download(url)
            # Keep only what decodes: a truncated or corrupt file kept in storage would be served
            # (and refused) on every later run, never fetched again after the museum fixes it.
            # A reduced-scale decode still reads the whole file, and costs far less than the
            # rate-limited download it follows.
            try:
                load_image(data, draft_size=(64, 64), name=url)
            except ImageError:
                log.debug("not keeping %s: it does not decode", url)
                return data  # the ingest refuses it with the decoder's message, and it is retried next run
            self.storage.put_image(key, data)
            return data

        return read

    # -- listing ----------------------------------------------------------

    def _page(self, skip: int, limit: int) -> dict[str, Any]:
        params: dict[str, Any] = {"has_image": 1, "cc0": 1, "skip": skip, "limit": limit}
        for key, value in (("type", self.artwork_type), ("department", self.department), ("q", self.query)):
            if value:
                params[key] = value
        hint = "Check ARTSEARCH_MUSEUM_API_URL (or [Artsearch] MUSEUM_API_URL in secrets.toml)."
        try:
            response = self._get(self.api_url, params, what="API listing")
        except Unreachable as exc:
            reason = str(exc).removeprefix(f"Could not reach {self.api_url}: ").rstrip(".")
            raise SourceError(
                f"Cannot reach the museum API at {self.api_url} (no network? {reason}): {NO_NETWORK_HINT}, or "
                "check ARTSEARCH_MUSEUM_API_URL."
            ) from None
        except SourceError as exc:
            raise SourceError(f"Museum API unavailable: {exc} {hint}") from None
        try:
            page = response.json()
        except ValueError:
            raise SourceError(f"Museum API at {self.api_url} did not return JSON. {hint}") from None
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            raise SourceError(f"Museum API at {self.api_url} returned no 'data' list. {hint}")
        return page

    def items(self) -> Iterator[SourceItem]:
        """Usable records in API order, page by page; the rest go to :meth:`skipped`."""
        self._artists, self._skipped = {}, []
        skip = yielded = 0
        while self.limit is None or yielded < self.limit:
            page = self._page(skip, self.page_size)
            records = page["data"]
            if not records:
                break
            for record in records:
                item = self._item(record)
                if item is None:
                    continue
                yield item
                yielded += 1
                if self.limit is not None and yielded >= self.limit:
                    return
            skip += len(records)
            info = page.get("info")
            total = _int_or_none(info.get("total")) if isinstance(info, dict) else None
            # Trust the total when there is one: the API may cap a page below page_size.
            if skip >= total if total is not None else len(records) < self.page_size:
                break

    def _item(self, record: Any) -> SourceItem | None:
        """One API record as a SourceItem, or None (and a skipped entry) if it cannot be used."""
        if not isinstance(record, dict):
            self._skipped.append((self.api_url, "record is not an object"))
            return None
        record_id = _int_or_none(record.get("id"))
        origin = _text(record.get("url")) or f"museum record {record.get('id')!r}"
        title = _text(record.get("title"))
        images = record.get("images")
        web = images.get("web") if isinstance(images, dict) else None
        image_url = _text(web.get("url")) if isinstance(web, dict) else ""
        reason = (
            "no id" if record_id is None
            else "no title" if not title
            else "no image" if not images
            else "no web-size image URL" if not image_url
            else None
        )  # fmt: skip
        if reason:
            self._skipped.append((origin, reason))
            return None

        artists = [a for a in (creator_to_artist(c) for c in record.get("creators") or [] if isinstance(c, dict)) if a]
        for artist in artists:
            known = self._artists.get(artist.slug)
            self._artists[artist.slug] = known.merged_with(artist) if known else artist
        first = artists[0] if artists else None
        key = f"museum/images/{record_id}.jpg"
        artwork = Artwork(
            source=self.name,
            source_id=str(record_id),
            title=title,
            artist=first.name if first else UNKNOWN_ARTIST,
            genre=_text(record.get("type")),
            nationality=first.nationality if first else "",
            year=_int_or_none(record.get("creation_date_earliest")),
            earliest=_int_or_none(record.get("creation_date_earliest")),
            latest=_int_or_none(record.get("creation_date_latest")),
            image_key=key,
            source_url=_text(record.get("url")),
            width=_int_or_none(web.get("width")),
            height=_int_or_none(web.get("height")),
            extra={
                "date": _text(record.get("creation_date")),  # as the museum writes it: "c. 1830", "1889"
                "type": _text(record.get("type")),
                "technique": _text(record.get("technique")),
                "department": _text(record.get("department")),
                "accession_number": _text(record.get("accession_number")),
                "culture": "; ".join(_texts(record.get("culture"))),
                "credit_line": _text(record.get("creditline")),
                "measurements": _text(record.get("measurements")),
                "licence": _text(record.get("share_license_status")),
                "image_url": image_url,
            },
        )
        return SourceItem(artwork=artwork, read=self._reader(key, image_url), origin=origin)

    def artists(self) -> dict[str, Artist]:
        """Every creator seen by :meth:`items` so far, keyed by slug."""
        return dict(self._artists)

    def skipped(self) -> list[tuple[str, str]]:
        return list(self._skipped)
