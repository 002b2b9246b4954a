"""Settings: one frozen dataclass, read from secrets.toml, then the environment.

Precedence, lowest to highest: defaults, ``.streamlit/secrets.toml`` (the seed
project's layout), environment variables, explicit overrides (CLI flags).
Nothing is read at import time; call :func:`load_settings`.

secrets.toml layout (see ``secrets.toml.example``)::

    [Database]            QDRANT_URL, QDRANT_KEY, QDRANT_PATH, COLLECTION_NAME, EMBEDDER_NAME, TEXT_EMBEDDER_NAME
    [Kaggle]              KAGGLE_USERNAME, KAGGLE_KEY
    [gcp_service_account] the service-account JSON, key by key
    [Storage]             BACKEND, BUCKET, PREFIX, SIGNED_URL_TTL
    [Artsearch]           every other setting, named as below without ARTSEARCH_

Environment variables: the Database and Kaggle keys by their own name
(``QDRANT_URL``...), every other setting as ``ARTSEARCH_<NAME>`` (for example
``ARTSEARCH_STORAGE_BACKEND``, ``ARTSEARCH_DEVICE``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from artsearch.errors import ConfigError

DEFAULT_MODEL = "clip-ViT-B-32"
DEFAULT_MUSEUM_API_URL = "https://openaccess-api.clevelandart.org/api/artworks/"

# Every allowed value of the settings that take one of a few names (validated in one place, below).
#: Where Qdrant runs in-process: Qdrant Edge (the real engine) or qdrant-client's pure-Python local mode.
EMBEDDED_ENGINES: tuple[str, ...] = ("edge", "local")
#: How the CLIP towers run (see :mod:`artsearch.model.backends`); "torch" is sentence-transformers' own forward.
INFERENCE_PATHS: tuple[str, ...] = ("torch", "onnx", "onnx-int8", "torch-bf16", "torch-int8")
#: The inference paths that run an ONNX export of the towers.
ONNX_PATHS: tuple[str, ...] = ("onnx", "onnx-int8")
SOURCES: tuple[str, ...] = ("auto", "kaggle", "folder", "museum")
STORAGE_BACKENDS: tuple[str, ...] = ("local", "gcs")
PROJECTIONS: tuple[str, ...] = ("pca", "umap")


@dataclass(frozen=True)
class Settings:
    """Everything artsearch can be configured with. Immutable; copy with ``replace``."""

    # [Database]
    qdrant_url: str | None = field(default=None, repr=False)  # may hold a user name and password: describe() it
    qdrant_key: str | None = field(default=None, repr=False)
    qdrant_path: Path = Path("data/qdrant")
    embedded_engine: str = "edge"  # "edge" (Qdrant Edge, the real engine in-process) or "local" (qdrant-client)
    collection_name: str = "artworks"
    # None: searches use the model the index was built with, and new builds use DEFAULT_MODEL.
    embedder_name: str | None = None
    # None: text queries use the image model; else a text model distilled into its space (multilingual queries).
    text_embedder_name: str | None = None
    # [Kaggle]
    kaggle_username: str | None = None
    kaggle_key: str | None = field(default=None, repr=False)
    # [gcp_service_account]
    gcp_service_account: Mapping[str, Any] | None = field(default=None, repr=False)
    # [Storage]
    storage_backend: str = "local"
    storage_bucket: str | None = None
    storage_prefix: str = ""
    signed_url_ttl: int = 3600
    storage_endpoint: str | None = field(
        default=None, repr=False
    )  # a GCS emulator such as fake-gcs-server; None means real GCS
    # [Artsearch]
    data_dir: Path = Path("data")
    cache_dir: Path | None = None  # our own cache: ONNX exports, the vector cache; None means <data_dir>/cache
    device: str = "auto"  # one of DEVICES: auto, cpu, cuda, cuda:N, mps
    source: str = "auto"
    images_dir: Path | None = None
    artists_csv: Path | None = None
    museum_api_url: str = DEFAULT_MUSEUM_API_URL
    batch_size: int = 32
    decode_workers: int = 2
    max_upload_mb: int = 20
    max_image_pixels: int = 90_000_000
    max_decode_mb: int = 192  # memory one image decode may take (width x height x bytes per pixel)
    allow_private_urls: bool = False
    inference: str = "onnx-int8"  # one of INFERENCE_PATHS; falls back to torch until exported
    collapse_duplicates: bool = True  # show near-duplicate results once, with "N copies"
    projection: str = "pca"  # the collection map: "pca", or "umap" when umap-learn is installed
    allow_other_model: bool = False  # search an index with a configured model other than the one that built it
    hide_weak_matches: bool = False  # results labelled "weak match" are left out (the page's toggle starts so)
    vocabulary: Path | None = None  # the art terms file (artsearch/vocabulary.py); None: the shipped one

    @property
    def model_name(self) -> str:
        """The model a new build uses: the configured one, else :data:`DEFAULT_MODEL`."""
        return self.embedder_name or DEFAULT_MODEL

    @property
    def export_cache_dir(self) -> Path:
        """Our own cache folder (``ARTSEARCH_CACHE_DIR``, default ``<data_dir>/cache``): ONNX exports of models and
        the vector cache, never inside a model's folder."""
        return Path(self.cache_dir) if self.cache_dir else Path(self.data_dir) / "cache"

    @property
    def vector_cache_path(self) -> Path:
        """The vector cache's file (:mod:`artsearch.vector_cache`): ``ARTSEARCH_CACHE_DIR``, else ``data/cache``."""
        return self.export_cache_dir / "vectors.sqlite"

    @property
    def embedded(self) -> bool:
        """True when Qdrant runs in-process on a local folder."""
        return not self.qdrant_url

    @property
    def max_decode_bytes(self) -> int:
        return self.max_decode_mb * 1024 * 1024

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied; ``None`` values are ignored."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def secret_values(self) -> list[str]:
        """Every configured value that must never be printed: keys, and the user name and password a URL holds."""
        values = [self.qdrant_key, self.kaggle_key]
        for url in (self.qdrant_url, self.storage_endpoint):
            values += _userinfo(url)
        account = self.gcp_service_account or {}
        values += [str(account.get(k) or "") for k in ("private_key", "private_key_id")]
        return [v for v in values if v and len(v) >= 4]

    def mask(self, text: str) -> str:
        """``text`` with every secret value (and any user info in URLs) replaced by ***: mask first, cut after."""
        for value in sorted(self.secret_values(), key=len, reverse=True):
            text = text.replace(value, "***")
        return _URL_USERINFO.sub(r"\1***@", text)

    def describe(self) -> dict[str, Any]:
        """Where things live, safe to print: no keys, no credentials."""
        return {
            "qdrant": display_url(self.qdrant_url) or f"embedded ({self.embedded_engine}) at {self.qdrant_path}",
            "inference": self.inference,
            "collection": self.collection_name,
            "model": self.embedder_name or f"not set: the index's own (new builds: {DEFAULT_MODEL})",
            "text_model": self.text_embedder_name or "not set: the image model embeds text queries too",
            "device": self.device,
            "storage": self.storage_backend
            + (
                f" gs://{self.storage_bucket}/{self.storage_prefix}"
                if self.storage_backend == "gcs"
                else f" {self.data_dir}"
            ),
        }


