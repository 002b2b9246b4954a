"""The colour search, end to end: generated pictures of known colours ingested by the real rebuild, then the
palette in the payload, the CLI's --colour alone, two colours, and with words, and the page's colour pickers.

"Has the colour" is artsearch.colour's rule: a palette entry of at least 5% of the picture within ΔE76 20 of it.
The pictures are flat fields of known colours, so which of them have a colour is known without the palette."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from artsearch import colour
from artsearch.rebuild import rebuild
from artsearch.sources import SourceOptions
from tests.support.app import assert_clean, card_titles, new_app, point_env, search_text
from tests.support.cli import one_line_error, run_cli
from tests.support.indexes import all_payloads, test_settings

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("fresh_services")]

BLUE, OCHRE = "#1f3a93", "#cc7722"
NEAR_BLUE = "#2b4aa3"  # ΔE76 about 9 from BLUE: counts as blue
FAR_BLUE = "#4f7fd0"  # ΔE76 about 33: does not
PAST_BLUE = "#000048"  # ΔE76 26: does not, though its Lab cube is one the filter asks Qdrant for
#: file stem -> [(colour, share of the picture)], the picture split in horizontal bands.
PICTURES = {
    "blue_most": [(BLUE, 0.7), ("#f5f5f5", 0.3)],
    "ochre_and_blue": [(OCHRE, 0.6), (BLUE, 0.4)],
    "blue_some": [(BLUE, 0.3), ("#c0392b", 0.7)],
    "near_blue": [(NEAR_BLUE, 0.5), ("#111111", 0.5)],
    "far_blue": [(FAR_BLUE, 0.8), ("#111111", 0.2)],
    "past_blue": [(PAST_BLUE, 0.8), ("#f5f5f5", 0.2)],
    "ochre_most": [(OCHRE, 0.8), ("#111111", 0.2)],
    "green": [("#2e8b57", 1.0)],
    "red_white": [("#c0392b", 0.5), ("#f5f5f5", 0.5)],
    "purple": [("#7d3c98", 0.7), ("#111111", 0.3)],
}


def picture(bands: list[tuple[str, float]], size: tuple[int, int] = (200, 200)) -> bytes:
    w, h = size
    pixels = np.zeros((h, w, 3), dtype=np.uint8)
    top = 0
    for n, (hexed, share) in enumerate(bands):
        rows = h - top if n == len(bands) - 1 else round(h * share)
        pixels[top : top + rows] = [int(hexed[i : i + 2], 16) for i in (1, 3, 5)]
        top += rows
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def truly_has(stem: str, hexed: str) -> float:
    """How much of ``hexed`` the generated picture has by construction (0 when it does not have it)."""
    lab = colour.hex_lab(hexed)
    return sum(s for c, s in PICTURES[stem] if colour.delta_e(colour.hex_lab(c), lab) < colour.DELTA_E)


@pytest.fixture(scope="module")
def colour_index(tmp_path_factory, tiny_clip_path, shared_encoder):
    root = tmp_path_factory.mktemp("colour_index")
    images = root / "images" / "Painter"
    images.mkdir(parents=True)
    for stem, bands in PICTURES.items():
        (images / f"{stem}.png").write_bytes(picture(bands))
    settings = test_settings(root, tiny_clip_path)
    rebuild(
        settings, SourceOptions(source="folder", images_dir=root / "images"), encoder=shared_encoder, progress=False
    )
    return settings


def _stems(hits: list[dict]) -> list[str]:
    return [h["image"].rsplit("/", 1)[-1].removesuffix(".png") for h in hits]


def _search(settings, *args: str) -> list[str]:
    # Flat colour fields look alike to the hash: keep every result (--all-copies).
    result = run_cli(["-m", "artsearch", "search", *args, "--k", "20", "--json", "--all-copies"], settings)
    assert result.returncode == 0, result.stderr
    return _stems(json.loads(result.stdout))


def test_the_palette_holds_each_pictures_colours_and_shares_in_lab(colour_index):
    payloads = {p["source_id"].rsplit("/", 1)[-1].removesuffix(".png"): p for p in all_payloads(colour_index)}
    assert set(payloads) == set(PICTURES)
    for stem, bands in PICTURES.items():
        found = payloads[stem]["palette"]
        for hexed, share in bands:
            (entry,) = [e for e in found if colour.delta_e(e["lab"], colour.hex_lab(hexed)) < 5]
            assert abs(entry["share"] - share) < 0.05, (stem, hexed, entry)
        assert payloads[stem]["colour_keys"]  # what Qdrant filters on


def test_a_colour_alone_returns_the_works_that_have_it_the_most_first(colour_index):
    stems = _search(colour_index, "--colour", BLUE)
    expected = sorted(
        (s for s in PICTURES if truly_has(s, BLUE) >= colour.MIN_SHARE), key=lambda s: -truly_has(s, BLUE)
    )
    assert stems == expected == ["blue_most", "near_blue", "ochre_and_blue", "blue_some"]
    assert "far_blue" not in stems  # ΔE 33: another colour
    # ΔE 26: Qdrant's cube filter keeps it (a cube corner within 20), the exact rule drops it.
    past = next(p for p in all_payloads(colour_index) if p["source_id"].endswith("past_blue.png"))
    assert set(past["colour_keys"]) & set(colour.query_keys(BLUE)) and "past_blue" not in stems


def test_two_colours_return_the_works_with_both(colour_index):
    assert _search(colour_index, "--colour", BLUE, "--colour", OCHRE.upper()) == ["ochre_and_blue"]
    assert _search(colour_index, "--colour", OCHRE) == ["ochre_most", "ochre_and_blue"]


def test_words_with_a_colour_keep_the_words_ranking_among_the_works_that_have_it(colour_index):
    for words in ("a red circle", "a blue square on white"):
        plain = _search(colour_index, words)
        coloured = _search(colour_index, words, "--colour", BLUE)
        assert coloured == [s for s in plain if truly_has(s, BLUE) >= colour.MIN_SHARE]
        assert len(coloured) == 4


def test_a_page_with_a_colour_is_full_when_many_closer_works_are_only_near_the_colour(
    tmp_path, tiny_clip_path, shared_encoder
):
    """40 pictures of a colour whose Lab cubes the filter asks Qdrant for but 26 ΔE from blue (the exact rule
    drops them) are nearer the query picture than the 4 blue ones: the page still shows blue works, k of them.
    Fetched k at a time, the page's fill rounds ran out on the 40 and it came back empty."""
    images = tmp_path / "images" / "Painter"
    images.mkdir(parents=True)
    for n in range(40):
        (images / f"past_{n:02d}.png").write_bytes(picture([(PAST_BLUE, 0.5 + n / 200), ("#f5f5f5", 0.5 - n / 200)]))
    for n in range(4):
        (images / f"blue_{n}.png").write_bytes(picture([(BLUE, 0.3 + n / 20), ("#c0392b", 0.7 - n / 20)]))
    settings = test_settings(tmp_path, tiny_clip_path)
    rebuild(
        settings, SourceOptions(source="folder", images_dir=tmp_path / "images"), encoder=shared_encoder, progress=False
    )
    query = tmp_path / "query.png"
    query.write_bytes(picture([(PAST_BLUE, 0.6), ("#f5f5f5", 0.4)]))
    result = run_cli(
        ["-m", "artsearch", "search", "--image", str(query), "--colour", BLUE, "--k", "3", "--json", "--all-copies"],
        settings,
    )
    assert result.returncode == 0, result.stderr
    stems = _stems(json.loads(result.stdout))
    assert len(stems) == 3 and all(s.startswith("blue_") for s in stems), stems


