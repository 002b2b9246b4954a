"""Images and ``artists.json`` in a Google Cloud Storage bucket.

:class:`GCSStorage` implements the :class:`artsearch.storage.base.Storage` protocol,
so the app and the ingest do not know which backend they use. Object names are
``PREFIX + key`` (a non-empty prefix always ends with ``/``).

Images are shown through V4 signed URLs, so the bucket stays private and needs
no CORS setup (an ``<img src>`` GET is not a CORS request). URLs are signed
locally with the service account's private key (no network call) and cached
for at most half their lifetime: every URL handed to a page still has at least
half of ``SIGNED_URL_TTL`` to live, so a page left open does not show expired
images, and a re-render after that gets fresh ones.

Every failure becomes an :mod:`artsearch.errors` type whose message is one
actionable line; no message ever contains the private key.
"""

from __future__ import annotations

import logging
import mimetypes
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import google.auth.exceptions
import requests
from google.api_core import exceptions as gexc
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY
from google.oauth2 import service_account

from artsearch.catalog import Artist
from artsearch.config import Settings
from artsearch.errors import ArtsearchError, ConfigError, MissingCredentials, NotFound, StorageError
from artsearch.storage.base import (
    ARTISTS_KEY,
    MAP_PREFIX,
    artists_from_json,
    artists_to_json,
    check_key,
    map_collection,
    map_key,
)

log = logging.getLogger(__name__)

SECRETS_HINT = "paste the service-account JSON key, key by key, under [gcp_service_account] in .streamlit/secrets.toml"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
READ_ROLE = "roles/storage.objectViewer"
WRITE_ROLE = "roles/storage.objectAdmin"
# Uploading the same bytes twice is harmless, so uploads may be retried even
# without a generation precondition (the library's default does not retry them).
UPLOAD_RETRY: Retry = DEFAULT_RETRY
# Reads serve a page a visitor is waiting for: give up after a few seconds instead of the
# library's two minutes, and fail fast for a moment once the bucket was unreachable, so one
# results page does not wait once per image.
READ_RETRY: Retry = DEFAULT_RETRY.with_deadline(4.0)
READ_TIMEOUT = (3.05, 10.0)  # connect, read (seconds)
OUTAGE_BACKOFF_S = 5.0


def load_service_account(info: Mapping[str, Any] | None) -> service_account.Credentials:
    """Credentials from the ``[gcp_service_account]`` secrets, with one-line errors.

    Fixes the most common paste mistake: a ``private_key`` whose line breaks
    arrived as the two characters backslash-n.
    """
    if not info:
        raise MissingCredentials(f"The gcs storage backend needs a service account: {SECRETS_HINT}.")
    if not isinstance(info, Mapping):
        raise ConfigError(
            f"[gcp_service_account] must be a table of keys, not a {type(info).__name__}; {SECRETS_HINT}."
        )
    data = {str(k): v for k, v in info.items()}
    missing = [k for k in ("private_key", "client_email") if not data.get(k)]
    if missing:
        raise MissingCredentials(f"[gcp_service_account] lacks {', '.join(missing)}; {SECRETS_HINT}.")
    kind = data.get("type", "service_account")
    if kind != "service_account":
        raise ConfigError(
            f"[gcp_service_account] has type {kind!r}, not 'service_account'; create a key for a service account "
            f"(IAM > Service accounts > Keys > Add key > JSON) and {SECRETS_HINT}."
        )
    key = str(data["private_key"])
    if "\\n" in key and "\n" not in key:
        data["private_key"] = key.replace("\\n", "\n")
    data.setdefault("token_uri", DEFAULT_TOKEN_URI)
    try:
        return service_account.Credentials.from_service_account_info(data)
    except (ValueError, TypeError, IndexError, google.auth.exceptions.GoogleAuthError):
        # The library's message may quote the key material: never pass it on.
        raise ConfigError(
            "private_key in [gcp_service_account] is not a valid PEM private key; paste it exactly as in the "
            "JSON key file, from -----BEGIN PRIVATE KEY----- to -----END PRIVATE KEY-----."
        ) from None


class SignedURLCache:
    """Thread-safe map key -> signed URL, reusing a URL only while it has more than half its TTL left.

    ``clock`` returns seconds (monotonic by default) and is injectable for tests.
    The time is taken *before* signing, so the age is never underestimated.
    """

    def __init__(self, ttl: int, *, clock: Callable[[], float] = time.monotonic, max_entries: int = 20_000) -> None:
        self.ttl = ttl
        self.reuse_for = ttl / 2
        self.clock = clock
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, sign: Callable[[str], str]) -> str:
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and now - entry[1] < self.reuse_for:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[0]
            self.misses += 1
        url = sign(key)  # outside the lock: signing is CPU work and may check the object over the network
        with self._lock:
            self._entries[key] = (url, now)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return url

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass(frozen=True)
class RemoteObject:
    """What the bucket says about one object: enough to skip an upload."""

    size: int
    md5: str | None  # base64, as GCS reports it; None for composite objects
    crc32c: str | None  # base64


