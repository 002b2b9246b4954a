"""The exploring features in a real browser, with screenshots for the README.

The map, refine, one per artist, "Surprise me", "Load more", query arithmetic
and names. Near-duplicates have no picture here: the served test index holds no
copies of one picture (``tests/test_explore.py`` builds a separate one for that).

Reuses the served app and index fixtures of ``tests/test_browser.py``. The
pictures are saved under the test's tmp dir and copied to ``docs/`` when a
file there does not exist yet or when ``ARTSEARCH_UPDATE_SCREENSHOT=1``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from tests.test_browser import CARD_IMAGES, CHROMIUM, CHROMIUM_ARGS, QUERY, ROOT, browser_index, pytestmark, served_app

__all__ = ["browser_index", "pytestmark", "served_app"]  # fixtures, re-exported for pytest

SHOTS = {
    "map": "feature-map.png",
    "refine": "feature-refine.png",
    "per_artist": "feature-one-per-artist.png",
    "load_more": "feature-load-more.png",
    "surprise": "feature-surprise.png",
    "arithmetic": "feature-arithmetic.png",
    "names": "feature-names.png",
}
CARD_CAPTIONS = '[class*="st-key-card_"] [data-testid="stCaptionContainer"]'
ARITHMETIC = "portrait + blue - red"
NAMED = "Claude Monet water lilies"


def _wait_for_cards(page, k: int) -> None:
    page.wait_for_function(
        """([selector, k]) => {
            const imgs = [...document.querySelectorAll(selector)];
            return imgs.length === k && imgs.every((img) => img.complete && img.naturalWidth > 0);
        }""",
        arg=[CARD_IMAGES, k],
        timeout=120_000,
    )


def _toggle(page, label: str) -> None:
    page.get_by_text(label, exact=True).click()


def _settle(page) -> None:
    page.wait_for_timeout(400)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)
    page.wait_for_timeout(600)


def _search(page, url: str, text: str, k: int) -> None:
    """A fresh session at ``url`` and a text search in it, waiting for its k cards."""
    page.goto(url, wait_until="domcontentloaded")
    box = page.get_by_placeholder(QUERY)
    box.wait_for(timeout=60_000)
    box.fill(text)
    box.press("Enter")
    _wait_for_cards(page, k)
    _settle(page)


def _no_errors(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


def _result_captions(page) -> list[str]:
    """Each card's "artist · year · similarity" line, in page order."""
    return [c for c in page.locator(CARD_CAPTIONS).all_inner_texts() if "similarity" in c]


def _keep(shot: Path, name: str) -> None:
    assert shot.stat().st_size > 10_000
    docs = ROOT / "docs" / name
    if not docs.exists() or os.environ.get("ARTSEARCH_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, docs)


def test_map_refine_and_one_per_artist_in_a_real_browser(served_app: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    k = 8
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1500})
            page.goto(f"{served_app}/?k={k}", wait_until="domcontentloaded")
            box = page.get_by_placeholder(QUERY)
            box.wait_for(timeout=60_000)
            box.fill(QUERY)
            box.press("Enter")
            _wait_for_cards(page, k)

            # 1. the map, with the results ringed and the query placed
            _toggle(page, "Map of the collection")
            chart = page.locator('[data-testid="stVegaLiteChart"]')
            chart.wait_for(timeout=60_000)
            page.locator('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg').first.wait_for(
                timeout=60_000
            )
            _settle(page)
            chart.scroll_into_view_if_needed()
            shots = {"map": tmp_path / "map.png"}
            chart.screenshot(path=str(shots["map"]))
            _toggle(page, "Map of the collection")
            _settle(page)
            page.evaluate("window.scrollTo(0, 0)")
            n = page.locator('[class*="st-key-up_"]').count()
            assert n == k, n

            # 2. refine: like the fourth result, dislike the first, Refine
            page.locator('[class*="st-key-up_"]').nth(3).locator("button:visible").first.click()
            _settle(page)
            page.locator('[class*="st-key-down_"]').nth(0).locator("button:visible").first.click()
            _settle(page)
            page.get_by_role("button", name="Refine").click()
            page.get_by_text("Refined: 1 liked, 1 disliked").wait_for(timeout=60_000)
            _wait_for_cards(page, k)
            _settle(page)
            shots["refine"] = tmp_path / "refine.png"
            page.screenshot(path=str(shots["refine"]), full_page=True)

            # 5. one per artist
            _toggle(page, "One per artist")
            _settle(page)
            _wait_for_cards(page, 4)  # the test collection has four artists
            shots["per_artist"] = tmp_path / "per_artist.png"
            page.screenshot(path=str(shots["per_artist"]), full_page=True)
            _no_errors(page)

            # 6. load more: a text search, then the next page appended under the grid
            _search(page, f"{served_app}/?k={k}", QUERY, k)
            first = page.locator('[class*="st-key-card_"]').count()
            page.get_by_role("button", name="Load more").click()
            _wait_for_cards(page, 2 * k)
            _settle(page)
            assert page.locator('[class*="st-key-card_"]').count() == 2 * k > first == k
            _no_errors(page)
            page.set_viewport_size({"width": 1440, "height": 2800})  # both pages and the button under them
            _settle(page)
            page.mouse.move(0, 0)
            shots["load_more"] = tmp_path / "load_more.png"
            page.screenshot(path=str(shots["load_more"]), full_page=True)
            page.set_viewport_size({"width": 1440, "height": 1500})

            # 7. surprise me: a random artwork and more like it
            page.goto(f"{served_app}/?k={k}", wait_until="domcontentloaded")
            page.get_by_role("button", name="Surprise me").click()
            page.get_by_text("Back to your search").wait_for(timeout=120_000)
            _wait_for_cards(page, k)
            _settle(page)
            assert "mode=like" in page.url and "like=" in page.url
            assert page.get_by_text(re.compile(r"^More like .+ by ")).count() == 1  # the random artwork's heading
            _no_errors(page)
            page.mouse.move(0, 0)  # no tooltip over the page
            _settle(page)
            shots["surprise"] = tmp_path / "surprise.png"
            page.screenshot(path=str(shots["surprise"]), full_page=True)

            # 3. query arithmetic: add and take away descriptions in the text box
            _search(page, f"{served_app}/?k={k}", ARITHMETIC, k)
            assert len(_result_captions(page)) == k
            _no_errors(page)
            shots["arithmetic"] = tmp_path / "arithmetic.png"
            page.screenshot(path=str(shots["arithmetic"]), full_page=True)

            # 8. names count: naming an artist brings their works to the top
            _search(page, f"{served_app}/?k={k}", NAMED, k)
            captions = _result_captions(page)
            assert len(captions) == k and all(c.startswith("Claude Monet") for c in captions[:4]), captions
            _no_errors(page)
            shots["names"] = tmp_path / "names.png"
            page.screenshot(path=str(shots["names"]), full_page=True)
        finally:
            browser.close()
    for key, shot in shots.items():
        _keep(shot, SHOTS[key])
