"""Opaque cursors: DynamoDB's LastEvaluatedKey, signed and bound to the listing that handed it out.

A cursor is `<payload>.<tag>`: the payload is the key as URL-safe base64 JSON, the tag an HMAC-SHA256 over the
listing's identity (which list, of which job, with which filter) and the payload, keyed by the deployment's
CURSOR_SIGNING_KEY. A cursor that was altered, forged, or handed out by another listing or filter fails the
tag check, so the API answers 400 before DynamoDB ever sees the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from typing import Any

from pydantic import BaseModel

_INVALID = "cursor is not valid: pass back the cursor of the previous page of the same listing"


class InvalidCursorError(ValueError):
    """The cursor was not one this listing handed out."""


class Page[T](BaseModel):
    items: list[T]
    cursor: str | None = None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    """Signs and checks cursors with one key (the same in every instance of a deployment)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the cursor signing key must have at least 32 bytes")
        self._key = key

    @classmethod
    def ephemeral(cls) -> CursorCodec:
        """A codec with a random key: its cursors are good in this process only (tests, internal paging)."""
        return cls(secrets.token_bytes(32))

    @staticmethod
    def listing(kind: str, *selectors: str | None) -> str:
        """The identity of one listing: what is listed and every filter that shapes it."""
        return json.dumps([kind, *selectors])

    def _tag(self, listing: str, payload: str) -> str:
        message = f"{listing}\n{payload}".encode()
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest())

    def encode(self, last_evaluated_key: dict[str, Any] | None, listing: str) -> str | None:
        """The cursor for the page after `last_evaluated_key` of `listing`, or None at the end."""
        if not last_evaluated_key:
            return None
        payload = _b64(json.dumps(last_evaluated_key, separators=(",", ":"), sort_keys=True).encode())
        return f"{payload}.{self._tag(listing, payload)}"

    def decode(self, cursor: str | None, listing: str, allowed_keys: set[str]) -> dict[str, Any] | None:
        """The ExclusiveStartKey of a cursor this listing handed out; InvalidCursorError for anything else."""
        if not cursor:
            return None
        payload, _, tag = cursor.partition(".")
        if not tag or not hmac.compare_digest(tag, self._tag(listing, payload)):
            raise InvalidCursorError(_INVALID)
        try:
            key = json.loads(_unb64(payload))
        except (binascii.Error, ValueError) as error:
            raise InvalidCursorError(_INVALID) from error
        if (
            not isinstance(key, dict)
            or not set(key) <= allowed_keys
            or not all(isinstance(v, str) for v in key.values())
        ):
            raise InvalidCursorError(_INVALID)
        return key
