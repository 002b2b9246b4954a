"""Data shown literally: the one escaping every string from the data (or a visitor) goes through on the page.

Titles, artist names, bios, captions and messages that quote a visitor's input come from files, museum APIs
and links that anyone may have written. Streamlit renders most of its text as GitHub markdown plus its own
directives, so a title could otherwise load a remote image (``![t](http://host/pixel.png)``), show a working
link, turn into a heading (a newline and ``===``) or an icon (``:material/home:``). :func:`literal` is the
only escaping the page uses; ``kind`` names the element the text goes into:

* ``"markdown"``: everything Streamlit renders as markdown: ``st.markdown``, ``st.caption``, alerts
  (``st.error``, ``st.info``), the labels of buttons, expanders, dialogs and widgets, ``help`` tooltips
  and image captions;
* ``"plain"``: elements the browser shows as text: option labels of a multiselect, an image's ``alt``,
  chart fields (Vega's tooltip escapes HTML itself).

Both fold whitespace (newlines included) to single spaces and drop control characters. For markdown,
every ASCII punctuation character is backslash-escaped (CommonMark allows it for all of them, and it
disarms links, images, emphasis, code, LaTeX, HTML, tables, headings, lists, quotes and Streamlit's
``:name[...]`` directives, ``:material/...:`` icons and ``:emoji:`` shortcodes), and an invisible
word joiner (U+2060) breaks what GitHub markdown would turn into a link by itself (``https://``,
``www.``, ``name@host``).
"""

from __future__ import annotations

import re
import string
from typing import Literal

Kind = Literal["markdown", "plain"]

_PUNCTUATION = frozenset(string.punctuation)
#: C0 and C1 control characters and the bidirectional overrides (which can reverse how a line reads).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: Where GitHub's autolink-literal extension would start a link: after ``www`` before the dot, between
#: ``:`` and ``//``, before an ``@``.
_AUTOLINK = re.compile(r"(?i)(?<=www)(?=\.)|(?<=:)(?=//)|(?=@)")
_WORD_JOINER = "\u2060"


def literal(text: object, kind: Kind = "markdown") -> str:
    """``text`` as it must be written into an element of ``kind`` to be shown as is (see the module docstring)."""
    shown = " ".join(_CONTROL.sub("", str(text if text is not None else "")).split())
    if kind == "plain":
        return shown
    if kind != "markdown":
        raise ValueError(f"no element kind {kind!r}; use 'markdown' or 'plain'")
    shown = _AUTOLINK.sub(_WORD_JOINER, shown)
    return "".join("\\" + c if c in _PUNCTUATION else c for c in shown)
