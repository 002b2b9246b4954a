"""What the page's server does when it starts (``serve.py``, an ``st.App`` lifespan): load the model first.

The page's SearchService is a process-wide ``st.cache_resource``, so the one built here, from the same settings
the page reads (secrets, then the environment), is the one every visitor's search then uses: the first search
after a start costs what a later one costs, and the first page view does not share the interpreter with the
torch import. A fault here (bad settings, a missing model, no index yet) is logged and the server starts anyway:
the page shows the same one-line message to the visitor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import streamlit as st
from streamlit.logger import get_logger

from artsearch.config import load_settings
from artsearch.errors import ArtsearchError
from artsearch.web import resources

log = get_logger(__name__)  # Streamlit's format and level (``logger.level``), in the server's own log


def preload() -> bool:
    """Build the page's SearchService and load its model now; False (logged) when that cannot be done yet."""
    started = time.perf_counter()
    log.info("loading the model: the server answers once it is in")  # an operator's browser waits meanwhile
    try:
        service = resources.get_service(load_settings(secrets=resources.secrets_dict(st.secrets)))
    except ArtsearchError as exc:  # settings the page will report, or a service that cannot be built yet
        log.warning("the model is not preloaded (the page will say why): %s", exc)
        return False
    loaded = resources.warm_up(service, wait=True)  # logs why, when it cannot
    if loaded:
        log.info("the model is loaded (%.1f s): serving the page", time.perf_counter() - started)
    return loaded


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """``st.App(..., lifespan=lifespan)``: the server answers its first request once the model is loaded."""
    await asyncio.to_thread(preload)
    yield
