"""The real thing: ``streamlit run app.py`` on localhost, and Debian's Chromium driven by Playwright.

Chromium comes from the system (``apt-get install chromium``, done by CI); nothing here runs
``playwright install``. A missing browser fails the test, rather than skipping it, so a broken setup is seen.
Screenshots are copied to ``docs/`` (the README's pictures) only when a file there does not exist yet or when
``ARTSEARCH_UPDATE_SCREENSHOT=1``, so ordinary runs leave the working tree alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from artsearch.config import Settings
from tests.support import ROOT
from tests.support.app import QUERY
from tests.support.servers import free_port, stop, wait_until_up

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CARD_IMAGES = 'div[class*="st-key-pic_"] [data-testid="stImage"] img'  # a card's picture
DETAIL_IMAGE = '[role="dialog"] [class*="st-key-detail_pic"] img'  # the detail view's large picture
TIMEOUT = 420  # seconds a browser test may take: pytest.mark.timeout(TIMEOUT) in the test modules


@contextmanager
def serve(settings: Settings, tmp_path: Path, script: str = "app.py", **extra_env: str) -> Iterator[str]:
    """``streamlit run app.py`` (or another ``script``) on a free localhost port, pointed at ``settings``' index,
    with ``extra_env`` added to its environment; yields its URL."""
    with serve_process(settings, tmp_path, script=script, extra_env=extra_env) as (url, _proc, _log):
        yield url


def page_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """The environment that points the page at ``settings``' embedded index, as a deployment would (no secrets file)."""
    return {
        "QDRANT_URL": "",
        "QDRANT_PATH": str(settings.qdrant_path),
        "ARTSEARCH_DATA_DIR": str(settings.data_dir),
        "EMBEDDER_NAME": settings.embedder_name,
        "ARTSEARCH_DEVICE": "cpu",
        "ARTSEARCH_STORAGE_BACKEND": "local",
        "ARTSEARCH_SECRETS": str(tmp_path / "no-such-secrets.toml"),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }


@contextmanager
def serve_process(
    settings: Settings,
    tmp_path: Path,
    *args: str,
    script: str = "app.py",
    extra_env: dict[str, str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen, Path]]:
    """:func:`serve` with more ``streamlit run`` flags; yields (URL, the server process, its log). The page runs
    with the repository's .streamlit/config.toml, as a user's ``streamlit run app.py`` does."""
    port = free_port()
    env = dict(os.environ)
    env.update(page_env(settings, tmp_path), **(extra_env or {}))
    log_path = tmp_path / f"streamlit-{Path(script).stem}-{port}.log"
    command = [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true"]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1", *args]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200

    try:
        wait_until_up(proc, healthy, what="streamlit", seconds=90, log=log_path, poll=0.5)
        yield url, proc, log_path
    finally:
        stop(proc, timeout=15)


@contextmanager
def browser_page(viewport: tuple[int, int] = (1440, 1500), *, fake_camera: bool = False) -> Iterator[Any]:
    """A page in Debian's Chromium (never a downloaded browser), closed afterwards."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    with sync_playwright() as pw:
        # fake_camera: Chromium's own test pattern as the camera, allowed without asking (st.camera_input).
        camera = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"] if fake_camera else []
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *camera], headless=True)
        try:
            yield browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        finally:
            browser.close()


def wait_for_cards(page: Any, k: int) -> None:
    """Exactly k result cards, each with a picture the browser decoded (the first search loads the model)."""
    page.wait_for_function(
        """([selector, k]) => {
            const imgs = [...document.querySelectorAll(selector)];
            return imgs.length === k && imgs.every((img) => img.complete && img.naturalWidth > 0);
        }""",
        arg=[CARD_IMAGES, k],
        timeout=120_000,
    )


def settle(page: Any) -> None:
    """Wait until Streamlit is done running and the layout has settled (before a screenshot)."""
    page.wait_for_timeout(400)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)
    page.wait_for_timeout(600)


def search(page: Any, url: str, text: str, k: int, *, navigate: bool = True) -> None:
    """A fresh session at ``url`` (or, without ``navigate``, the page as it is) and a text search in it, waiting
    for its k cards."""
    if navigate:
        page.goto(url, wait_until="domcontentloaded")
    box = page.get_by_placeholder(QUERY)
    box.wait_for(timeout=60_000)
    box.fill(text)
    box.press("Enter")
    wait_for_cards(page, k)
    settle(page)


def no_errors(page: Any) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


def keep_screenshot(shot: Path, name: str) -> None:
    """Copy a screenshot to docs/ when it is missing there or ARTSEARCH_UPDATE_SCREENSHOT=1."""
    assert shot.stat().st_size > 10_000
    docs = ROOT / "docs" / name
    if not docs.exists() or os.environ.get("ARTSEARCH_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, docs)
