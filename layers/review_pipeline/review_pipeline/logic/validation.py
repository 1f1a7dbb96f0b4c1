"""From a parsed row to a ReviewRecord, or to a rejection whose reason a user can act on.

Order of checks: the row's fields (pydantic), then its id (unique within the file), then its text (cleaned; a
text longer than MAX_TEXT_CHARS is kept and cut for the model, see cleaning.truncate_for_model). A row's id is
its `id` when given, else `row-<n>`; ids are claimed only by accepted rows, so a rejected row never blocks a
corrected copy of itself further down the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from review_pipeline.cleaning import clean_text, truncate_for_model
from review_pipeline.logic.taken_ids import TakenIds
from review_pipeline.models import IncomingReview, ReviewRecord
from review_pipeline.readers import ParsedRow, RowError

if TYPE_CHECKING:
    from review_pipeline.rejections import RejectedRowsFile

_SHOWN_INPUT_CHARS = 60
_LABEL_WORDS = "0, 1, positive, negative, pos or neg"


class RowValidator:
    """Validates the rows of one file in order, remembering which ids are taken (in `taken_ids`, which the
    caller closes; by default a TakenIds of its own, whose database, if any, goes with the validator)."""

    def __init__(self, max_text_chars: int, taken_ids: TakenIds | None = None) -> None:
        self._max_text_chars = max_text_chars
        self._taken_ids = taken_ids if taken_ids is not None else TakenIds()

    def remember(self, rows_by_id: Mapping[str, int]) -> None:
        """Ids taken by rows checked before (by an earlier invocation reading the same piece)."""
        self._taken_ids.update(rows_by_id)

    def check(self, parsed: ParsedRow) -> ReviewRecord | RowError:
        try:
            review = IncomingReview.from_row(parsed.fields)
        except ValidationError as error:
            return _rejected(parsed, describe_validation_error(error), _rejection_kind(error))
        review_id = review.id if review.id is not None else f"row-{parsed.row}"
        first_row = self._taken_ids.first_row(review_id)
        if first_row is not None:
            reason = f"duplicate id '{review_id}' (first seen on row {first_row})"
            return _rejected(parsed, reason, "duplicate_id")
        text = clean_text(review.text)
        if not text:
            return _rejected(parsed, "text is empty after removing HTML and whitespace", "empty_text")
        self._taken_ids.add(review_id, parsed.row)
        model_text = truncate_for_model(text, self._max_text_chars)
        return ReviewRecord(
            review_id=review_id,
            row=parsed.row,
            text=model_text,
            movie_id=review.movie_id,
            rating=review.rating,
            given_label=review.label,
            truncated=model_text is not text,
            original_chars=len(text) if model_text is not text else None,
        )


def _rejection_kind(error: ValidationError) -> str:
    """empty_text when the only problem is a text with nothing in it, else invalid_field."""
    details = error.errors(include_url=False)
    empty = all(d["type"] == "string_too_short" and tuple(d["loc"]) == ("text",) for d in details)
    return "empty_text" if empty else "invalid_field"


def _rejected(parsed: ParsedRow, reason: str, kind: str) -> RowError:
    """The row rejected with its reason; a row from an archive member names the member first."""
    return RowError(parsed.row, f"{parsed.origin}: {reason}" if parsed.origin else reason, parsed.raw, kind)


def describe_validation_error(error: ValidationError) -> str:
    """One sentence per problem, 'field: what is wrong (got value)', joined with '; '."""
    return "; ".join(_describe(detail) for detail in error.errors(include_url=False))


# Messages by pydantic error type; {field}, {got} and the error's context values fill them in.
_MESSAGES = {
    "int_parsing": "{field}: must be a whole number{got}",
    "int_from_float": "{field}: must be a whole number{got}",
    "int_type": "{field}: must be a whole number{got}",
    "string_type": "{field}: must be text{got}",
    "string_too_long": "{field}: must be at most {max_length} characters (got {length:,})",
    "value_error": "{field}: {error}{got}",
}
_BOUND_ERRORS = {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}


def _describe(detail: Any) -> str:
    field = ".".join(str(part) for part in detail["loc"]) or "row"
    kind = detail["type"]
    value = detail.get("input")
    got = f" (got {_shown(value)})"
    if field == "text" and kind == "missing":
        return "text: missing; every row needs a 'text' (or 'review') value"
    if field == "text" and kind == "string_too_short":
        return "text is empty after removing HTML and whitespace"
    if field == "label" and kind == "literal_error":
        return f"label: must be one of {_LABEL_WORDS}{got}"
    if kind in _BOUND_ERRORS:
        return f"{field}: must be {_range(field, kind, detail.get('ctx') or {})}{got}"
    template = _MESSAGES.get(kind)
    if template is None:
        message = detail["msg"]
        return f"{field}: {message[:1].lower()}{message[1:]}{got}"
    context = {**(detail.get("ctx") or {}), "field": field, "got": got, "length": len(str(value))}
    return template.format(**context)


def _range(field: str, kind: str, context: dict[str, Any]) -> str:
    low, high = _bounds(field)
    if low is not None and high is not None:
        return f"between {low} and {high}"
    bound = next(iter(context.values()), "?")
    return f"at least {bound}" if kind.startswith("greater") else f"at most {bound}"


def _bounds(field: str) -> tuple[Any, Any]:
    """The ge/le bounds IncomingReview declares for a field, to state the whole allowed range at once."""
    info = IncomingReview.model_fields.get(field)
    low = high = None
    for constraint in info.metadata if info else []:
        low = getattr(constraint, "ge", low)
        high = getattr(constraint, "le", high)
    return low, high


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    shown = repr(value) if isinstance(value, str) else str(value)
    return shown if len(shown) <= _SHOWN_INPUT_CHARS else shown[: _SHOWN_INPUT_CHARS - 3] + "..."


def accepted_reviews(
    rows: Iterable[ParsedRow | RowError], validator: RowValidator, rejections: RejectedRowsFile
) -> Iterator[ReviewRecord]:
    """The rows that became reviews; every other row goes to `rejections` with its reason."""
    for row in rows:
        checked = validator.check(row) if isinstance(row, ParsedRow) else row
        if isinstance(checked, RowError):
            rejections.add(checked.row, checked.reason, checked.raw, checked.kind)
        else:
            yield checked
