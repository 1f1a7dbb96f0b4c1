"""Cleaning: what the model sees is the review's words, not its markup."""

from __future__ import annotations

import pytest

from review_pipeline.cleaning import clean_text


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        # IMDb paragraphs: <br /><br /> becomes a paragraph break, not glued words
        ("Great film.<br /><br />Would watch again.", "Great film.\n\nWould watch again."),
        ("one<br>two<BR/>three", "one\ntwo\nthree"),
        # inline tags become spaces so words stay apart
        ("<i>Superb</i>acting and <b>plot</b>.", "Superb acting and plot ."),
        ("<!-- hidden -->Visible", "Visible"),
        # entities are unescaped after tags are removed: escaped markup stays as text
        ("Tom &amp; Jerry &#39;rocks&#39; &quot;ok&quot;", "Tom & Jerry 'rocks' \"ok\""),
        ("&lt;b&gt;not a tag&lt;/b&gt;", "<b>not a tag</b>"),
        # comparisons are not tags
        ("3 < 5 and 7 > 2", "3 < 5 and 7 > 2"),
        # NFKC: full-width letters and ligatures fold to their plain form
        ("ｆｉｎｅ ﬁlm", "fine film"),
        # control and zero-width characters disappear; tabs are spaces
        ("bad\x00\x07 byte\u200bs\tand\ttabs", "bad bytes and tabs"),
        # whitespace runs collapse; at most one blank line survives
        ("  a   b \r\n\r\n\r\n\r\n c  ", "a b\n\nc"),
        # line/paragraph separators are newlines
        ("a\u2028b\u2029c", "a\nb\nc"),
        # emoji sequences joined by ZWJ are kept whole
        ("family 👨\u200d👩\u200d👧", "family 👨\u200d👩\u200d👧"),
    ],
)
def test_clean_text(raw: str, cleaned: str) -> None:
    assert clean_text(raw) == cleaned


@pytest.mark.parametrize("raw", ["", "   ", "<br /><br />", "<p> </p>&nbsp;", "\u200b\u00ad"])
def test_markup_or_whitespace_only_cleans_to_empty(raw: str) -> None:
    assert clean_text(raw) == ""
