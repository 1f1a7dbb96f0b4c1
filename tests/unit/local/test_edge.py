"""The emulator plays what stands in front of the API as the template declares it: CloudFront's origin header
(from a generated secret) on the public URL only, and, with a local issuer, API Gateway's JWT authorizer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.edge import LocalJwtIssuer
from local.stack import LocalStack
from tests.unit.local.conftest import make_project, tiny_template

REQUIRES_JWT = {"Fn::If": ["RequiresJwt", [{"JwtAuthorizer": []}], {"Ref": "AWS::NoValue"}]}


def edge_template() -> dict[str, Any]:
    """The tiny template with a secret, a distribution that sends it, and one route behind the authorizer."""
    template = tiny_template()
    for name, default in [("AuthMode", "none"), ("JwtIssuer", ""), ("JwtAudience", "")]:
        template["Parameters"][name] = {"Type": "String", "Default": default}
    template["Conditions"]["RequiresJwt"] = {"Fn::Not": [{"Fn::Equals": [{"Ref": "AuthMode"}, "none"]}]}
    template["Resources"]["Worker"]["Properties"]["Events"]["Health"] = {
        "Type": "HttpApi",
        "Properties": {"Path": "/health", "Method": "GET"},
    }
    template["Resources"].update(
        {
            "OriginSecret": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {"GenerateSecretString": {"PasswordLength": 40, "ExcludePunctuation": True}},
            },
            "HttpApi": {
                "Type": "AWS::Serverless::HttpApi",
                "Properties": {
                    "DefinitionBody": {
                        "paths": {
                            "/health": {"get": {}},
                            "/things/{thing_id}": {"get": {"security": REQUIRES_JWT}},
                        }
                    }
                },
            },
            "Edge": {
                "Type": "AWS::CloudFront::Distribution",
                "Properties": {
                    "DistributionConfig": {
                        "Origins": [
                            {
                                "Id": "Api",
                                "DomainName": {
                                    "Fn::Sub": "${HttpApi}.execute-api.${AWS::Region}.amazonaws.com"
                                },
                                "OriginCustomHeaders": [
                                    {
                                        "HeaderName": "X-Origin-Verify",
                                        "HeaderValue": {
                                            "Fn::Sub": "{{resolve:secretsmanager:${OriginSecret}}}"
                                        },
                                    }
                                ],
                            }
                        ]
                    }
                },
            },
        }
    )
    return template


@pytest.fixture(scope="module")
def issuer() -> LocalJwtIssuer:
    return LocalJwtIssuer()


@pytest.fixture(scope="module")
def edge_stack(tmp_path_factory: pytest.TempPathFactory, issuer: LocalJwtIssuer) -> Iterator[LocalStack]:
    root = make_project(tmp_path_factory.mktemp("edge-project"))
    with LocalStack(
        template=edge_template(),
        project_root=root,
        stack_name="edge-local",
        state_dir=root / ".local",
        jwt_issuer=issuer,
        endpoint_handler=lambda body, content_type, accept: (body, content_type),
    ) as stack:
        yield stack


def _secret_value(stack: LocalStack) -> str:
    arn = stack.names.refs["OriginSecret"]
    return str(stack.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])


def _headers_seen(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    headers: dict[str, str] = json.loads(response.text)["event"]["headers"]
    return headers


def test_the_public_url_adds_the_generated_origin_secret_and_the_origin_url_does_not(
    edge_stack: LocalStack,
) -> None:
    assert edge_stack.info is not None
    secret = _secret_value(edge_stack)
    assert len(secret) == 40
    assert secret.isalnum()

    # When a caller goes through the public URL, pretending to know the header
    public = requests.get(
        f"{edge_stack.info.api_url}/health", headers={"X-Origin-Verify": "guessed"}, timeout=30
    )
    # Then the function sees CloudFront's value, not the caller's
    assert _headers_seen(public)["x-origin-verify"] == secret

    # When a caller goes straight to the origin
    direct = requests.get(f"{edge_stack.info.origin_url}/health", timeout=30)
    # Then nothing vouches for it
    assert "x-origin-verify" not in _headers_seen(direct)


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz"],
    ids=["missing", "empty", "garbage", "basic"],
)
def test_a_protected_route_without_a_valid_token_is_401_before_the_function_runs(
    edge_stack: LocalStack, authorization: str | None
) -> None:
    assert edge_stack.info is not None
    headers = {"Authorization": authorization} if authorization else {}

    response = requests.get(f"{edge_stack.info.api_url}/things/1", headers=headers, timeout=30)

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_tokens_of_another_key_audience_or_issuer_or_expired_are_refused(
    edge_stack: LocalStack, issuer: LocalJwtIssuer
) -> None:
    assert edge_stack.info is not None
    impostor = LocalJwtIssuer(issuer=issuer.issuer, audience=issuer.audience)  # same names, other key
    refused = [
        impostor.token(),
        issuer.token(aud="someone-else"),
        issuer.token(iss="https://elsewhere.invalid/"),
        issuer.token(lifetime_seconds=-60),
    ]
    for token in refused:
        response = requests.get(
            f"{edge_stack.info.api_url}/things/1", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert response.status_code == 401, token


def test_a_good_token_reaches_the_function_and_health_needs_none(
    edge_stack: LocalStack, issuer: LocalJwtIssuer
) -> None:
    assert edge_stack.info is not None
    token = issuer.token(subject="alice")

    with_token = requests.get(
        f"{edge_stack.info.api_url}/things/1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    health = requests.get(f"{edge_stack.info.api_url}/health", timeout=30)

    assert with_token.status_code == 200
    assert _headers_seen(with_token)["authorization"] == f"Bearer {token}"
    assert health.status_code == 200


def test_without_an_issuer_the_template_resolves_with_auth_off(edge_stack: LocalStack) -> None:
    # Given the same template without a local issuer (the default)
    stack = LocalStack(template=edge_template(), stack_name="edge-off", write_state=False)

    # Then AuthMode keeps its default, so no route is protected
    assert stack.names.parameters["AuthMode"] == "none"
    assert stack.resolver.condition("RequiresJwt", "test") is False
    # And with the issuer, the parameters are those of a stack deployed for it
    assert edge_stack.names.parameters["AuthMode"] == "oidc"
