"""The search page against a bare Streamlit page with the same cards, in Debian's Chromium (Playwright).

    .venv/bin/python benchmarks/page.py                   # 7 rounds of every action, 12 results a page
    .venv/bin/python benchmarks/page.py --rounds 3 --restarts 2 --size 120

Builds once (into benchmarks/.cache/page-<n>) a folder collection of painting-like 1000x800 JPEGs by
24 artists with titles, years and artists.json, ingested through the real rebuild with the trained
tiny CLIP (``models/tiny-clip-shapes``), so the model costs almost nothing and what is measured is the
page. It serves ``app.py`` on it and ``benchmarks/bare_page.py`` (the same number of cards, the same
elements and widgets per card, the same CSS, pictures prepared beforehand at the size the page shows
them, no search, every interaction a plain full rerun), and drives both in one headless Chromium,
round-robin, so both share the machine's load:

* text search: Enter in the box, to every card's picture decoded;
* more like this, load more (the second page appended), 50 results (``?k=50``);
* a 👍 click, to the button shown pressed; opening a detail view, to its large picture decoded;
* the first search after a server start (``--restarts`` fresh servers each), against a later search, served
  by ``serve.py`` (what ``scripts/serve.sh`` runs: the model loaded before the server answers) and by a plain
  ``streamlit run app.py``.

Times are taken in the page (``performance.now()`` from the key or pointer event to the first animation
frame where Streamlit is idle and the result is on screen); "first sign" is the time to the first frame
where Streamlit shows that it is running (the page's busy bar shows from that frame). Each row gives p50 and max per page and the p50 ratio.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import CACHE, ROOT, TRAINED_TINY, markdown_table, synthetic_jpeg  # noqa: E402

ARTISTS = 24
QUERIES = [
    f"a {a} {b}"
    for a in ("red", "green", "blue", "yellow", "purple", "orange", "dark", "bright")
    for b in ("circle", "square", "triangle", "star", "cross", "landscape")
]
INIT_JS = """
window.__bench = {t0: 0, armed: false, runs: 0, firstSign: null};
const mark = () => { if (window.__bench.armed) { Object.assign(window.__bench,
  {t0: performance.now(), armed: false, runs: 0, firstSign: null}); } };
