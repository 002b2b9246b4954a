"""Text clean-up: control characters and whitespace in queries, mis-encoded names and Unicode forms in sources."""

from __future__ import annotations

import re
import unicodedata

from artsearch.catalog import slugify

#: The most characters of a query anything looks at: far past CLIP's 77 tokens (the tokenizer truncates the rest).
MAX_QUERY_CHARS = 2000

# Encodings that UTF-8 bytes are commonly mis-read as (zip tools use cp437).
_MISREAD_AS = ("cp437", "cp1252", "latin-1")


def _oddness(text: str) -> int:
    """How many characters look like mojibake: box drawing, control and symbol characters."""
    odd = 0
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("So", "Cc", "Co", "Cn") or "\u2500" <= ch <= "\u259f" or ch in "ÃÂâ€":
            odd += 1
    return odd


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 that was decoded with the wrong code page, then normalise to NFC.

    'Albrecht_Du╠êrer' (UTF-8 'ü' as u + combining diaeresis, read as cp437)
    becomes 'Albrecht_Dürer'; 'DÃ¼rer' (read as cp1252) becomes 'Dürer'. Text
    that is already fine is returned unchanged, apart from NFC normalisation.
    """
    best = text
    if not text.isascii():
        for encoding in _MISREAD_AS:
            try:
                candidate = text.encode(encoding).decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
            if _oddness(candidate) < _oddness(best) or (
                _oddness(candidate) == _oddness(best) and len(candidate) < len(best)
            ):
                best = candidate
    return unicodedata.normalize("NFC", best)


def name_key(name: str) -> str:
    """A matching key for person names: repaired, accents and punctuation dropped, lowercase."""
    return slugify(repair_mojibake(name).replace("_", " "))


def clean_text(text: str) -> str:
    """Drop NUL and other control characters and collapse whitespace."""
    text = "".join(ch if ch.isprintable() or ch in " \t\n" else " " for ch in str(text))
    return " ".join(text.split())


def query_text(text: str) -> str:
    """A query as every search path sees it: its first :data:`MAX_QUERY_CHARS` characters, cleaned.

    The cut comes first, so nothing (query arithmetic, name matching, the tokenizer) ever works on more,
    whatever a link or a command line carries.
    """
    return clean_text(str(text)[:MAX_QUERY_CHARS])


#: What a terminal would act on instead of showing: C0 controls (ESC starts colour, clear-screen and title
#: sequences; BEL rings), DEL, C1 controls (0x9b is a one-byte CSI on some terminals), and the bidi overrides and
#: isolates that reorder what follows them. Tab, newline and carriage return are the caller's choice.
_TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("[\t\n\r\x0b\x0c\x85\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str, *, one_line: bool = False) -> str:
    """``text`` as a terminal may print it: every control character shown as an escape (``\\x1b``), never acted
    on; with ``one_line``, line breaks and tabs too (a field that must not start a new line)."""
    text = _TERMINAL_CONTROL.sub(_escape, str(text))
    return _LINE_BREAKS.sub(_escape, text) if one_line else text


def json_safe(text: str) -> str:
    """JSON text with the control characters ``json.dumps(ensure_ascii=False)`` leaves raw (DEL, C1, bidi)
    written as ``\\uXXXX`` escapes: still the same JSON, and harmless on a terminal."""
    return _TERMINAL_CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