class GCSStorage:
    """Images and artists.json in ``gs://bucket/prefix``, images shown via V4 signed URLs.

    ``endpoint`` points the client at an emulator (fake-gcs-server); it then uses
    anonymous credentials for API calls, while URLs are still signed with the
    service-account key and point at the emulator. ``verify_images`` makes
    :meth:`image_url` raise :class:`NotFound` for a missing object (one metadata
    request per key per half TTL) so the app can show a placeholder instead of
    a broken image.
    """

    def __init__(
        self,
        bucket: str,
        service_account_info: Mapping[str, Any] | None,
        *,
        prefix: str = "",
        signed_url_ttl: int = 3600,
        endpoint: str | None = None,
        verify_images: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        bucket = bucket.strip().removeprefix("gs://").strip("/") if bucket else ""
        if not bucket:
            raise ConfigError(
                "Storage BACKEND is gcs but [Storage] BUCKET is empty; set it to your bucket's name (without gs://)."
            )
        self.credentials = load_service_account(service_account_info)
        self.bucket_name = bucket
        prefix = prefix.strip().lstrip("/")
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.signed_url_ttl = int(signed_url_ttl)
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.verify_images = verify_images
        self.url_cache = SignedURLCache(self.signed_url_ttl, clock=clock)
        self._clock = clock
        self._down_until = 0.0
        self._down_message = ""
        self.description = f"gs://{self.bucket_name}/{self.prefix}"
        project = (service_account_info or {}).get("project_id")
        if self.endpoint:
            self.client = storage.Client(
                project=project or "emulator",
                credentials=AnonymousCredentials(),
                client_options={"api_endpoint": self.endpoint},
            )
        else:
            self.client = storage.Client(project=project, credentials=self.credentials)
        self.bucket = self.client.bucket(self.bucket_name)
        self._bucket_exists = False

    @classmethod
    def from_settings(cls, settings: Settings) -> GCSStorage:
        return cls(
            settings.storage_bucket or "",
            settings.gcp_service_account,
            prefix=settings.storage_prefix,
            signed_url_ttl=settings.signed_url_ttl,
            endpoint=settings.storage_endpoint,
        )

    def __repr__(self) -> str:
        return f"GCSStorage({self.description!r})"

    # -- names -------------------------------------------------------------

    def object_name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _blob(self, key: str) -> storage.Blob:
        return self.bucket.blob(self.object_name(key))

    # -- errors ------------------------------------------------------------

    def _bucket_missing(self) -> bool:
        """Tell a missing bucket from a missing object (both are a 404)."""
        if self._bucket_exists:
            return False
        try:
            next(iter(self.client.list_blobs(self.bucket_name, max_results=1)), None)
        except gexc.NotFound:
            return True
        except Exception:  # noqa: BLE001 - cannot tell; report the object as missing
            return False
        self._bucket_exists = True
        return False

    @contextmanager
    def _errors(self, action: str, key: str | None = None) -> Iterator[None]:
        """Turn client exceptions into one-line artsearch errors. ``action`` is 'read', 'write' or 'list'."""
        where = f"gs://{self.bucket_name}/{self.object_name(key) if key else self.prefix}"
        if action == "read" and self._clock() < self._down_until:
            raise StorageError(self._down_message)
        try:
            yield
        except ArtsearchError:
            raise
        except gexc.NotFound:
            if self._bucket_missing():
                raise StorageError(
                    f"Bucket {self.bucket_name} does not exist; create it with: gcloud storage buckets create "
                    f"gs://{self.bucket_name} --uniform-bucket-level-access, or fix [Storage] BUCKET."
                ) from None
            raise NotFound(
                f"{where} does not exist; upload the prepared data with: python -m artsearch upload."
            ) from None
        except gexc.Forbidden:
            role = READ_ROLE if action == "read" else WRITE_ROLE
            raise StorageError(
                f"Service account {self.credentials.service_account_email} may not {action} {where}; grant it "
                f"{role} on the bucket: gcloud storage buckets add-iam-policy-binding gs://{self.bucket_name} "
                f"--member=serviceAccount:{self.credentials.service_account_email} --role={role} "
                f"({READ_ROLE} suffices for the app, uploads need {WRITE_ROLE})."
            ) from None
        except (gexc.Unauthorized, google.auth.exceptions.RefreshError):
            raise MissingCredentials(
                f"GCS rejected the key of {self.credentials.service_account_email} (revoked, deleted or from "
                f"another project); create a new JSON key and {SECRETS_HINT}."
            ) from None
        except gexc.GoogleAPICallError as exc:  # the service's own words go to the log, not to a visitor
            log.warning("GCS could not %s %s: HTTP %s %s", action, where, exc.code, " ".join(str(exc.message).split()))
            raise StorageError(
                f"GCS could not {action} {where} (HTTP {exc.code}; the details are in the log)."
            ) from None
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            google.auth.exceptions.TransportError,
            gexc.RetryError,
        ):
            self._down_message = (
                f"Could not reach {self.endpoint or 'storage.googleapis.com'} to {action} {where}; "
                "check the network and try again in a moment."
            )
            if action == "read":
                self._down_until = self._clock() + OUTAGE_BACKOFF_S
            raise StorageError(self._down_message) from None

    # -- the Storage protocol ---------------------------------------------

    def has_image(self, key: str) -> bool:
        blob = self._blob(key)
        with self._errors("read", key):
            return bool(blob.exists(retry=READ_RETRY, timeout=READ_TIMEOUT))

    def put_image(self, key: str, data: bytes) -> None:
        blob = self._blob(key)
        with self._errors("write", key):
            blob.upload_from_string(data, content_type=guess_type(key), retry=UPLOAD_RETRY)

    def read_image(self, key: str) -> bytes:
        blob = self._blob(key)
        with self._errors("read", key):
            return blob.download_as_bytes(retry=READ_RETRY, timeout=READ_TIMEOUT)

    def image_url(self, key: str) -> str:
        """A V4 signed GET URL with at least half of ``signed_url_ttl`` left to live."""
        check_key(key)
        return self.url_cache.get(key, self._sign)

    def read_artists(self) -> dict[str, Artist]:
        """The artists index; an empty dict when it was never written (like LocalStorage)."""
        blob = self._blob(ARTISTS_KEY)
        try:
            with self._errors("read", ARTISTS_KEY):
                raw = blob.download_as_bytes(retry=READ_RETRY, timeout=READ_TIMEOUT)
        except NotFound:
            return {}
        return artists_from_json(raw, f"gs://{self.bucket_name}/{blob.name}")

    def write_artists(self, artists: dict[str, Artist]) -> None:
        blob = self._blob(ARTISTS_KEY)
        with self._errors("write", ARTISTS_KEY):
            blob.upload_from_string(
                artists_to_json(artists), content_type="application/json; charset=utf-8", retry=UPLOAD_RETRY
            )

    def write_map(self, collection: str, data: bytes) -> None:
        key = map_key(collection)
        with self._errors("write", key):
            self._blob(key).upload_from_string(data, content_type="application/json", retry=UPLOAD_RETRY)

    def read_map(self, collection: str) -> bytes:
        return self.read_image(map_key(collection))

    def map_collections(self) -> list[str]:
        with self._errors("list"):
            names = [
                b.name[len(self.prefix) :]
                for b in self.client.list_blobs(self.bucket_name, prefix=self.prefix + MAP_PREFIX)
            ]
        return sorted(c for c in map(map_collection, names) if c)

    def delete_map(self, collection: str) -> None:
        key = map_key(collection)
        try:
            with self._errors("write", key):
                self._blob(key).delete(retry=UPLOAD_RETRY)
        except NotFound:
            pass  # already gone

    # -- used by upload ----------------------------------------------------

    def list_objects(self) -> dict[str, RemoteObject]:
        """Every object under the prefix, by key. One paged listing; used by upload, never by the app."""
        found: dict[str, RemoteObject] = {}
        with self._errors("list"):
            for blob in self.client.list_blobs(self.bucket_name, prefix=self.prefix or None):
                found[blob.name[len(self.prefix) :]] = RemoteObject(int(blob.size or 0), blob.md5_hash, blob.crc32c)
        return found

    def put_file(self, key: str, path: Path) -> None:
        """Upload a local file; GCS makes the object visible only once complete, so a kill leaves no half object."""
        blob = self._blob(key)
        with self._errors("write", key):
            blob.upload_from_filename(str(path), content_type=guess_type(key), retry=UPLOAD_RETRY)

    # -- signing -----------------------------------------------------------

    def _sign(self, key: str) -> str:
        blob = self._blob(key)
        if self.verify_images:
            with self._errors("read", key):
                exists = blob.exists(retry=READ_RETRY, timeout=READ_TIMEOUT)
            if not exists:
                with self._errors("read", key):
                    raise gexc.NotFound("object missing")
        with self._errors("sign a URL for", key):
            return blob.generate_signed_url(
                version="v4",
                expiration=timedelta(seconds=self.signed_url_ttl),
                method="GET",
                credentials=self.credentials,
            )


def guess_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"