document.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === 'Escape') mark(); }, true);
document.addEventListener('pointerdown', mark, true);
new MutationObserver(() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const state = app && app.getAttribute('data-test-script-state');
  if (state && state !== 'notRunning' && state !== 'initial' && window.__bench.t0 && !window.__bench.armed) {
    if (window.__bench.firstSign === null) window.__bench.firstSign = performance.now() - window.__bench.t0;
    window.__bench.runs += 1;
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-test-script-state']});
"""
CARD_IDS_JS = """() => [...document.querySelectorAll('[class*="st-key-card_"]')]
  .map((e) => (e.className.match(/st-key-card_(\\S+)/) || [])[1]).join(' ')"""
# Done: Streamlit idle, and the change the action makes is on screen (new cards with every picture decoded, the
# button pressed, the detail view's picture decoded). A run too short to show Streamlit's running state is
# still seen by its result.
DONE_JS = """([condition, arg]) => {
  const b = window.__bench;
  const app = document.querySelector('[data-testid="stApp"]');
  if (!b.t0 || b.armed || !app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const decoded = (imgs) => imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
  const cards = () => [...document.querySelectorAll('[class*="st-key-pic_"] img')];
  const ids = () => [...document.querySelectorAll('[class*="st-key-card_"]')]
    .map((e) => (e.className.match(/st-key-card_(\\S+)/) || [])[1]).join(' ');
  let ok = false;
  if (condition === 'cards') ok = cards().length === arg.k && ids() !== arg.before && decoded(cards());
  if (condition === 'pressed') ok = !!document.querySelector(arg.selector);
  if (condition === 'dialog') ok = decoded([...document.querySelectorAll('[role="dialog"] [class*="st-key-detail_pic"] img')]);
  if (condition === 'closed') ok = !document.querySelector('[role="dialog"]');
  return ok ? {ms: performance.now() - b.t0, first: b.firstSign} : false;
}"""

STATE_JS = """() => ({bench: window.__bench,
  state: (document.querySelector('[data-testid="stApp"]') || {getAttribute: () => null}).getAttribute('data-test-script-state'),
  cards: document.querySelectorAll('[class*="st-key-card_"]').length,
  pictures: [...document.querySelectorAll('[class*="st-key-pic_"] img')].filter((i) => i.complete && i.naturalWidth).length,
  alerts: [...document.querySelectorAll('[data-testid="stAlert"], [data-testid="stException"]')].map((e) => e.innerText)})"""


# --- the collection -------------------------------------------------------------------------------------------


def build(n: int, inference: str = "onnx-int8") -> tuple[Any, Path]:
    """The benchmark collection (built once), its model exported for ``inference`` when that is an ONNX path (as
    a rebuild with the default settings does), and a folder of the bare page's prepared pictures."""
    from artsearch.catalog import Artist, slugify
    from artsearch.rebuild import rebuild
    from artsearch.sources import SourceOptions
    from artsearch.storage.base import artists_to_json
    from artsearch.web.pictures import CARD_PX, DETAIL_PX, SLACK, THUMB_PX, jpeg, shown_as_is
    from tests.support.indexes import test_settings

    root = CACHE / f"page-{n}"
    settings = test_settings(root, str(TRAINED_TINY))
    images, bare = (
        root / "images",
        root / f"bare-{CARD_PX}-{DETAIL_PX}-{THUMB_PX}-{SLACK}-2",
    )  # the sizes the page shows
    if not (root / "built").is_file():
        print(f"building a {n}-artwork collection in {root} (once)", file=sys.stderr, flush=True)
        rows, artists = [], {}
        for i in range(n):
            name = f"Painter {i % ARTISTS}"
            path = images / name / f"study_{i:04d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(synthetic_jpeg(i))
            rows.append(
                [path.relative_to(images).as_posix(), f"Study number {i}", name, "Landscape", "French", 1800 + i]
            )
            artists[slugify(name)] = Artist(
                name=name,
                years="1840–1926",
                nationality="French",
                genre="Landscape",
                bio=f"{name} painted studies of light for fifty years.",
                wikipedia=f"https://en.wikipedia.org/wiki/{name.replace(' ', '_')}",
            )
        with (images / "metadata.csv").open("w", newline="") as fh:
            csv.writer(fh).writerows([["path", "title", "artist", "genre", "nationality", "year"], *rows])
        (images / "artists.json").write_bytes(artists_to_json(artists))
        rebuild(settings, SourceOptions(source="folder", images_dir=images), progress=False)
        (root / "built").write_text("ok")
    if inference.startswith("onnx"):  # once: an export that is up to date is kept
        from artsearch.model.encoder import export_model

        export_model(settings.embedder_name, [inference], cache_dir=settings.export_cache_dir)
    if not (bare / "done").is_file():
        bare.mkdir(exist_ok=True)
        for i, path in enumerate(sorted(images.rglob("*.jpg"))):
            data = path.read_bytes()
            for kind, size in (("card", CARD_PX), ("large", DETAIL_PX), ("thumb", THUMB_PX)):
                shown = (
                    data
                    if kind == "large" and shown_as_is(data)
                    else jpeg(data, size, settings.max_image_pixels, settings.max_decode_bytes, "")
                )
                (bare / f"{kind}_{i}.jpg").write_bytes(shown)
        (bare / "done").write_text("ok")
    return settings, bare


# --- driving a page -------------------------------------------------------------------------------------------


class Target:
    """One served page in its own browser tab."""

    def __init__(self, name: str, page: Any, url: str) -> None:
        self.name, self.page, self.url = name, page, url
        self.times: dict[str, list[float]] = {}
        self.signs: dict[str, list[float]] = {}

    def open(self, k: int = 12) -> None:
        self.page.goto(f"{self.url}/?k={k}", wait_until="domcontentloaded")
        self.page.get_by_placeholder("a gloomy landscape in the winter").wait_for(timeout=120_000)
        self.idle()

    def idle(self) -> None:
        self.page.wait_for_function(
            "() => { const a = document.querySelector('[data-testid=\"stApp\"]');"
            " return a && a.getAttribute('data-test-script-state') === 'notRunning'; }",
            timeout=120_000,
        )
        self.page.wait_for_timeout(150)

    def measure(self, action: str, act: Callable[[], None], condition: str, arg: dict, record: bool = True) -> float:
        self.page.evaluate("() => { window.__bench.armed = true; }")
        act()
        try:
            done = self.page.wait_for_function(
                DONE_JS, arg=[condition, arg], polling="raf", timeout=120_000
            ).json_value()
        except Exception:
            state = self.page.evaluate(STATE_JS)
            raise RuntimeError(
                f"{self.name}: {action} did not finish ({condition}, {arg}); the page: {state}"
            ) from None
        if record:
            self.times.setdefault(action, []).append(done["ms"])
            if done["first"] is not None:
                self.signs.setdefault(action, []).append(done["first"])
        self.page.wait_for_timeout(100)
        return done["ms"]

    def before(self) -> str:
        return self.page.evaluate(CARD_IDS_JS)

    def search(self, text: str, k: int, action: str = "text search", record: bool = True) -> float:
        box = self.page.get_by_placeholder("a gloomy landscape in the winter")
        box.fill(text)
        before = self.before()
        return self.measure(action, lambda: box.press("Enter"), "cards", {"k": k, "before": before}, record)

    def more_like_this(self, k: int) -> None:
        before = self.before()
        button = self.page.get_by_role("button", name="More like this").nth(1)
        self.measure("more like this", button.click, "cards", {"k": k, "before": before})

    def load_more(self, k: int) -> None:
        before = self.before()
        self.measure(
            "load more",
            self.page.get_by_role("button", name="Load more").click,
            "cards",
            {"k": 2 * k, "before": before},
        )

    def like(self) -> None:
        first = self.before().split()[0]
        button = self.page.locator(f'[class*="st-key-up_{first}"] button').first
        pressed = button.get_attribute("data-testid") == "stBaseButton-primary"
        wanted = "stBaseButton-secondary" if pressed else "stBaseButton-primary"
        self.measure("👍 click", button.click, "pressed", {"selector": f'.st-key-up_{first} [data-testid="{wanted}"]'})

    def detail(self) -> None:
        first = self.before().split()[0]
        title = self.page.locator(f'[class*="st-key-open_{first}"] button').first
        self.measure("open a detail view", title.click, "dialog", {})
        self.page.keyboard.press("Escape")
        self.page.wait_for_function("() => !document.querySelector('[role=\"dialog\"]')", timeout=60_000)
        self.idle()


def interleaved(targets: list[Target], round_no: int) -> list[Target]:
    return targets if round_no % 2 == 0 else list(reversed(targets))


def p50(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def row(action: str, app: Target, bare: Target) -> list[str]:
    a, b = app.times.get(action, []), bare.times.get(action, [])
    if not a or not b:
        return [action, "n/a", "n/a", "n/a", "n/a"]
    return [
        action,
        f"{p50(a):.0f} / {max(a):.0f}",
        f"{p50(b):.0f} / {max(b):.0f}",
        f"**{p50(a) / p50(b):.2f}x**",
        f"{p50(app.signs.get(action, [])):.0f}" if app.signs.get(action) else "-",
    ]


FIRST_PAGES = (  # (row name, script, extra environment); the bare page's pictures are added in first_searches
    ("serve.py", "serve.py", {}),  # what scripts/serve.sh runs: the model loaded before the server answers
    ("app.py", "app.py", {}),  # a plain `streamlit run app.py`: the model loaded on a thread after the first page
    ("bare", "benchmarks/bare_page.py", {}),
)


def first_searches(settings: Any, bare_dir: Path, restarts: int, wait: float, browser: Any, tmp: Path) -> dict:
    """Fresh servers: from the launch to the server answering, the first page view, the first search pressed at
    once (and, on another fresh server, ``wait`` seconds after the page showed, as a visitor who types), then a
    later search; ``restarts`` times each, for serve.py, app.py and the bare page."""
    from tests.support.browser import serve

    out: dict[str, list[float]] = {}
    for n in range(restarts):
        for name, script, env in FIRST_PAGES:
            env = {**env, "BARE_PICTURES": str(bare_dir)} if name == "bare" else env
            for delay in (0.0, wait):
                launched = time.perf_counter()
                with serve(settings, tmp, script, **env) as url:
                    out.setdefault(f"{name} ready", []).append(1000 * (time.perf_counter() - launched))
                    page = browser.new_page(viewport={"width": 1440, "height": 1500})
                    page.add_init_script(INIT_JS)
                    target = Target(name, page, url)
                    started = time.perf_counter()
                    target.open()
                    out.setdefault(f"{name} page", []).append(1000 * (time.perf_counter() - started))
                    page.wait_for_timeout(1000 * delay)
                    out.setdefault(f"{name} first after {delay:g} s", []).append(
                        target.search(QUERIES[n], 12, record=False)
                    )
                    out.setdefault(f"{name} later", []).append(target.search(QUERIES[n + 1], 12, record=False))
                    page.close()
    return out


def first_rows(firsts: dict, wait: float) -> list[list[str]]:
    """One row per measure and page: p50 / max, the ratio to the bare page, and for a first search the ratio to
    the same server's later search."""

    def cell(key: str) -> str:
        return f"{p50(firsts[key]):.0f} / {max(firsts[key]):.0f}"

    measures = [("ready", "launch to the server answering"), ("page", "first page view after a server start")]
    measures += [(f"first after {d:g} s", f"first search, {d:g} s after the page showed" if d else
                  "first search, pressed as soon as the page shows") for d in (0.0, wait)]  # fmt: skip
    rows = []
    for key, what in measures:
        for name, _, _ in FIRST_PAGES[:-1]:
            later = f"{p50(firsts[f'{name} {key}']) / p50(firsts[f'{name} later']):.2f}x" if "first" in key else "-"
            ratio = p50(firsts[f"{name} {key}"]) / p50(firsts[f"bare {key}"])
            rows.append([f"{what}: {name}", cell(f"{name} {key}"), cell(f"bare {key}"), f"**{ratio:.2f}x**", later])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--restarts", type=int, default=2)
    parser.add_argument("--wait", type=float, default=8.0, help="seconds a visitor takes to type the first search")
    parser.add_argument("--size", type=int, default=240, help="artworks in the collection")
    parser.add_argument("--k", type=int, default=12)
    parser.add_argument("--json", type=Path, help="also write the raw times here")
    parser.add_argument(
        "--inference",
        default="onnx-int8",
        help="the page's ARTSEARCH_INFERENCE (default: the product's default, onnx-int8; torch as before issue 16's "
        "second round)",
    )
    args = parser.parse_args()
    os.environ["ARTSEARCH_INFERENCE"] = args.inference
    os.chdir(ROOT)
    from playwright.sync_api import sync_playwright

    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, serve

    settings, bare_dir = build(args.size, args.inference)
    k = args.k
    load = os.getloadavg()
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        with (
            serve(settings, Path(tmp)) as app_url,
            serve(settings, Path(tmp), "benchmarks/bare_page.py", BARE_PICTURES=str(bare_dir)) as bare_url,
        ):
            targets = []
            for name, url in (("app", app_url), ("bare", bare_url)):
                page = browser.new_page(viewport={"width": 1440, "height": 1500})
                page.add_init_script(INIT_JS)
                targets.append(Target(name, page, url))
            wide = []
            for name, url in (("app", app_url), ("bare", bare_url)):
                page = browser.new_page(viewport={"width": 1440, "height": 1500})
                page.add_init_script(INIT_JS)
                wide.append(Target(name, page, url))
            for target in targets:
                target.open(k)
                target.search(QUERIES[-1], k, record=False)  # warm: the model, the thumbnails of a first page
            for target in wide:
                target.open(50)
                target.search(QUERIES[-2], 50, record=False)
            for r in range(args.rounds):
                for target in interleaved(targets, r):
                    target.search(QUERIES[r % len(QUERIES)], k)
                for target in interleaved(targets, r):
                    target.like()
                for target in interleaved(targets, r):
                    target.detail()
                for target in interleaved(targets, r):
                    target.more_like_this(k)
                for target in interleaved(targets, r):
                    target.load_more(k)
                for target in interleaved(wide, r):
                    target.search(QUERIES[(r + 7) % len(QUERIES)], 50, action="50 results")
            app, bare = targets
            for action in ("50 results",):
                app.times[action], bare.times[action] = wide[0].times[action], wide[1].times[action]
                app.signs[action], bare.signs[action] = wide[0].signs.get(action, []), wide[1].signs.get(action, [])
        firsts = (
            first_searches(settings, bare_dir, args.restarts, args.wait, browser, Path(tmp)) if args.restarts else {}
        )
        browser.close()
    actions = ["text search", "more like this", "load more", "👍 click", "open a detail view", "50 results"]
    print(
        f"\nbenchmarks/page.py: {args.size} artworks, k={k}, {args.rounds} rounds, interleaved; "
        f"load average before {load[0]:.2f} / {load[1]:.2f}, after {os.getloadavg()[0]:.2f}; {time.time() - started:.0f} s\n"
    )
    headers = ["action", "app p50 / max (ms)", "bare page p50 / max (ms)", "app / bare (p50)", "app: first sign (ms)"]
    print(markdown_table(headers, [row(a, app, bare) for a in actions]))
    if firsts:
        print()
        headers = [
            "fresh server (a new one for each first search)",
            "app p50 / max (ms)",
            "bare page p50 / max (ms)",
            "app / bare (p50)",
            "app / its later search",
        ]
        print(markdown_table(headers, first_rows(firsts, args.wait)))
    if args.json:
        raw = {"app": app.times, "bare": bare.times, "signs": app.signs, "firsts": firsts}
        args.json.write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
