"""The real thing: ``streamlit run app.py`` on localhost, driven by Playwright in Debian's Chromium.

Chromium comes from the system (``apt-get install chromium``, done by CI); the
test never runs ``playwright install``. It fails, rather than skips, when the
browser is missing, so a broken setup is seen.

The screenshots (the grid, the detail view, and both on a phone) are saved under the test's tmp dir and
copied to ``docs/`` (the README's pictures) when a file there does not exist yet or when
``ARTSEARCH_UPDATE_SCREENSHOT=1``, so ordinary runs leave the working tree alone.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support import ROOT
from tests.support.app import QUERY
from tests.support.browser import (
    CARD_IMAGES,
    DETAIL_IMAGE,
    TIMEOUT,
    browser_page,
    keep_screenshot,
    no_errors,
    search,
    serve_process,
    settle,
)

K = 8
PHONE = (390, 844)

pytestmark = pytest.mark.timeout(TIMEOUT)


def work_in(url: str) -> str:
    return parse_qs(urlsplit(url).query).get("work", [""])[0]


def card_ids(page) -> list[str]:
    return page.eval_on_selector_all(
        '[class*="st-key-card_"]', "cards => cards.map((c) => c.className.match(/st-key-card_(\\S+)/)[1])"
    )


def open_detail(page) -> None:
    page.locator(DETAIL_IMAGE).wait_for(timeout=60_000)
    page.wait_for_function(
        "(sel) => { const i = document.querySelector(sel); return i && i.complete && i.naturalWidth > 0; }",
        arg=DETAIL_IMAGE,
        timeout=60_000,
    )
    settle(page)


# Records, at the first frame after Enter where Streamlit shows the search is running, whether the busy bar shows.
WATCH_BUSY = """() => {
  window.__busy = null;
  const app = document.querySelector('[data-testid="stApp"]');
  new MutationObserver(() => {
    if (window.__busy === null && app.getAttribute('data-test-script-state') === 'running') {
      const bar = getComputedStyle(app, '::before');
      window.__busy = {content: bar.content, height: bar.height, position: bar.position, animation: bar.animationName};
    }
  }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""


def test_search_in_a_real_browser(served_app: str, tmp_path: Path) -> None:
    shot = tmp_path / "search.png"
    with browser_page() as page:
        page.goto(f"{served_app}/?k={K}", wait_until="domcontentloaded")
        page.get_by_placeholder(QUERY).wait_for(timeout=60_000)
        settle(page)
        page.evaluate(WATCH_BUSY)
        search(page, f"{served_app}/?k={K}", QUERY, K, navigate=False)
        # The search shows it is running from the first frame Streamlit knows it (st.spinner waits half a second).
        busy = page.evaluate("() => window.__busy")
        assert busy == {"content": '""', "height": "3px", "position": "fixed", "animation": "artsearch-busy"}, busy
        assert (
            page.evaluate(
                "() => getComputedStyle(document.querySelector('[data-testid=\"stApp\"]'), '::before').content"
            )
            == "none"
        )
        widths = page.eval_on_selector_all(CARD_IMAGES, "imgs => imgs.map((img) => img.naturalWidth)")
        assert len(widths) == K and all(w > 0 for w in widths), widths
        no_errors(page)
        assert page.get_by_role("button", name="More like this").count() == K
        # Icon buttons are heard by their names ("Like", not "thumb_up"), and each is one stop for the Tab key.
        assert page.get_by_role("button", name="Like", exact=True).count() == K
        assert page.get_by_role("button", name="Dislike", exact=True).count() == K
        first, second = card_ids(page)[:2]
        page.locator(f'[class*="st-key-open_{first}"] button').focus()
        stops = []
        for _ in range(4):
            page.keyboard.press("Tab")
            stops.append(page.evaluate("() => document.activeElement.closest('[class*=\"st-key-\"]').className"))
        assert [next(c for c in s.split() if c.startswith("st-key-")) for s in stops] == [
            f"st-key-like_{first}",
            f"st-key-up_{first}",
            f"st-key-down_{first}",
            f"st-key-open_{second}",
        ]
        # Cards are of one height: a fixed frame for the picture, whatever its shape.
        heights = page.eval_on_selector_all('[class*="st-key-card_"]', "cs => cs.map((c) => c.offsetHeight)")
        assert len(set(heights)) == 1, heights
        assert f"q={QUERY.replace(' ', '+')}" in page.url  # the search is a link
        page.mouse.move(0, 0)
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


def test_the_detail_view_opens_from_a_card_and_from_a_link(served_app: str, tmp_path: Path) -> None:
    shot = tmp_path / "detail.png"
    with browser_page((1440, 1100)) as page:
        search(page, f"{served_app}/?k={K}", QUERY, K)
        first = card_ids(page)[0]
        frame = page.locator(f'[class*="st-key-pic_{first}"]').bounding_box()
        page.mouse.click(frame["x"] + frame["width"] / 2, frame["y"] + frame["height"] / 2)  # the picture opens it
        open_detail(page)
        dialog = page.locator('[role="dialog"]')
        title = page.locator(f'[class*="st-key-open_{first}"] button').inner_text()
        assert title in dialog.inner_text() and "Artist:" in dialog.inner_text() and "Source:" in dialog.inner_text()
        assert dialog.get_by_role("link", name="on Wikipedia").count() == 1  # the artist's article, for Kaggle
        large = page.eval_on_selector(DETAIL_IMAGE, "img => img.naturalWidth")
        small = page.eval_on_selector(f'[class*="st-key-pic_{first}"] img', "img => img.naturalWidth")
        assert large >= small  # the large picture, loaded only now
        page.wait_for_function("(id) => location.search.includes('work=' + id)", arg=first, timeout=30_000)
        no_errors(page)
        page.mouse.move(0, 0)
        page.screenshot(path=str(shot))
        link = page.url
        page.keyboard.press("Escape")
        page.wait_for_function("() => !document.querySelector('[role=\"dialog\"]')", timeout=30_000)
        page.wait_for_function("() => !location.search.includes('work=')", timeout=30_000)
        assert len(card_ids(page)) == K  # closing it leaves the results as they were
        # The link opens the same artwork, over the same results, in a new session.
        page.goto(link, wait_until="domcontentloaded")
        open_detail(page)
        assert title in page.locator('[role="dialog"]').inner_text() and work_in(page.url) == first
        no_errors(page)
    keep_screenshot(shot, "detail.png")


def test_the_page_on_a_phone(served_app: str, tmp_path: Path) -> None:
    shots = {"phone.png": tmp_path / "phone.png", "phone-detail.png": tmp_path / "phone-detail.png"}
    width, height = PHONE
    with browser_page(PHONE) as page:
        search(page, f"{served_app}/?k={K}", QUERY, K)
        page.evaluate("window.scrollTo(0, 0)")
        settle(page)
        cards = page.locator('[class*="st-key-card_"]')
        first = cards.first.bounding_box()
        assert first["y"] < height, first  # the first result starts on the first screen after a search
        assert first["height"] <= 0.5 * height, first  # a card is at most half a screen
        assert first["width"] <= width
        assert page.locator('[data-testid="stExpandSidebarButton"]').is_visible()  # the filters: one tap away
        no_errors(page)
        page.screenshot(path=str(shots["phone.png"]))
        page.locator('[class*="st-key-open_"] button').first.click()
        open_detail(page)
        box = page.locator('[data-testid="stDialog"] > div').bounding_box()
        assert (box["x"], box["width"]) == (0, width) and box["y"] <= 0, box  # the detail view fills the screen
        page.screenshot(path=str(shots["phone-detail.png"]))
    for name, shot in shots.items():
        keep_screenshot(shot, name)
