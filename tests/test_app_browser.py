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

from pathlib import Path

import pytest

from tests.support.app import QUERY
from tests.support.browser import CARD_IMAGES, TIMEOUT, browser_page, keep_screenshot, no_errors, search

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
