"""The exploring features in a real browser, with screenshots for the README.

The map, refine, one per artist, "Surprise me", "Load more", query arithmetic
and names on the served test index; near-duplicates on an index of one picture
with three copies beside six others (``tests/support/indexes.py`` builds it).

Uses the served app and index fixtures of ``tests/conftest.py``, as ``tests/test_app_browser.py`` does. The
pictures are saved under the test's tmp dir and copied to ``docs/`` when a
file there does not exist yet or when ``ARTSEARCH_UPDATE_SCREENSHOT=1``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.app import QUERY
from tests.support.browser import (
    TIMEOUT,
    browser_page,
    keep_screenshot,
    no_errors,
    search,
    serve,
    settle,
    wait_for_cards,
)
from tests.support.indexes import build_dupes_index

pytestmark = pytest.mark.timeout(TIMEOUT)

SHOTS = {
    "map": "feature-map.png",
    "refine": "feature-refine.png",
    "per_artist": "feature-one-per-artist.png",
    "load_more": "feature-load-more.png",
    "surprise": "feature-surprise.png",
    "arithmetic": "feature-arithmetic.png",
    "names": "feature-names.png",
}
ARITHMETIC = "portrait + blue - red"
NAMED = "Claude Monet water lilies"


def _toggle(page, label: str) -> None:
    page.get_by_text(label, exact=True).click()


def _result_captions(page) -> list[str]:
    """Each card's "artist · year" and "similarity ..." (or "name match") lines as one, in page order (not the
    match label and why-terms line under them)."""
    captions = page.eval_on_selector_all(
        '[class*="st-key-card_"]',
        """cards => cards.map((card) => [...card.querySelectorAll('[data-testid="stCaptionContainer"]')]
            .slice(0, 2).map((c) => c.innerText.trim()).join(' · '))""",
    )
    return [c for c in captions if "similarity" in c or "name match" in c]


def test_map_refine_and_one_per_artist_in_a_real_browser(served_app: str, tmp_path: Path) -> None:
    k = 8
    with browser_page() as page:
        search(page, f"{served_app}/?k={k}", QUERY, k)

        # 1. the map, with the results ringed and the query placed
        _toggle(page, "Map of the collection")
        chart = page.locator('[data-testid="stVegaLiteChart"]')
        chart.wait_for(timeout=60_000)
        page.locator('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg').first.wait_for(
            timeout=60_000
        )
        settle(page)
        chart.scroll_into_view_if_needed()
        shots = {"map": tmp_path / "map.png"}
        chart.screenshot(path=str(shots["map"]))
        _toggle(page, "Map of the collection")
        settle(page)
        page.evaluate("window.scrollTo(0, 0)")
        n = page.locator('[class*="st-key-up_"]').count()
        assert n == k, n

        # 2. refine: like the fourth result, dislike the first, Refine
        page.locator('[class*="st-key-up_"]').nth(3).locator("button:visible").first.click()
        settle(page)
        page.locator('[class*="st-key-down_"]').nth(0).locator("button:visible").first.click()
        settle(page)
        page.get_by_role("button", name="Refine").click()
        page.get_by_text("Refined: 1 liked, 1 disliked").wait_for(timeout=60_000)
        wait_for_cards(page, k)
        settle(page)
        shots["refine"] = tmp_path / "refine.png"
        page.screenshot(path=str(shots["refine"]), full_page=True)

        # 5. one per artist
        _toggle(page, "One per artist")
        settle(page)
        wait_for_cards(page, 4)  # the test collection has four artists
        shots["per_artist"] = tmp_path / "per_artist.png"
        page.screenshot(path=str(shots["per_artist"]), full_page=True)
        no_errors(page)

        # 6. load more: a text search, then the next page appended under the grid
        search(page, f"{served_app}/?k={k}", QUERY, k)
        first = page.locator('[class*="st-key-card_"]').count()
        page.get_by_role("button", name="Load more").click()
        wait_for_cards(page, 2 * k)
        settle(page)
        assert page.locator('[class*="st-key-card_"]').count() == 2 * k > first == k
        no_errors(page)
        page.set_viewport_size({"width": 1440, "height": 2800})  # both pages and the button under them
        settle(page)
        page.mouse.move(0, 0)
        shots["load_more"] = tmp_path / "load_more.png"
        page.screenshot(path=str(shots["load_more"]), full_page=True)
        page.set_viewport_size({"width": 1440, "height": 1500})

        # 7. surprise me: a random artwork and more like it
        page.goto(f"{served_app}/?k={k}", wait_until="domcontentloaded")
        page.get_by_role("button", name="Surprise me").click()
        page.get_by_text("Back to your search").wait_for(timeout=120_000)
        wait_for_cards(page, k)
        settle(page)
        assert "mode=like" in page.url and "like=" in page.url
        assert page.get_by_text(re.compile(r"^More like .+ by ")).count() == 1  # the random artwork's heading
        no_errors(page)
        page.mouse.move(0, 0)  # no tooltip over the page
        settle(page)
        shots["surprise"] = tmp_path / "surprise.png"
        page.screenshot(path=str(shots["surprise"]), full_page=True)

        # 3. query arithmetic: add and take away descriptions in the text box
        search(page, f"{served_app}/?k={k}", ARITHMETIC, k)
        assert len(_result_captions(page)) == k
        no_errors(page)
        shots["arithmetic"] = tmp_path / "arithmetic.png"
        page.screenshot(path=str(shots["arithmetic"]), full_page=True)

        # 8. names count: naming an artist brings their works to the top
        search(page, f"{served_app}/?k={k}", NAMED, k)
        captions = _result_captions(page)
        assert len(captions) == k and all(c.startswith("Claude Monet") for c in captions[:4]), captions
        assert all(c.endswith("name match") for c in captions[:4]), captions  # why they are on top
        no_errors(page)
        shots["names"] = tmp_path / "names.png"
        page.screenshot(path=str(shots["names"]), full_page=True)
    for key, shot in shots.items():
        keep_screenshot(shot, SHOTS[key])


def test_near_duplicates_show_once_in_a_real_browser(tmp_path: Path, tiny_clip_path: str, shared_encoder) -> None:
    settings, _ = build_dupes_index(tmp_path / "dupes", tiny_clip_path, shared_encoder)
    shot, group_shot = tmp_path / "duplicates.png", tmp_path / "copies-group.png"
    with serve(settings, tmp_path) as url, browser_page() as page:
        # All ten artworks come back; the picture and its three copies are one card.
        search(page, f"{url}/?k=12", "a sunset", 7)
        copies = page.get_by_role("button", name="4 copies")
        assert copies.count() == 1
        assert len(_result_captions(page)) == 7
        no_errors(page)
        page.mouse.move(0, 0)
        page.screenshot(path=str(shot), full_page=True)
        # "4 copies" opens the artwork with the group: the three copies as pictures that open in the same view.
        copies.click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("4 copies of this picture").wait_for()
        assert dialog.locator('[class*="st-key-tile_copy_"]').count() == 3
        settle(page)
        no_errors(page)
        page.screenshot(path=str(group_shot))
    keep_screenshot(shot, "feature-duplicates.png")
    keep_screenshot(group_shot, "feature-copies-group.png")


def test_the_period_slider_and_the_timeline_in_a_real_browser(
    tmp_path: Path, tiny_clip_path: str, shared_encoder
) -> None:
    """A link with from/to shows the works of those years with the slider set; the timeline draws the results."""
    from tests.support.museum import DATED, build_dated_index

    settings = build_dated_index(tmp_path / "dated", tiny_clip_path, shared_encoder)
    period, line = tmp_path / "period.png", tmp_path / "timeline.png"
    with serve(settings, tmp_path) as url, browser_page() as page:
        page.goto(f"{url}/?q=a+painting&from=1850&to=1900", wait_until="domcontentloaded")
        wait_for_cards(page, 2)  # "1889" and "1884 - 1920"
        settle(page)
        thumbs = page.locator('[data-testid="stSidebar"] [data-testid="stSliderThumbValue"]').all_inner_texts()
        assert thumbs == ["1850", "1900"], thumbs
        no_errors(page)
        page.screenshot(path=str(period), full_page=True)
        page.goto(f"{url}/?q=a+painting", wait_until="domcontentloaded")
        wait_for_cards(page, len(DATED))
        _toggle(page, "Timeline")
        page.locator('[data-testid="stVegaLiteChart"]').wait_for(timeout=60_000)
        page.get_by_text("1 of the 8 results have no date").wait_for()
        settle(page)
        no_errors(page)
        page.locator('[data-testid="stVegaLiteChart"]').scroll_into_view_if_needed()
        page.screenshot(path=str(line), full_page=True)
    keep_screenshot(period, "feature-period.png")
    keep_screenshot(line, "feature-timeline.png")


def test_the_colour_pickers_in_a_real_browser(tmp_path: Path, tiny_clip_path: str, shared_encoder) -> None:
    """A link with a colour shows the works in it, the picker switched on; the detail view shows the palette."""
    from tests.support.datasets import jpeg_bytes, painting

    images = tmp_path / "images"
    for n in range(10):
        (images / f"Painter {n % 3}").mkdir(parents=True, exist_ok=True)
        (images / f"Painter {n % 3}" / f"work_{n}.jpg").write_bytes(jpeg_bytes(painting(300 + n, (320, 240))))
    from artsearch.rebuild import rebuild
    from artsearch.sources import SourceOptions
    from tests.support.indexes import test_settings

    settings = test_settings(tmp_path / "colour", tiny_clip_path)
    rebuild(settings, SourceOptions(source="folder", images_dir=images), encoder=shared_encoder, progress=False)
    shot = tmp_path / "colour.png"
    with serve(settings, tmp_path) as url, browser_page() as page:
        page.goto(f"{url}/?colour=%231f3a93", wait_until="domcontentloaded")
        page.get_by_text(re.compile(r"^\d+% in these colours$")).first.wait_for(timeout=120_000)
        settle(page)
        shares = [
            int(t.split("%")[0]) for t in page.get_by_text(re.compile(r"^\d+% in these colours$")).all_inner_texts()
        ]
        assert shares and shares == sorted(shares, reverse=True), shares  # the most blue first
        page.locator('[class*="st-key-open_"] button').first.click()
        page.get_by_role("dialog").locator('[aria-label="Palette"]').wait_for()
        settle(page)
        no_errors(page)
        page.screenshot(path=str(shot))
    keep_screenshot(shot, "feature-colour.png")


def test_take_a_photo_in_a_real_browser(served_app: str, tmp_path: Path) -> None:
    """ "Take a photo" opens the camera (Chromium's fake one here), a shot searches, and results come back."""
    shot = tmp_path / "camera.png"
    with browser_page(fake_camera=True) as page:
        page.goto(f"{served_app}/?mode=camera", wait_until="domcontentloaded")
        page.get_by_text("Take a photo of the painting").wait_for(timeout=60_000)
        page.wait_for_function(  # the camera is streaming before the shot is taken
            "() => { const v = document.querySelector('video'); return v && v.readyState >= 2 && v.videoWidth > 0; }",
            timeout=60_000,
        )
        page.wait_for_timeout(1000)
        page.get_by_role("button", name="Take Photo").click(timeout=60_000)
        page.locator('[class*="st-key-card_"]').first.wait_for(timeout=120_000)
        settle(page)
        no_errors(page)
        page.screenshot(path=str(shot), full_page=True)
    keep_screenshot(shot, "feature-camera.png")
