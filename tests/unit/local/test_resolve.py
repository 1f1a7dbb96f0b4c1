"""The emulator's template resolver: dynamic references to the stack's generated secrets."""

from __future__ import annotations

from typing import Any

import pytest

from local.resolve import LocalNames, Resolver, UnresolvedReferenceError

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:stack-KeySecret"
TEMPLATE: dict[str, Any] = {"Resources": {"KeySecret": {"Type": "AWS::SecretsManager::Secret"}}}


def _resolver() -> Resolver:
    names = LocalNames("stack", "us-east-1", {}, refs={"KeySecret": SECRET_ARN})
    return Resolver(TEMPLATE, names)


def test_given_a_dynamic_reference_to_a_stack_secret_when_resolved_then_one_generated_value_everywhere() -> (
    None
):
    resolver = _resolver()
    reference = {"Fn::Sub": "{{resolve:secretsmanager:${KeySecret}:SecretString}}"}

    first = resolver.resolve_str(reference, "QueryApiFunction.Environment.KEY")
    again = resolver.resolve_str(reference, "OtherFunction.Environment.KEY")

    assert first == again
    assert len(first) >= 48
    assert "resolve:" not in first


def test_given_a_dynamic_reference_to_an_unknown_secret_when_resolved_then_it_is_refused() -> None:
    with pytest.raises(UnresolvedReferenceError, match="no such secret"):
        _resolver().resolve_str("{{resolve:secretsmanager:someone-elses-secret}}", "somewhere")
