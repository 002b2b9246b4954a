"""A collection whose titles, artist names, genres, nationalities and bios are hostile markdown, and a shared
link whose image address is: every place the page shows them shows them literally (issue 15, items 3 and 4).

The strings point at a local server that counts the requests it gets. Through AppTest, every element
that carries one of them receives it escaped (no markdown character left bare) or as plain text; in
Debian's Chromium, with the cards, the detail view, the artist's works, the "more like this" heading,
the sidebar's choices, the map and the error box on screen: the server got no request, and the page
holds no link, image, heading, icon or emoji that came from the data.
"""

from __future__ import annotations

import csv
import http.server
import re
import string
import threading
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from artsearch.catalog import Artist, slugify
from artsearch.rebuild import rebuild
from artsearch.sources import SourceOptions
from artsearch.storage.base import artists_to_json
from artsearch.web.escape import literal
from tests.support.app import assert_clean, cards, detail_view, messages, new_app, open_artwork, point_env, search_text
from tests.support.browser import TIMEOUT, browser_page, serve, settle, wait_for_cards
from tests.support.datasets import jpeg_bytes, painting
from tests.support.indexes import test_settings

pytestmark = [
    pytest.mark.timeout(TIMEOUT),
    pytest.mark.usefixtures("fresh_services"),
]  # a fresh page service per test (conftest)


