"""Opaque cursors: DynamoDB's LastEvaluatedKey, as URL-safe base64 JSON."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from pydantic import BaseModel


class InvalidCursorError(ValueError):
    """The cursor was not one this API handed out."""


class Page[T](BaseModel):
    items: list[T]
    cursor: str | None = None


def encode_cursor(last_evaluated_key: dict[str, Any] | None) -> str | None:
    if not last_evaluated_key:
        return None
    raw = json.dumps(last_evaluated_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, allowed_keys: set[str]) -> dict[str, Any] | None:
    """The ExclusiveStartKey for a cursor; rejects anything that is not a key of the expected shape."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise InvalidCursorError("cursor is not valid: pass back the cursor of the previous page") from error
    if (
        not isinstance(key, dict)
        or not set(key) <= allowed_keys
        or not all(isinstance(v, str) for v in key.values())
    ):
        raise InvalidCursorError("cursor is not valid: pass back the cursor of the previous page")
    return key