_URL_USERINFO = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#@\s]*@")


def _userinfo(url: str | None) -> list[str]:
    """The user name and password in ``url`` (raw and unquoted), if any."""
    if not url or "@" not in url:
        return []
    info = url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[0]
    parts = [info, *info.split(":", 1)]
    return [*parts, *(unquote(p) for p in parts)]


def display_url(url: str | None) -> str:
    """A URL as it may be printed: without the user name and password it may carry (they may be a key)."""
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))
    except ValueError:
        return _URL_USERINFO.sub(r"\1", url.strip())


def check_url(url: str, setting: str, example: str) -> str:
    """``url`` if it is a well-formed http(s) URL with a host and a valid port; else one line (never the URL's
    user name or password)."""
    shown = display_url(url)
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:  # "Invalid IPv6 URL": an unclosed [
        raise ConfigError(f"{setting} is not a valid URL (its host cannot be read): use {example}.") from None
    try:
        port = parts.port
    except ValueError:  # the URL is not quoted: what follows the colon may be anything, a key included
        raise ConfigError(f"{setting} has a port that is not a number from 1 to 65535: use {example}.") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"{setting} must start with http:// or https:// (got {shown[:80]!r}): use {example}.")
    if not host:
        raise ConfigError(f"{setting} has no host name (got {shown[:80]!r}): use {example}.")
    if port == 0:
        raise ConfigError(f"{setting} has port 0 (got {shown[:80]!r}): use {example}.")
    return url


