"""Driving ``app.py`` through ``streamlit.testing.v1.AppTest``, and reading what the page shows."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from artsearch.config import Settings, load_settings
from artsearch.web import resources
from tests.support import ROOT

APP = str(ROOT / "app.py")
SECRETS = {"Artsearch": {"DEVICE": "cpu"}}  # replaces any developer secrets.toml for the test run
QUERY = "a gloomy landscape in the winter"  # the search box's placeholder, and the tests' usual search


def point_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path, **extra: str) -> None:
    """Point the app at ``settings``' index the way a deployment would: environment variables."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("QDRANT_URL", "")
    monkeypatch.setenv("QDRANT_PATH", str(settings.qdrant_path))
    monkeypatch.setenv("ARTSEARCH_DATA_DIR", str(settings.data_dir))
    if settings.embedder_name:
        monkeypatch.setenv("EMBEDDER_NAME", settings.embedder_name)
    else:  # no model configured: the app uses the model the index was built with
        monkeypatch.delenv("EMBEDDER_NAME", raising=False)
    monkeypatch.setenv("ARTSEARCH_DEVICE", "cpu")
    monkeypatch.setenv("ARTSEARCH_STORAGE_BACKEND", "local")
    monkeypatch.setenv("ARTSEARCH_SECRETS", str(tmp_path / "no-such-secrets.toml"))
    for name, value in extra.items():
        monkeypatch.setenv(name, value)


def new_app(secrets: dict | None = None, **params: str | list[str]) -> AppTest:
    """``app.py`` with ``secrets`` (SECRETS by default) and ``params`` as its link's query parameters."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets = dict(secrets or SECRETS)
    for key, value in params.items():
        at.query_params[key] = value
    return at


def app_settings() -> Settings:
    """The Settings the app builds from the current environment (to reach its cached service)."""
    return load_settings(secrets=SECRETS, env=os.environ)


def cards(at: AppTest) -> list[str]:
    """Artwork ids of the result cards, in order (each card has one "More like this" button)."""
    return [b.key.removeprefix("like_") for b in at.button if b.key and b.key.startswith("like_")]


def unescaped(text: str) -> str:
    """What a visitor reads of markdown the page escaped: the backslashes and word joiners gone."""
    return text.replace("\\", "").replace("\u2060", "")


def card_titles(at: AppTest) -> list[str]:
    """Each result card's title, in order (the title is the button that opens the artwork)."""
    return [unescaped(b.label) for b in at.button if b.key and b.key.startswith("open_")]


def result_captions(at: AppTest) -> list[str]:
    """Each card's "artist · date" and "similarity ..." (or "name match") lines, joined: one line per card."""
    lines = [unescaped(c.value) for c in at.caption]
    return [
        f"{byline} · {why}"
        for byline, why in zip(lines, lines[1:], strict=False)
        if why.startswith(("similarity", "name match"))
    ]


def open_artwork(at: AppTest, artwork_id: str) -> AppTest:
    """Click a card's title (what a click on its picture does too): the detail view opens, nothing else reruns."""
    return at.button(key=f"open_{artwork_id}").click().run()


def detail_view(at: AppTest):
    """The open detail view (Streamlit's dialog block), or None when none is open."""
    for special in at._tree.children.values():
        if getattr(special, "type", "") == "event":
            for block in special.children.values():
                if getattr(block, "type", "") == "dialog":
                    return block
    return None


def detail_text(at: AppTest) -> str:
    """Everything the open detail view says (its headings, facts, captions and artist panel), unescaped."""
    view = detail_view(at)
    assert view is not None, "no detail view is open"
    parts = [h.value for h in view.subheader] + [m.value for m in view.markdown] + [c.value for c in view.caption]
    return unescaped(re.sub(r"(?<!\\)\*\*", "", "\n".join(parts)))  # bold is the page's markup, not data


def messages(at: AppTest) -> list[str]:
    """The page's error and info lines as a visitor reads them."""
    return [unescaped(e.value) for e in at.error] + [unescaped(i.value) for i in at.info]


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def payloads() -> list[dict]:
    """Every indexed point's payload, read through the app's own cached service (one client per folder)."""
    return payloads_of(resources.get_service(app_settings()))


def payloads_of(service) -> list[dict]:
    return [dict(p.payload, id=str(p.id)) for p in service.index.scroll(limit=1000)]


def search_text(at: AppTest, text: str = QUERY, k: int = 12) -> AppTest:
    at.slider(key="k").set_value(k)
    at.text_input(key="q").input(text)
    return at.run()


def upload(at: AppTest, name: str, data: bytes, mime: str = "image/jpeg") -> AppTest:
    at.radio(key="mode").set_value("image").run()
    at.file_uploader(key="upload").set_value((name, data, mime))
    return at.run()
