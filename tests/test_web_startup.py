"""The page's server start (``serve.py``, an ``st.App`` lifespan): the model is loaded before the first page, once,
and the first search uses it; a fault at the start is logged and the page still serves and says why.

In-process, the lifespan runs as Starlette would run it, then the page through AppTest in the same process (the
page's SearchService is a process-wide cache); the real encoder's loads are counted, nothing is mocked. The last
test serves ``serve.py`` as ``scripts/serve.sh`` does and searches in Debian's Chromium.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from artsearch.model.encoder import Encoder
from artsearch.web import resources, startup
from tests.support.app import app_settings, assert_clean, cards, messages, new_app, point_env, search_text
from tests.support.browser import TIMEOUT, browser_page, serve_process, wait_for_cards
from tests.support.indexes import copy_index

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("fresh_services")]
WARM_THREAD = "artsearch-warm-model"  # the page's own warm-up thread (artsearch.web.resources.warm_up)


@pytest.fixture(scope="module")
def startup_index(kaggle_index, tmp_path_factory):
    return copy_index(kaggle_index, tmp_path_factory.mktemp("startup_index"))


@pytest.fixture
def loads(startup_index, monkeypatch, tmp_path) -> list[str]:
    """The page pointed at the index; every model the process loads from now on, by name."""
    settings, _ = startup_index
    point_env(monkeypatch, settings, tmp_path)
    names: list[str] = []
    real = Encoder.from_settings

    def counted(cls, *args, **kwargs):
        names.append(str(kwargs.get("name") or ""))
        return real(*args, **kwargs)

    monkeypatch.setattr(Encoder, "from_settings", classmethod(counted))
    return names


def run_lifespan() -> None:
    async def start_and_stop() -> None:
        async with startup.lifespan(None):
            pass

    asyncio.run(start_and_stop())


def warm_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == WARM_THREAD]


def test_the_server_start_loads_the_model_once_and_the_first_search_loads_nothing(loads):
    for thread in warm_threads():  # an earlier test's page may still be warming its own service
        thread.join(120)
    run_lifespan()
    assert len(loads) == 1, loads  # loaded before any page was drawn
    preloaded = resources.get_service(app_settings())
    at = new_app()
    at.run()
    assert len(loads) == 1, loads  # the first page view loaded nothing either
    search_text(at)
    assert_clean(at)
    assert len(cards(at)) == 12
    assert len(loads) == 1, loads  # the first search used the model the start loaded
    assert resources.get_service(app_settings()) is preloaded  # the very service the page searches with
    assert not warm_threads()  # and the page did not start a warm-up of its own


def test_without_the_start_the_page_warms_the_model_on_a_thread_after_its_first_view(loads):
    """``streamlit run app.py`` (no serve.py): the first page view starts the load; the first search waits for it."""
    at = new_app()
    at.run()
    assert_clean(at)
    for thread in warm_threads():
        thread.join(120)
    assert len(loads) == 1, loads
    search_text(at)
    assert len(cards(at)) == 12 and len(loads) == 1


def test_settings_the_page_rejects_let_the_server_start_and_the_page_says_why(loads, monkeypatch):
    monkeypatch.setenv("ARTSEARCH_INFERENCE", "fastest")
    assert startup.preload() is False  # logged, not raised: the server starts
    run_lifespan()
    assert loads == []
    at = new_app()
    at.run()
    assert not at.exception
    assert any("ARTSEARCH_INFERENCE" in line for line in messages(at)), messages(at)


@pytest.mark.timeout(TIMEOUT)
def test_serve_py_loads_the_model_before_it_answers_then_serves_the_search(startup_index, tmp_path):
    """What scripts/serve.sh runs: ``streamlit run serve.py``. Its log says the model was loaded before the server
    answered its first request, and a search in the browser shows a full page of results."""
    settings, _ = startup_index
    with serve_process(settings, tmp_path, script="serve.py") as (url, _proc, log):
        assert "the model is loaded" in log.read_text()  # written before the health check first answered
        with browser_page() as page:
            page.goto(f"{url}/?k=6")
            box = page.get_by_placeholder("a gloomy landscape in the winter")
            box.fill("a winter landscape")
            box.press("Enter")
            wait_for_cards(page, 6)