# (section in secrets.toml, key in that section, environment variable) per field.
_SEED_KEYS: dict[str, tuple[str, str]] = {
    "qdrant_url": ("Database", "QDRANT_URL"),
    "qdrant_key": ("Database", "QDRANT_KEY"),
    "qdrant_path": ("Database", "QDRANT_PATH"),
    "collection_name": ("Database", "COLLECTION_NAME"),
    "embedder_name": ("Database", "EMBEDDER_NAME"),
    "text_embedder_name": ("Database", "TEXT_EMBEDDER_NAME"),
    "kaggle_username": ("Kaggle", "KAGGLE_USERNAME"),
    "kaggle_key": ("Kaggle", "KAGGLE_KEY"),
}
_STORAGE_KEYS = {
    "storage_backend": "BACKEND",
    "storage_bucket": "BUCKET",
    "storage_prefix": "PREFIX",
    "signed_url_ttl": "SIGNED_URL_TTL",
    "storage_endpoint": "ENDPOINT",
}


def _locations(name: str) -> tuple[str, str, str]:
    """(secrets section, secrets key, environment variable) for a field."""
    if name in _SEED_KEYS:
        section, key = _SEED_KEYS[name]
        return section, key, key
    if name in _STORAGE_KEYS:
        return "Storage", _STORAGE_KEYS[name], f"ARTSEARCH_{name.upper()}"
    return "Artsearch", name.upper(), f"ARTSEARCH_{name.upper()}"


def read_secrets_file(path: Path) -> dict[str, Any]:
    """Parse a secrets.toml; a missing file is an empty mapping. A malformed one is a ConfigError that says where
    it breaks, never what it holds."""
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at (line \d+, column \d+|end of document)\)", str(exc))
        at = f" at {where.group(1)}" if where else ""
        raise ConfigError(
            f"The secrets file {path} could not be read: it is not valid TOML{at}; fix it (compare with "
            "secrets.toml.example) and start again."
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"The secrets file {path} could not be read: it is not UTF-8 text; save it as UTF-8."
        ) from None
    except OSError as exc:
        raise ConfigError(f"The secrets file {path} could not be read ({exc.strerror or exc}).") from None


def default_secrets_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("ARTSEARCH_SECRETS", ".streamlit/secrets.toml"))


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _coerce(name: str, raw: Any, target: Any) -> Any:
    """Turn a raw secrets/env value into the field's type."""
    if raw is None:
        return None
    kind = str(target)
    try:
        if name == "gcp_service_account":
            if isinstance(raw, Mapping):
                return dict(raw)
            return json.loads(raw)
        if "bool" in kind:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(f"expected true or false, got {shown_value(raw)}")
        if "int" in kind:
            if isinstance(raw, bool) or not re.fullmatch(r"\s*[+-]?\d+\s*", str(raw)):
                raise ValueError(f"expected a whole number, got {shown_value(raw)}")
            return int(raw)
        if "Path" in kind:
            return Path(str(raw)).expanduser() if str(raw) else None
        text = str(raw)
        return text if text or "None" not in kind else None
    except json.JSONDecodeError as exc:  # the service account: its position only, never its text
        _, key, env = _locations(name)
        raise ConfigError(f"Setting {env} ({key}) is not valid JSON (line {exc.lineno}, column {exc.colno}).") from None
    except (ValueError, TypeError) as exc:
        _, key, env = _locations(name)
        raise ConfigError(f"Setting {env} ({key}) is malformed: {exc}.") from None


