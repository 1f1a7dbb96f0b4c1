"""Origin verification: the API answers only requests that came through our CloudFront distribution.

CloudFront adds `X-Origin-Verify: <secret>` to every request it forwards (template.yaml, ApiDistribution);
the value is a Secrets Manager secret the stack generates. A request that reaches the execute-api URL
directly lacks it and is refused with 403 before any route runs.

The secret is read through Powertools' parameters utility and cached for a few minutes. Both the current
value and the previous one (AWSPREVIOUS) are accepted, so rotating it (put a new value, then redeploy
CloudFront; see docs/deploy.md) never refuses CloudFront's requests in between. Comparisons are constant-time.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Any, Protocol

from botocore.exceptions import ClientError

ORIGIN_VERIFY_HEADER = "x-origin-verify"
SECRET_CACHE_SECONDS = 300
_NO_PREVIOUS_VERSION = {"ResourceNotFoundException"}


class SecretReader(Protocol):
    """What OriginVerifier needs of Powertools' SecretsProvider."""

    def get(self, name: str, max_age: int | None = None, **sdk_options: Any) -> Any: ...


class OriginVerifier:
    """Accepts a request when its X-Origin-Verify header is the secret's current or previous value."""

    def __init__(
        self,
        secret_id: str,
        current: SecretReader,
        previous: SecretReader,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Two readers, because Powertools' cache key is the secret's name alone: one would mix the two stages.
        self._secret_id = secret_id
        self._current = current
        self._previous = previous
        self._clock = clock
        self._no_previous_until = 0.0  # Powertools caches values, not "there is none": we cache that here

    @classmethod
    def from_secret(cls, secret_id: str) -> OriginVerifier:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        return cls(secret_id, SecretsProvider(), SecretsProvider())

    def accepts(self, header_value: str | None) -> bool:
        if not header_value:
            return False
        current = str(self._current.get(self._secret_id, max_age=SECRET_CACHE_SECONDS))
        if hmac.compare_digest(header_value.encode(), current.encode()):
            return True
        # Only a mismatch looks further: during a rotation, CloudFront still sends the old value.
        previous = self._previous_value()
        return previous is not None and hmac.compare_digest(header_value.encode(), previous.encode())

    def _previous_value(self) -> str | None:
        if self._clock() < self._no_previous_until:
            return None
        try:
            value = self._previous.get(
                self._secret_id, max_age=SECRET_CACHE_SECONDS, VersionStage="AWSPREVIOUS"
            )
        except Exception as error:  # Powertools wraps the SDK's error in GetParameterError
            cause = error.__cause__ or error.__context__
            if not (
                isinstance(cause, ClientError) and cause.response["Error"]["Code"] in _NO_PREVIOUS_VERSION
            ):
                raise
            # A secret never rotated has no AWSPREVIOUS version: do not ask again on every request.
            self._no_previous_until = self._clock() + SECRET_CACHE_SECONDS
            return None
        return str(value)
