"""Match labels, "why" terms and "nothing matches" in a real browser, with the README's screenshot.

An index of the trained tiny CLIP holding only red, green and blue circles, squares and triangles, served by
``streamlit run app.py`` with the shapes vocabulary, in Debian's Chromium.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from artsearch.calibration import NOTHING_MATCHES
from artsearch.model.encoder import Encoder
from tests.support.browser import TIMEOUT, browser_page, keep_screenshot, no_errors, search, serve, settle
from tests.support.indexes import SHAPES_VOCABULARY, TRAINED_CLIP, build_partial_shapes_index

pytestmark = pytest.mark.timeout(TIMEOUT)


def test_labels_why_and_nothing_matches_in_a_real_browser(tmp_path: Path) -> None:
    encoder = Encoder(TRAINED_CLIP, device="cpu", batch_size=32)
    settings, _ = build_partial_shapes_index(tmp_path / "index", encoder, n=600)
    shot = tmp_path / "labels.png"
    with serve(settings, tmp_path, ARTSEARCH_VOCABULARY=str(SHAPES_VOCABULARY)) as url, browser_page() as page:
        search(page, f"{url}/?k=8", "a red circle", 8)
        assert page.get_by_text("strong match", exact=False).count() >= 4
        assert page.get_by_text("circle · red", exact=False).count() >= 4  # why: the terms near both
        no_errors(page)
        page.mouse.move(0, 0)
        settle(page)
        page.screenshot(path=str(shot), full_page=True)
        search(page, f"{url}/?k=4", "a purple star", 4)
        assert page.get_by_text(NOTHING_MATCHES).count() == 1
        assert page.get_by_text(re.compile(r"^weak match")).count() == 4
    keep_screenshot(shot, "feature-labels.png")
