"""OriginVerifier against Secrets Manager in moto: CloudFront's header accepted, anything else refused, and a
rotation that never refuses the value CloudFront still sends."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from review_pipeline.origin import SECRET_CACHE_SECONDS, OriginVerifier
from tests.conftest import REGION


class CountingClient:
    """The real moto client, counting the GetSecretValue calls that reach it."""

    def __init__(self) -> None:
        self.inner = boto3.client("secretsmanager", region_name=REGION)
        self.calls = 0

    def get_secret_value(self, **request: Any) -> Any:
        self.calls += 1
        return self.inner.get_secret_value(**request)


@pytest.fixture
def secrets(aws: None) -> Any:
    return boto3.client("secretsmanager", region_name=REGION)


@pytest.fixture
def secret_arn(secrets: Any) -> str:
    return str(secrets.create_secret(Name="origin-verify", SecretString="first-value-0123456789")["ARN"])


def test_only_the_secrets_value_is_accepted(secret_arn: str) -> None:
    verifier = OriginVerifier.from_secret(secret_arn)

    assert verifier.accepts("first-value-0123456789")
    for refused in [None, "", "first-value", "first-value-01234567890", "FIRST-VALUE-0123456789"]:
        assert not verifier.accepts(refused), refused


def test_after_a_rotation_both_the_new_and_the_old_value_are_accepted(secrets: Any, secret_arn: str) -> None:
    # Given a rotation: a new value is put, the old one becomes AWSPREVIOUS
    secrets.put_secret_value(SecretId=secret_arn, SecretString="second-value-9876543210")

    # When a function starts after it (or its cache has expired)
    verifier = OriginVerifier.from_secret(secret_arn)

    # Then CloudFront is let through whether it has been redeployed yet or not
    assert verifier.accepts("second-value-9876543210")
    assert verifier.accepts("first-value-0123456789")
    assert not verifier.accepts("third-value")


def test_lookups_are_cached_so_requests_do_not_each_call_secrets_manager(secret_arn: str) -> None:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    # Given readers whose calls to Secrets Manager are counted, and a clock we move
    current, previous = SecretsProvider(), SecretsProvider()
    counters = [CountingClient(), CountingClient()]
    current.client, previous.client = counters
    now = [1000.0]
    verifier = OriginVerifier(secret_arn, current, previous, clock=lambda: now[0])

    # When many requests come, right and wrong (a secret never rotated has no previous value)
    for _ in range(20):
        assert verifier.accepts("first-value-0123456789")
        assert not verifier.accepts("a direct caller's guess")

    # Then the current value was fetched once, and the missing previous one asked for once
    assert [counter.calls for counter in counters] == [1, 1]
    # And the absence of a previous value is asked again once the cache time has passed
    now[0] += SECRET_CACHE_SECONDS + 1
    assert not verifier.accepts("a direct caller's guess")
    assert counters[1].calls == 2