def test_a_bad_colour_or_three_are_one_line(colour_index):
    bad = run_cli(["-m", "artsearch", "search", "--colour", "blue"], colour_index)
    assert bad.returncode == 2 and "give a colour as #rrggbb" in bad.stderr and "Traceback" not in bad.stderr
    three = ["-m", "artsearch", "search", "--colour", BLUE, "--colour", OCHRE, "--colour", "#ffffff"]
    assert "at most 2 colours" in one_line_error(run_cli(three, colour_index))


def test_the_page_colour_pickers_search_alone_and_with_words(colour_index, monkeypatch, tmp_path):
    point_env(monkeypatch, colour_index, tmp_path, ARTSEARCH_COLLAPSE_DUPLICATES="false")
    at = new_app().run()
    assert_clean(at)
    at.color_picker(key="f_colour_pick0").pick(BLUE).run()
    at = at.toggle(key="f_colour_on0").set_value(True).run()
    assert_clean(at)
    assert card_titles(at) == ["Blue most", "Near blue", "Ochre and blue", "Blue some"]
    assert at.query_params["colour"] == BLUE
    assert any(c.value.endswith("% in these colours") for c in at.caption)
    # A second colour: both.
    at.color_picker(key="f_colour_pick1").pick(OCHRE).run()
    at = at.toggle(key="f_colour_on1").set_value(True).run()
    assert card_titles(at) == ["Ochre and blue"]
    # Words too: the words' order among the works in blue (a link holds it all).
    linked = search_text(new_app(colour=BLUE).run(), "a red circle", k=20)
    assert_clean(linked)
    plain = search_text(new_app().run(), "a red circle", k=20)
    has_blue = {"Blue most", "Near blue", "Ochre and blue", "Blue some"}
    assert card_titles(linked) == [t for t in card_titles(plain) if t in has_blue]
