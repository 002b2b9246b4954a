"""The page's few rules of CSS: a bar that shows at once that a search is running, equal cards with a fixed
picture frame, a picture that opens its artwork, compact icon buttons with spoken labels, a detail view fitted
to the screen, and a phone layout.

Streamlit has no option for these; they hang on the ``st-key-<key>`` classes Streamlit gives keyed
elements (``card_<id>``, ``pic_<id>``, ``open_<id>``, ``up_<id>``...) and on its ``data-testid``
attributes (and the app's ``data-test-script-state``: running or not), and nothing else, so a Streamlit
upgrade that moves its own class names does not touch them.
"""

from __future__ import annotations

FRAME_PX = 220  #: a card's picture frame on a desk
PHONE_FRAME_PX = 190  #: ... and on a phone (a card stays under half of a 390x844 screen)
THUMB_FRAME_PX = 96  #: an artist's other works and a card's copies in the detail view

BUSY_BAR_PX = 3  #: the bar along the top of the page while a search (or any click) is being answered

CSS = f"""
<style>
/* While the server answers (a search, a click), a bar runs along the top from the first frame Streamlit knows it:
   st.spinner shows only after half a second, and Streamlit's own status sits in a corner. */
[data-testid="stApp"][data-test-script-state="running"]::before {{
  content: ""; position: fixed; top: 0; left: 0; right: 0; height: {BUSY_BAR_PX}px; z-index: 1000100;
  pointer-events: none; background: linear-gradient(90deg, transparent, #ff4b4b, transparent) no-repeat;
  background-size: 40% 100%; animation: artsearch-busy 1s linear infinite;
}}
@keyframes artsearch-busy {{ from {{ background-position: -60% 0; }} to {{ background-position: 160% 0; }} }}
[data-testid="stApp"][data-test-script-state="running"] .st-key-search button {{ cursor: progress; }}
/* A card: the picture in a fixed frame, fitted inside, centred; the title on at most two lines. */
[class*="st-key-card_"] {{ position: relative; gap: 0.35rem; }}
[class*="st-key-tile_"] {{ position: relative; gap: 0.2rem; }}
[class*="st-key-pic_"], [class*="st-key-thumb_"] {{
  height: {FRAME_PX}px; border-radius: 0.5rem; overflow: hidden;
  background: rgba(128, 128, 128, 0.08); justify-content: center;
}}
[class*="st-key-thumb_"] {{ height: {THUMB_FRAME_PX}px; }}
[class*="st-key-pic_"] [data-testid="stFullScreenFrame"], [class*="st-key-thumb_"] [data-testid="stFullScreenFrame"] {{
  display: flex; justify-content: center; height: 100%;
}}
[class*="st-key-pic_"] img {{ height: {FRAME_PX}px !important; width: auto !important; max-width: 100% !important;
  object-fit: contain; }}
[class*="st-key-thumb_"] img {{ height: {THUMB_FRAME_PX}px !important; width: auto !important;
  max-width: 100% !important; object-fit: contain; }}
/* The picture's own full-screen button would be a second way (and a second tab stop) to open it. */
[class*="st-key-pic_"] [data-testid="stElementToolbar"], [class*="st-key-thumb_"] [data-testid="stElementToolbar"],
[class*="st-key-detail_pic"] [data-testid="stElementToolbar"] {{ display: none; }}
/* The title is the button that opens the artwork; its click area also covers the picture above it. */
[class*="st-key-open_"], [class*="st-key-open_"] *, [class*="st-key-see_"], [class*="st-key-see_"] * {{
  position: static !important; }}
[class*="st-key-open_"] button, [class*="st-key-see_"] button {{ justify-content: flex-start; text-align: left;
  min-height: 2.6em; padding: 0; align-items: flex-start; }}
[class*="st-key-open_"] button {{ font-weight: 600; }}
[class*="st-key-see_"] button {{ font-size: 0.8rem; }}
[class*="st-key-open_"] button p, [class*="st-key-see_"] button p {{ display: -webkit-box; -webkit-line-clamp: 2;
  -webkit-box-orient: vertical; overflow: hidden; text-align: left; line-height: 1.3; }}
[class*="st-key-open_"] button::after, [class*="st-key-see_"] button::after {{ content: ""; position: absolute;
  z-index: 1; left: 0; right: 0; top: 0; height: calc({FRAME_PX}px + 1rem); cursor: pointer; }}
[class*="st-key-see_"] button::after {{ height: {THUMB_FRAME_PX}px; }}
[class*="st-key-card_"] [data-testid="stCaptionContainer"] p {{ white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }}
/* One row of compact actions that fits a four-column grid. */
[class*="st-key-row_"] {{ flex-wrap: nowrap; }}
[class*="st-key-row_"] {{ gap: 0.4rem; }}
[class*="st-key-row_"] button {{ padding: 0.15rem 0.5rem; min-height: 2rem; }}
[class*="st-key-row_"] button p {{ font-size: 0.85rem; }}
[class*="st-key-row_"] [class*="st-key-up_"] button, [class*="st-key-row_"] [class*="st-key-down_"] button {{
  padding: 0.15rem 0.45rem; }}
/* Icon buttons: the icon is seen, the word ("Like", "Dislike") is heard and read by screen readers. */
[class*="st-key-up_"] button p, [class*="st-key-down_"] button p {{
  position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%);
  white-space: nowrap;
}}
/* The detail view: the picture as large as the screen allows, never past its own size. */
[class*="st-key-detail_pic"] img {{ max-height: 72vh; width: auto !important; max-width: 100% !important;
  object-fit: contain; }}
[class*="st-key-detail_pic"] [data-testid="stFullScreenFrame"] {{ display: flex; justify-content: center; }}
@media (max-width: 640px) {{
  [data-testid="stMainBlockContainer"] {{ padding: 3.25rem 0.75rem 2rem 0.75rem; }}
  [data-testid="stMainBlockContainer"] h1 {{ font-size: 1.75rem; padding: 0; }}
  [class*="st-key-pic_"] {{ height: {PHONE_FRAME_PX}px; }}
  [class*="st-key-pic_"] img {{ height: {PHONE_FRAME_PX}px !important; }}
  [class*="st-key-open_"] button::after {{ height: calc({PHONE_FRAME_PX}px + 1rem); }}
  [class*="st-key-detail_pic"] img {{ max-height: 55vh; }}
  /* The detail view fills the screen. */
  [data-testid="stDialog"] {{ padding: 0 !important; }}
  [data-testid="stDialog"] > div {{ width: 100% !important; max-width: 100% !important; min-height: 100%; margin: 0 !important;
    border-radius: 0 !important; }}
}}
</style>
"""
