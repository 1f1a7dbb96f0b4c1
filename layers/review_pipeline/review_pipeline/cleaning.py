"""Review text as the model should see it: no markup, one normal form, no invisible characters.

IMDb-style reviews carry HTML (`<br /><br />` between paragraphs) and entities (`&amp;`, `&#39;`). Tags
become line breaks (block tags) or spaces (inline tags), entities are unescaped after the tags are gone (so an
escaped `&lt;b&gt;` stays visible text), then NFKC folds compatibility characters (full-width letters,
ligatures), control and zero-width characters go, and runs of whitespace collapse. Standard library only.
"""

from __future__ import annotations

import html
import re
import string
import unicodedata
from functools import lru_cache

# Tags that separate lines or paragraphs in rendered HTML.
_BLOCK_TAG = re.compile(r"</?(?:br|p|div|li|ul|ol|tr|table|h[1-6]|blockquote|hr)\b[^<>]*>", re.IGNORECASE)
# Any other tag or comment; a tag must start with a letter, '/' or '!' so "a < b and c > d" is left alone.
_OTHER_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][^<>]*>|<![^<>]*>", re.DOTALL)
# Characters that render as nothing: zero-width space/joiners are kept only where they join emoji (ZWJ).
_INVISIBLE = frozenset("\u200b\u200c\u2060\ufeff\u00ad")
# Characters that pass unchanged; only the others of a text are looked at, once each (speed: most reviews are
# plain ASCII, and a per-character Python loop was 90% of preprocessing time).
_PLAIN = frozenset(string.printable) - frozenset("\t\r\x0b\x0c")
_ASCII_UNUSUAL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def clean_text(text: str) -> str:
    """The review without markup, normalised (NFKC), with whitespace collapsed; '' when nothing is left.

    Written for speed with str methods where a regex would scan every character: this runs once per review.
    """
    if "<" in text:
        text = _BLOCK_TAG.sub("\n", text)
        text = _OTHER_TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for char in _unusual_characters(text):
        text = text.replace(char, _replacement(char))
    # Only spaces and newlines are left as whitespace: collapse runs, drop spaces around line breaks.
    while "  " in text:
        text = text.replace("  ", " ")
    if "\n" in text:
        text = text.replace(" \n", "\n").replace("\n ", "\n")
        while "\n\n\n" in text:
            text = text.replace("\n\n\n", "\n\n")
    return text.strip()


def _unusual_characters(text: str) -> set[str]:
    """The distinct characters of the text that are not _PLAIN (an ASCII text is searched, not walked)."""
    if text.isascii():
        return set(_ASCII_UNUSUAL.findall(text)) if _ASCII_UNUSUAL.search(text) else set()
    return set(text) - _PLAIN


@lru_cache(maxsize=4096)
def _replacement(char: str) -> str:
    """What an unusual character becomes: nothing (invisible, control), a newline, a space, or itself."""
    if char in _INVISIBLE:
        return ""
    visible = _visible(char)
    return " " if visible == char and char.isspace() else visible


def _visible(char: str) -> str:
    """Control characters (category C*, except newlines and tabs) are dropped; tabs become spaces."""
    if char == "\n":
        return char
    if char == "\t":
        return " "
    category = unicodedata.category(char)
    if category in {"Zl", "Zp"}:
        # U+2028/U+2029 are line breaks; as newlines they cannot split a JSON line for a str.splitlines()
        # reader.
        return "\n"
    if category in {"Cc", "Cs", "Co", "Cn"}:
        return ""
    return char


TRUNCATION_MARK = " … "


def truncate_for_model(text: str, limit: int) -> str:
    """What the model sees of a review longer than `limit` characters: its first two thirds and its last third
    of the limit, joined by TRUNCATION_MARK (openings set the scene, endings often give the verdict)."""
    if len(text) <= limit:
        return text
    room = limit - len(TRUNCATION_MARK)
    head = room * 2 // 3
    return text[:head].rstrip() + TRUNCATION_MARK + text[len(text) - (room - head) :].lstrip()
