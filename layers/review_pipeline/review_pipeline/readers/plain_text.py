"""A .txt file is one review; its name and folders may say more, the way the IMDb dataset (aclImdb) names
them.

`<id>_<rating>.txt` gives the review's id and rating (1-10; aclImdb writes 0 for its unrated `unsup` reviews,
read as no rating); any other name is the id. Inside an archive the id is the member's path without `.txt` and
the rating, e.g. `aclImdb/train/pos/0`, so reviews with the same file name in different folders stay distinct.
A folder named `pos` or `neg` on the path gives the label (1 or 0); `unsup` and every other folder give none.
"""

from __future__ import annotations

import io
import re

from review_pipeline.readers.context import ReadContext, Rows
from review_pipeline.readers.errors import ParsedRow, RowError

_ID_AND_RATING = re.compile(r"^(?P<id>.+)_(?P<rating>\d{1,2})$")
_LABEL_FOLDERS = {"pos": 1, "neg": 0}
_EXCERPT_BYTES = 300


def fields_from_path(path: str, in_archive: bool) -> dict[str, object]:
    """id, rating and label as the file's path states them (see the module docstring)."""
    folders, _, name = path.rpartition("/")
    stem = name.removesuffix(".gz").removesuffix(".GZ")
    stem = stem[: -len(".txt")] if stem.lower().endswith(".txt") else stem
    fields: dict[str, object] = {}
    matched = _ID_AND_RATING.match(stem)
    if matched:
        stem = matched["id"]
        rating = int(matched["rating"])
        if 1 <= rating <= 10:
            fields["rating"] = rating
    fields["id"] = f"{folders}/{stem}" if in_archive and folders else stem
    for folder in reversed(folders.split("/")):
        if folder.lower() in _LABEL_FOLDERS:
            fields["label"] = _LABEL_FOLDERS[folder.lower()]
            break
    return fields


def read_text_file(text: io.BufferedIOBase, context: ReadContext) -> Rows:
    """The whole file as one review (row 1); over `max_line_bytes` it is rejected without being held."""
    limit = context.max_line_bytes
    data = text.read(limit + 1)
    fields = fields_from_path(context.path, in_archive=context.in_archive)
    if len(data) > limit:
        size = len(data)
        while piece := text.read(1 << 16):
            size += len(piece)
        yield RowError(
            1,
            f"the review is {size:,} bytes, longer than the {limit:,} bytes a review may have; shorten it",
            data[:_EXCERPT_BYTES].decode("utf-8", errors="replace"),
        )
        return
    review = data.decode("utf-8")
    fields["text"] = review
    yield ParsedRow(1, fields, review[:_EXCERPT_BYTES])
