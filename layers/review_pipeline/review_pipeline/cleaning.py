"""Review text as the model should see it: no markup, one normal form, no invisible characters.

IMDb-style reviews carry HTML (`<br /><br />` between paragraphs) and entities (`&amp;`, `&#39;`). Tags
become line breaks (block tags) or spaces (inline tags), entities are unescaped after the tags are gone (so an
escaped `&lt;b&gt;` stays visible text), then NFKC folds compatibility characters (full-width letters,
ligatures), control and zero-width characters go, and runs of whitespace collapse. Standard library only.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Tags that separate lines or paragraphs in rendered HTML.
_BLOCK_TAG = re.compile(r"</?(?:br|p|div|li|ul|ol|tr|table|h[1-6]|blockquote|hr)\b[^<>]*>", re.IGNORECASE)
# Any other tag or comment; a tag must start with a letter, '/' or '!' so "a < b and c > d" is left alone.
_OTHER_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][^<>]*>|<![^<>]*>", re.DOTALL)
# Characters that render as nothing: zero-width space/joiners are kept only where they join emoji (ZWJ).
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u2060\ufeff\u00ad"))
_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
_SPACE_AROUND_NEWLINE = re.compile(r" ?\n ?")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """The review without markup, normalised (NFKC), with whitespace collapsed; '' when nothing is left."""
    text = _BLOCK_TAG.sub("\n", text)
    text = _OTHER_TAG.sub(" ", text)
    text = html.unescape(text)
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_INVISIBLE)
    text = "".join(_visible(char) for char in text)
    text = _HORIZONTAL_SPACE.sub(" ", text)
    text = _SPACE_AROUND_NEWLINE.sub("\n", text)
    text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()


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
