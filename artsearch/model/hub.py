"""Loading a model: local files first, the Hugging Face hub only when they are missing, fast and quietly.

* A model folder, or a hub name already in the Hugging Face cache, loads from its files with
  ``local_files_only``: no request at all, so no network (or a slow one) costs nothing.
* A hub name that is not cached is downloaded, but only after one quick probe of the hub
  (:data:`PROBE_TIMEOUT`): with no network, or a hub that does not answer, the user gets a one-line
  :class:`~artsearch.errors.ModelLoadError` within seconds instead of minutes of retries.
  ``HF_HUB_OFFLINE=1`` skips the probe and fails at once.
* The libraries' chatter while loading ("Loading weights" bars, the tokenizer's "Ignored unknown
  kwarg option" lines on stdout, hub warnings) stays off the terminal and the page; at ``-v``
  (the ``artsearch`` logger at INFO) it is left alone.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from artsearch.errors import ModelLoadError
from artsearch.model.locate import ModelFiles, hub_cache_dir, hub_repo_ids, locate

log = logging.getLogger(__name__)

#: (connect, read) seconds for the one request that tells whether the hub can be reached.
PROBE_TIMEOUT = (2.0, 3.0)
#: Loggers of the libraries that load a model, kept at ERROR while loading (unless -v).
NOISY_LOGGERS = ("sentence_transformers", "transformers", "huggingface_hub", "httpx", "urllib3")
#: Lines the libraries print while loading that mean nothing to a user (kept in the debug log).
CHATTER = ("Ignored unknown kwarg option", "Loading weights", "Could not reach the Hub", "Using cached commit hash")
_TRUE = {"1", "ON", "YES", "TRUE"}
_LOADING = threading.Lock()  # one model load at a time: the stdout capture is process-wide
FIX = (
    "Download it once with network access, or set EMBEDDER_NAME (or --model) to a local sentence-transformers "
    "model folder such as models/tiny-clip-shapes."
)


def offline() -> bool:
    """``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set: never go to the hub."""
    return any(os.environ.get(v, "").upper() in _TRUE for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def endpoint() -> str:
    """The hub the downloads would use (``HF_ENDPOINT``, default https://huggingface.co)."""
    from huggingface_hub import constants

    return constants.ENDPOINT


def _cache_name() -> str:
    from huggingface_hub import constants

    return str(hub_cache_dir() or constants.HF_HUB_CACHE)


def check_hub(repo_ids: list[str], name: str) -> str:
    """Which of ``repo_ids`` (what ``name`` can mean on the hub, see :func:`~artsearch.model.locate.hub_repo_ids`)
    the hub has, asking its model API once per candidate; ModelLoadError at once when the hub cannot be
    reached, does not have it, or refuses."""
    import requests
    from huggingface_hub import get_token

    token = get_token()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for repo_id in repo_ids:
        url = f"{endpoint()}/api/models/{repo_id}"
        try:
            with requests.get(url, headers=headers, timeout=PROBE_TIMEOUT, stream=True) as response:
                status = response.status_code
        except requests.RequestException as exc:
            log.debug("hub probe of %s failed", url, exc_info=True)
            raise ModelLoadError(
                f"The CLIP model '{name}' is not in the Hugging Face cache ({_cache_name()}) and the hub at "
                f"{endpoint()} cannot be reached within {sum(PROBE_TIMEOUT):.0f} s ({type(exc).__name__}; no "
                f"network?). {FIX}"
            ) from None
        if status < 400:
            return repo_id
        if status not in (401, 404):
            raise ModelLoadError(
                f"The Hugging Face hub at {endpoint()} answered HTTP {status} for '{repo_id}'; try again later. {FIX}"
            )
    raise ModelLoadError(
        f"There is no model '{name}' on the Hugging Face hub ({' or '.join(repo_ids)}; or it is private or gated: "
        "log in with HF_TOKEN), and no folder of that name here: check EMBEDDER_NAME (or --model)."
    )


def find_model(name: str) -> ModelFiles:
    """Where ``name``'s files are; for a hub name that is not cached, first make sure it can be downloaded.

    Filesystem only, except one probe of the hub for an uncached name; nothing heavy (no torch) is imported,
    so a missing model is a one-line ModelLoadError within seconds.
    """
    files = locate(name)
    if files.folder is not None:
        return files
    if offline():
        raise ModelLoadError(
            f"The CLIP model '{name}' is not a local folder and not in the Hugging Face cache ({_cache_name()}), "
            f"and HF_HUB_OFFLINE is set. {FIX}"
        )
    return ModelFiles(name, None, check_hub(hub_repo_ids(name), name))


def load_model(files: ModelFiles, device: str) -> tuple[ModelFiles, Any]:
    """The sentence-transformers model in ``files`` (from :func:`find_model`) on ``device``, and where its files
    are now: local files only when they are here, else a download (see the module docstring). Every failure is
    a one-line ModelLoadError naming the cause."""
    from sentence_transformers import SentenceTransformer

    name = files.name
    if files.folder is not None:
        try:
            with quiet_loading():
                model = SentenceTransformer(str(files.folder), device=device, local_files_only=True)
            return files, model
        except Exception as exc:  # the hub client, transformers and torch raise many types here
            log.debug("model load from %s failed", files.folder, exc_info=True)
            reason = f"{type(exc).__name__}: {str(exc)[:200]}"
            if not files.from_hub:
                raise ModelLoadError(
                    f"Could not load the CLIP model from the folder {name} ({reason}). It must be a "
                    "sentence-transformers CLIP model folder (modules.json, config.json, tokenizer and processor files)."
                ) from None
            if offline():
                raise ModelLoadError(
                    f"The cached copy of '{files.repo_id}' in {files.folder} could not be loaded ({reason}); it may be "
                    "incomplete. Unset HF_HUB_OFFLINE to download it again, or delete it from the cache."
                ) from None
            log.info("the cached copy of %s did not load (%s); downloading it again", files.repo_id, reason)
            check_hub([files.repo_id or name], name)
    log.warning("downloading the CLIP model %s from %s into the Hugging Face cache (once)", name, endpoint())
    try:
        with quiet_loading(downloading=True):
            model = SentenceTransformer(files.repo_id or name, device=device)
    except Exception as exc:
        log.debug("model download of %s failed", name, exc_info=True)
        raise ModelLoadError(
            f"Could not download the CLIP model '{name}' from {endpoint()} ({type(exc).__name__}: {str(exc)[:200]}). "
            f"{FIX}"
        ) from None
    return locate(name), model


# --- quiet loading ---------------------------------------------------------------------------------------


def verbose() -> bool:
    """The user asked for detail (``-v``): the ``artsearch`` logger is enabled for INFO."""
    return logging.getLogger("artsearch").isEnabledFor(logging.INFO)


@contextmanager
def quiet_loading(*, downloading: bool = False) -> Iterator[None]:
    """Keep the libraries' loading chatter off the terminal, unless :func:`verbose`.

    transformers' progress bars are switched off (the hub's download bars stay on while
    ``downloading``), the loaders' loggers are held at ERROR, and what native code prints on stdout
    (the tokenizer's "Ignored unknown kwarg option" lines) is caught: known chatter goes to the debug
    log, anything else is printed after the load.
    """
    with _LOADING:
        if verbose():
            yield
            return
        import transformers.utils.logging as transformers_logging
        from huggingface_hub import utils as hub_utils

        bars = transformers_logging.is_progress_bar_enabled()
        hub_bars = not hub_utils.are_progress_bars_disabled()
        transformers_logging.disable_progress_bar()  # switches the hub's bars off too
        if downloading and hub_bars:
            hub_utils.enable_progress_bars()
        levels = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
        for name in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        printed: list[str] = []
        try:
            with _stdout_caught(printed):
                yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
            if bars:
                transformers_logging.enable_progress_bar()
            elif hub_bars:
                hub_utils.enable_progress_bars()
            _replay(printed)


@contextmanager
def _stdout_caught(printed: list[str]) -> Iterator[None]:
    """What is written to file descriptor 1 meanwhile (by Python or native code) lands in ``printed``."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):  # no real stdout (closed, or not a file): nothing to catch
        yield
        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 1)
        try:
            yield
        finally:
            try:
                sys.stdout.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved, 1)
            os.close(saved)
            caught.seek(0)
            printed.extend(caught.read().decode(errors="replace").splitlines())


def _replay(lines: list[str]) -> None:
    other = []
    for line in lines:
        if any(c in line for c in CHATTER):
            log.debug("while loading: %s", line)
        elif line.strip():
            other.append(line)
    if other:
        print("\n".join(other), flush=True)
