"""The bare Streamlit page ``benchmarks/page.py`` measures the search page against (``streamlit run`` it).

It does no work of its own: it draws the same number of cards as ``app.py``, with the same elements and
widgets per card (a picture in the same frame, the title as a button, a two-line caption, a row of
"More like this", 👍 and 👎) and the same CSS, from JPEGs prepared beforehand at the size the page shows
them, plus a dialog like the detail view. Every interaction is a plain full rerun, as a page without
fragments or caching has it. What it costs is what Streamlit itself costs to show such a page; the
difference to ``app.py`` is what the search page adds.

``BARE_PICTURES`` is the folder of prepared pictures (``card_<n>.jpg``, ``large_<n>.jpg``,
``thumb_<n>.jpg``); ``?k=`` sets the number of cards, as on the search page.
"""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

import streamlit as st

from artsearch.web.style import CSS

FOLDER = Path(os.environ["BARE_PICTURES"])
COUNT = len(list(FOLDER.glob("card_*.jpg")))
ss = st.session_state


def picture(kind: str, n: int) -> bytes:
    return (FOLDER / f"{kind}_{n % COUNT}.jpg").read_bytes()


def pick(seed: str, k: int) -> list[int]:
    """k distinct picture numbers that depend only on ``seed``, as a search's results would."""
    return random.Random(hashlib.sha256(seed.encode()).digest()).sample(range(COUNT), min(k, COUNT))


def like(n: int) -> None:
    ss.seed, ss.pages = f"like {n}", 1


def feedback(n: int) -> None:
    ss.fb[n] = 0 if ss.fb.get(n, 0) > 0 else 1


def more() -> None:
    ss.pages += 1


def card(n: int) -> None:
    with st.container(border=True, key=f"card_{n}"):
        with st.container(key=f"pic_{n}", vertical_alignment="center"):
            st.image(picture("card", n), width="stretch", alt=f"Artwork number {n}, by Painter {n % 24}")
        if st.button(f"Artwork number {n}", key=f"open_{n}", type="tertiary"):
            ss.open = n
        st.caption(f"Painter {n % 24} · {1800 + n}")
        st.caption(f"similarity 0.{n % 100:02d}")
        mine = ss.fb.get(n, 0)
        with st.container(horizontal=True, gap="small", key=f"row_{n}"):
            st.button("More like this", key=f"like_{n}", on_click=like, args=(n,))
            st.button(
                "Liked" if mine > 0 else "Like",
                key=f"up_{n}",
                icon=":material/thumb_up:",
                type="primary" if mine > 0 else "secondary",
                on_click=feedback,
                args=(n,),
            )
            st.button("Dislike", key=f"down_{n}", icon=":material/thumb_down:")


@st.dialog("About this artwork", width="large")
def detail(n: int) -> None:
    left, right = st.columns([3, 2], gap="medium")
    with left, st.container(key="detail_pic"):
        st.image(picture("large", n), width="content", alt=f"Artwork number {n}")
    with right:
        st.subheader(f"Artwork number {n}", anchor=False)
        facts = [("Artist", f"Painter {n % 24} (French, 1840–1926)"), ("Date", str(1800 + n)), ("Genre", "Landscape")]
        facts += [("Image", "1000 × 800 pixels"), ("Source", "A folder of images"), ("File", f"painter/{n}.jpg")]
        st.markdown("  \n".join(f"**{label}:** {value}" for label, value in facts))
        st.caption(f"similarity 0.{n % 100:02d}")
        with st.container(horizontal=True, gap="small"):
            st.button("More like this", key="detail_like")
            st.button("Like", key="detail_up", icon=":material/thumb_up:")
            st.button("Dislike", key="detail_down", icon=":material/thumb_down:")
    with st.container(border=True):
        st.markdown(f"**Painter {n % 24}**")
        st.markdown("French · 1840–1926")
        st.caption("Other works in the collection")
        with st.container(horizontal=True, wrap=True, gap="small"):
            for other in pick(f"artist {n % 24}", 8):
                with st.container(width=120, key=f"tile_{other}"):
                    with st.container(key=f"thumb_{other}"):
                        st.image(picture("thumb", other), width="stretch")
                    st.button(f"Artwork number {other}", key=f"see_{other}", type="tertiary")


def main() -> None:
    st.set_page_config(page_title="bare", layout="wide")
    st.html(CSS)
    st.title("bare", anchor=False)
    ss.setdefault("fb", {})
    ss.setdefault("pages", 1)
    ss.setdefault("seed", "")
    k = int(st.query_params.get("k", "12"))

    def new_search() -> None:
        ss.seed, ss.pages = ss.q, 1

    st.text_input("Describe the artwork", key="q", placeholder="a gloomy landscape in the winter", on_change=new_search)
    if not ss.seed:
        return
    shown = pick(ss.seed, k * ss.pages)
    for start in range(0, len(shown), 4):
        for column, n in zip(st.columns(4), shown[start : start + 4], strict=False):
            with column:
                card(n)
    st.button("Load more", key="more", on_click=more)
    if ss.get("open") is not None:
        detail(ss.pop("open"))


main()