def shown_value(raw: Any) -> str:
    """A malformed setting's value as a message may show it: a short plain word quoted, anything else described
    (it may be a key pasted into the wrong setting)."""
    text = str(raw)
    if len(text) <= 16 and re.fullmatch(r"[A-Za-z0-9_.+-]*", text):
        return repr(text)
    return f"a value of {len(text)} characters (not shown: it may be a secret)"


def load_settings(
    secrets: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build Settings: defaults < secrets < environment < ``overrides``.

    ``secrets`` defaults to the parsed ``.streamlit/secrets.toml`` (or the file
    named by ``ARTSEARCH_SECRETS``); the app passes ``st.secrets`` instead so
    Streamlit Cloud's secrets work. ``env`` defaults to ``os.environ``.
    """
    env = os.environ if env is None else env
    if secrets is None:
        secrets = read_secrets_file(default_secrets_path(env))
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        section, key, env_name = _locations(f.name)
        raw: Any = None
        if f.name == "gcp_service_account":
            raw = secrets.get("gcp_service_account")
            raw = env.get("ARTSEARCH_GCP_SERVICE_ACCOUNT", raw)
        else:
            sec = secrets.get(section)
            if isinstance(sec, Mapping) and key in sec:
                raw = sec[key]
            if env_name in env:
                raw = env[env_name]
        if raw is not None:
            values[f.name] = _coerce(f.name, raw, f.type)
    if "storage_endpoint" not in values and env.get("STORAGE_EMULATOR_HOST"):
        values["storage_endpoint"] = env["STORAGE_EMULATOR_HOST"]  # google-cloud-storage's own emulator variable
    values = {k: v for k, v in values.items() if v is not None}
    settings = Settings(**values).replace(**overrides)
    _validate(settings)
    return dataclasses.replace(settings, device=check_device(settings.device))


def check_choice(value: str, allowed: tuple[str, ...], setting: str) -> str:
    """``value`` if it is one of ``allowed``, else ConfigError naming them."""
    if value not in allowed:
        raise ConfigError(f"{setting} must be one of {', '.join(allowed)}, not {shown_value(value)}.")
    return value


#: ``ARTSEARCH_DEVICE``: where CLIP runs ("auto": CUDA, then Apple MPS, then the CPU).
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "cuda:N", "mps")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def check_device(device: str) -> str:
    """A validated device name (``ARTSEARCH_DEVICE``): case and spaces ignored, empty means auto."""
    value = (device or "auto").strip().lower()
    if not _DEVICE.match(value):
        raise ConfigError(f"ARTSEARCH_DEVICE must be one of {', '.join(DEVICES)} (N a GPU number), not {device!r}.")
    return value


def check_inference(inference: str) -> str:
    """A validated inference path name (``ARTSEARCH_INFERENCE``): case and spaces ignored, empty means torch."""
    return check_choice((inference or "torch").strip().lower(), INFERENCE_PATHS, "ARTSEARCH_INFERENCE")


def _validate(settings: Settings) -> None:
    check_choice(settings.storage_backend, STORAGE_BACKENDS, "Storage BACKEND")
    check_choice(settings.source, SOURCES, "ARTSEARCH_SOURCE")
    check_choice(settings.projection, PROJECTIONS, "ARTSEARCH_PROJECTION")
    check_choice(settings.embedded_engine, EMBEDDED_ENGINES, "ARTSEARCH_EMBEDDED_ENGINE")
    check_inference(settings.inference)
    check_device(settings.device)
    if settings.batch_size < 1:
        raise ConfigError("ARTSEARCH_BATCH_SIZE must be at least 1.")
    if settings.max_decode_mb < 16:
        raise ConfigError("ARTSEARCH_MAX_DECODE_MB must be at least 16 (MB of memory one image decode may take).")
    if settings.signed_url_ttl < 60 or settings.signed_url_ttl > 7 * 24 * 3600:
        raise ConfigError("Storage SIGNED_URL_TTL must be between 60 seconds and 7 days (604800).")
    if settings.qdrant_url:
        check_url(settings.qdrant_url, "QDRANT_URL", "https://HOST:6333, as Qdrant Cloud shows it")
