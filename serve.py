"""The search page's server: ``streamlit run serve.py`` (what ``scripts/serve.sh`` runs) serves ``app.py`` and
loads the model before it answers, so the first search after a start is as fast as a later one.

``streamlit run app.py`` serves the same page; it loads the model on a thread once the first page is drawn.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import streamlit as st


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    # Imported here, not above: the page's modules declare their st.cache_data functions as they are imported,
    # and Streamlit's runtime (which those caches live in) starts just before this runs.
    from artsearch.web.startup import lifespan as load_the_model_first

    async with load_the_model_first(app):
        yield


app = st.App("app.py", lifespan=lifespan)