class _Trap(http.server.BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        self.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


class Hostile:
    """The trap server and the strings that point at it."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        handler = type("Trap", (_Trap,), {"hits": self.hits})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        trap = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.trap = trap
        self.title = (
            f"![t]({trap}/title.png) [login]({trap}/link) :material/home: :smile: $x^2$ **bold**\n===\n# Heading"
        )
        self.artist = f"**Evil** ![a]({trap}/artist.png) <img src={trap}/tag.png> :red[red] me@evil.example"
        self.genre = f"# Genre [g]({trap}/genre) www.evil.example"
        self.nationality = f"> Nation ![n]({trap}/nation.png)"
        self.bio = f"![b]({trap}/bio.png)\n# Bio heading\n> quote [x]({trap}/bio) `code`"
        self.fragments = ("127.0.0.1", "evil.example", "Evil", "Heading", "Genre", "Nation", "quote")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, tiny_clip_path, shared_encoder) -> Iterator[tuple[Hostile, object]]:
    """A folder collection of six pictures with hostile metadata, built by the real rebuild."""
    data = Hostile()
    root = tmp_path_factory.mktemp("hostile")
    images = root / "images"
    (images / "evil").mkdir(parents=True)
    rows = [["path", "title", "artist", "genre", "nationality", "year"]]
    for n in range(6):
        (images / "evil" / f"{n}.jpg").write_bytes(jpeg_bytes(painting(700 + n, (320, 240))))
        rows.append([f"evil/{n}.jpg", f"{data.title} {n}", data.artist, data.genre, data.nationality, "1900"])
    with (images / "metadata.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    artist = Artist(name=data.artist, bio=data.bio, nationality=data.nationality, wikipedia="javascript:alert(1)")
    (images / "artists.json").write_bytes(artists_to_json({slugify(data.artist): artist}))
    settings = test_settings(root, tiny_clip_path)
    rebuild(settings, SourceOptions(source="folder", images_dir=images), encoder=shared_encoder, progress=False)
    yield data, settings
    data.close()


def bare_markup(value: str) -> list[str]:
    """The markdown characters ``value`` leaves unescaped, the page's own markup (bold labels) set aside."""
    value = re.sub(r"\*\*[A-Z][A-Za-z ]*:\*\* ", "", value)  # the detail view's "**Artist:** " labels
    for own in ("**", "  \n"):
        value = value.replace(own, "")
    bare, escaped = [], False
    for c in value:
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c in string.punctuation:
            bare.append(c)
    return bare


def carried(at, data: Hostile) -> list[tuple[str, str]]:
    """(element, markdown) of every element on the page, and in an open detail view, that shows hostile data."""
    roots = [at] + ([detail_view(at)] if detail_view(at) is not None else [])
    found = []
    for root in roots:
        for kind in ("markdown", "caption", "subheader", "info", "error", "button", "link_button"):
            for element in root.get(kind):
                value = element.label if kind in ("button", "link_button") else element.value
                if any(f in value.replace("\\", "").replace("\u2060", "") for f in data.fragments):
                    found.append((kind, value))
    return found


def test_hostile_data_reaches_every_element_escaped(hostile, monkeypatch, tmp_path):
    data, settings = hostile
    point_env(monkeypatch, settings, tmp_path)
    at = search_text(new_app().run(), "a painting", k=6)
    assert_clean(at)
    ids = cards(at)
    assert len(ids) == 6
    on_cards = carried(at, data)
    assert {kind for kind, _ in on_cards} >= {"button", "caption"}  # titles (buttons) and artist lines
    # The sidebar's choices are plain text: the value itself on one line, its count after it.
    options = at.multiselect(key="f_genre").options
    assert options == [f"{literal(data.genre, 'plain')} (6)"]
    at = open_artwork(at, ids[0])
    in_view = carried(at, data)
    assert {kind for kind, _ in in_view} >= {"subheader", "markdown", "button"}  # title, facts and bio, works
    assert not list(detail_view(at).get("link_button"))  # javascript: is no link
    at.run()
    at.button(key=f"like_{ids[1]}").click().run()  # the "more like this" heading names the artwork
    heading = carried(at, data)
    assert any(kind == "markdown" and value.startswith("More like **") for kind, value in heading)
    for kind, value in on_cards + in_view + heading:
        assert bare_markup(value) == [], (kind, value)
    assert data.hits == []


HOSTILE_URL = "http://127.0.0.1:1/x **Your session has expired.** [Log in again]({trap}/login) ![t]({trap}/p.png)"


def test_a_shared_link_cannot_write_into_the_error_box(hostile, monkeypatch, tmp_path):
    data, settings = hostile
    point_env(monkeypatch, settings, tmp_path)
    at = new_app(mode="url", url=HOSTILE_URL.format(trap=data.trap)).run()
    assert_clean(at)
    (message,) = messages(at)
    assert "http://127.0.0.1:1/x…" in message and "session" not in message and "Log in" not in message
    assert bare_markup(at.error[0].value) == []


def test_hostile_data_in_a_real_browser_loads_nothing_links_nothing_and_renders_no_markup(hostile, tmp_path):
    data, settings = hostile
    with serve(settings, tmp_path) as url, browser_page() as page:
        page.goto(f"{url}/?k=6&q=a+painting", wait_until="domcontentloaded")
        wait_for_cards(page, 6)
        settle(page)
        page.get_by_text("Map of the collection", exact=True).click()  # the map's tooltips show titles too
        page.locator('[data-testid="stVegaLiteChart"]').wait_for(timeout=60_000)
        settle(page)
        chart = page.locator('[data-testid="stVegaLiteChart"]').bounding_box()
        for step in range(12):  # sweep the pointer over the chart: every point's tooltip shows on the way
            page.mouse.move(chart["x"] + chart["width"] * step / 12, chart["y"] + chart["height"] * step / 12)
            page.wait_for_timeout(60)
        page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').nth(1).click()  # genre choices
        page.wait_for_timeout(500)
        options = page.locator('[role="option"]').all_inner_texts()
        page.keyboard.press("Escape")
        assert options and all("Genre [g](" in o for o in options), options  # the label as written
        checks = [markup_from_data(page, data, "cards, map and sidebar")]
        page.locator('[class*="st-key-open_"] button').first.click()  # the detail view, the artist and works
        page.locator('[role="dialog"] [class*="st-key-detail_pic"] img').wait_for(timeout=60_000)
        settle(page)
        checks.append(markup_from_data(page, data, "detail view"))
        page.locator('[role="dialog"] [class*="st-key-detail_like_"] button').click()  # more like this: a heading
        page.get_by_text("Back to your search").wait_for(timeout=60_000)
        settle(page)
        checks.append(markup_from_data(page, data, "more like this"))
        page.goto(f"{url}/?mode=url&url={quote(HOSTILE_URL.format(trap=data.trap))}", wait_until="domcontentloaded")
        page.locator('[data-testid="stAlertContentError"]').wait_for(timeout=60_000)
        settle(page)
        error = page.locator('[data-testid="stAlertContentError"]')
        assert error.locator("a, img, strong, em").count() == 0 and "session" not in error.inner_text()
    for where, problems in checks:
        assert problems == [], (where, problems)
    assert data.hits == [], data.hits  # no picture, link preview or anything else was requested from it


def markup_from_data(page, data: Hostile, where: str) -> tuple[str, list[str]]:
    """What on the page came out of the data as markup rather than text (and that the data shows as text)."""
    found = page.evaluate(
        """(trap) => {
            const out = [];
            const root = document.body;
            for (const a of root.querySelectorAll('a[href]')) {
                const href = a.getAttribute('href');
                if (href.startsWith(trap) || href.startsWith('javascript') || href.includes('evil')) out.push('link ' + href);
            }
            for (const img of root.querySelectorAll('img')) {
                if ((img.getAttribute('src') || '').startsWith(trap)) out.push('image ' + img.src);
            }
            for (const h of root.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
                const text = h.textContent.trim();
                if (['Heading', 'Genre', 'Bio heading', '==='].some((t) => text === t || text.startsWith(t + ' '))) out.push('heading ' + text);
            }
            for (const icon of root.querySelectorAll('[data-testid="stIconMaterial"], [data-testid="stIconEmoji"]')) {
                if (icon.textContent.trim() === 'home') out.push('icon home');
            }
            // The page bolds labels and the artist's name itself; bold, code, LaTeX or a quote made of the data's
            // own markup would hold just the words the data marked up.
            for (const el of root.querySelectorAll('strong, em, code, del, blockquote, .katex, li')) {
                const text = el.textContent.trim();
                if (['Evil', 'bold', 'code', 'red'].includes(text) || el.matches('blockquote, .katex')) out.push('markup ' + el.tagName + ' ' + text);
            }
            if (root.innerText.includes('😄')) out.push('emoji');
            return out;
        }""",
        data.trap,
    )
    if "![t](" not in page.locator("body").inner_text():
        found.append("the hostile title is not on the page as text")
    return where, found
