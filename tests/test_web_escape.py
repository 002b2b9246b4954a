"""The one escaping the page uses for data: what each element kind receives.

That the escaped text really renders literally in Streamlit (no image requested, no link, no heading, no
icon) is shown in a browser by ``tests/test_app_browser_hostile.py``; here, what the helper writes.
"""

from __future__ import annotations

import pytest

from artsearch.web.escape import literal

WJ = "\u2060"  # the invisible word joiner that breaks an autolink


def test_every_ascii_punctuation_character_is_escaped_for_markdown():
    hostile = "![t](http://host/a.png) [x](https://e.org) **b** _i_ `c` $x$ ~s~ <b> # | = : ."
    escaped = literal(hostile)
    unescaped = escaped.replace("\\", "").replace(WJ, "")
    assert unescaped == hostile  # nothing is lost for the reader ...
    for c in "![]()*_`$~<>#|=:.":  # ... and no markdown character is left bare
        assert all(escaped[i - 1] == "\\" for i, ch in enumerate(escaped) if ch == c), c


def test_newlines_fold_so_no_heading_list_or_quote_can_start():
    assert literal("Title\n===\n- item\n> quote\r\n\t# h") == r"Title \=\=\= \- item \> quote \# h"


def test_icons_emoji_shortcodes_and_directives_stay_words():
    assert literal(":material/home: :smile: :red[x]") == r"\:material\/home\: \:smile\: \:red\[x\]"


def test_bare_urls_addresses_and_www_cannot_become_links():
    text = literal("https://e.org/p www.e.org me@e.org")
    assert text == rf"https\:{WJ}\/\/e\.org\/p www{WJ}\.e\.org me{WJ}\@e\.org"


def test_control_and_bidirectional_override_characters_are_dropped():
    assert literal("a\x1b[2Jb\u202ec\x00d") == r"a\[2Jbcd"
    assert literal("a\u202eb", "plain") == "ab"


def test_plain_elements_get_text_as_it_is_on_one_line():
    assert literal("A_b *c* [x](y)\nnext", "plain") == "A_b *c* [x](y) next"
    assert literal(None) == "" and literal(1906) == "1906"
    with pytest.raises(ValueError, match="element kind"):
        literal("x", "html")  # type: ignore[arg-type]
