"""The real thing: ``streamlit run app.py`` on localhost, driven by Playwright in Debian's Chromium.

Chromium comes from the system (``apt-get install chromium``, done by CI); the
test never runs ``playwright install``. It fails, rather than skips, when the
browser is missing, so a broken setup is seen.

The screenshot is saved under the test's tmp dir. It is copied to
``docs/screenshot.png`` (the README's picture) when that file does not exist
yet or when ``ARTSEARCH_UPDATE_SCREENSHOT=1``, so ordinary runs leave the
working tree alone.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.app import QUERY
from tests.support.browser import (
    CARD_IMAGES,
    TIMEOUT,
    browser_page,
    keep_screenshot,
    no_errors,
    search,
    serve_process,
)

K = 8

pytestmark = pytest.mark.timeout(TIMEOUT)


def test_search_in_a_real_browser(served_app: str, tmp_path: Path) -> None:
    shot = tmp_path / "search.png"
    with browser_page() as page:
        search(page, f"{served_app}/?k={K}", QUERY, K)
        widths = page.eval_on_selector_all(CARD_IMAGES, "imgs => imgs.map((img) => img.naturalWidth)")
        assert len(widths) == K and all(w > 0 for w in widths), widths
        no_errors(page)
        assert page.get_by_role("button", name="More like this").count() == K
        assert f"q={QUERY.replace(' ', '+')}" in page.url  # the search is a link
        page.screenshot(path=str(shot), full_page=True)
    keep_screenshot(shot, "screenshot.png")


def test_the_served_page_watches_no_files(browser_index, tmp_path: Path) -> None:
    """Streamlit's default watches the folder it was started in, .venv included (an "Inotify queue overflowed"
    line per burst of events in a user's log); .streamlit/config.toml turns watching off and the page serves."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"
    with serve_process(browser_index, tmp_path, "--logger.level", "debug") as (url, proc, log):
        with browser_page() as page:
            search(page, f"{url}/?k=4", QUERY, 4)  # a session runs the script: where watchers would start
            no_errors(page)
        fds = [os.readlink(f) for f in Path(f"/proc/{proc.pid}/fd").iterdir() if f.is_symlink()]
        assert not [f for f in fds if "inotify" in f], "the server watches files"
    assert "Watcher created" not in log.read_text()
