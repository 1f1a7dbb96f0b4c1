"""What stands in front of the HTTP API, played locally from the template: CloudFront's origin headers, the
secrets they come from, and API Gateway's optional JWT authorizer.

- `AWS::SecretsManager::Secret` resources with GenerateSecretString are created in the emulator's moto server
  with a generated value, so `!Ref` gives the function a real ARN to read the secret from.
- The CloudFront distribution's OriginCustomHeaders (X-Origin-Verify) are resolved, Secrets Manager dynamic
  references included; the emulator's public URL adds them to every request as CloudFront does, its origin
  URL (the execute-api stand-in) does not.
- With a `LocalJwtIssuer` the template is resolved as a deploy with AuthMode=oidc would be: the routes whose
  OpenAPI operation carries `security` need a token that issuer signed (RS256, like the JWKS keys API Gateway
  fetches), for its audience, not expired; anything else is answered 401 as API Gateway does.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from local.function_host import Invocation
from local.functions import http_routes
from local.http_api import HttpApiServer
from local.resolve import LocalNames, Resolver

SECRETS_MANAGER_RESOURCE = "AWS::SecretsManager::Secret"
DISTRIBUTION = "AWS::CloudFront::Distribution"


def _generated_secret(spec: dict[str, Any], resolver: Resolver, where: str) -> str:
    length = int(resolver.resolve(spec.get("PasswordLength", 32), where))
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def create_secrets(
    secretsmanager: Any, active: dict[str, dict[str, Any]], names: LocalNames, resolver: Resolver
) -> None:
    """Create each secret of the template in moto; `!Ref` on it is then its ARN, as in CloudFormation."""
    for logical_id, resource in active.items():
        if resource["Type"] != SECRETS_MANAGER_RESOURCE:
            continue
        properties = resource.get("Properties", {})
        if "SecretString" in properties:
            value = resolver.resolve_str(properties["SecretString"], logical_id)
        else:
            value = _generated_secret(properties.get("GenerateSecretString", {}), resolver, logical_id)
        created = secretsmanager.create_secret(Name=f"{names.stack_name}-{logical_id}", SecretString=value)
        names.refs[logical_id] = created["ARN"]
        # Dynamic references to it ({{resolve:secretsmanager:...}}) resolve to this same value (Resolver).
        names.secrets[created["ARN"]] = value


def origin_headers(
    active: dict[str, dict[str, Any]], resolver: Resolver, api_id: str = "HttpApi"
) -> dict[str, str]:
    """Custom headers every CloudFront origin pointing at the HTTP API adds to the requests it forwards."""
    headers: dict[str, str] = {}
    for logical_id, resource in active.items():
        if resource["Type"] != DISTRIBUTION:
            continue
        config = resource["Properties"]["DistributionConfig"]
        for index, origin in enumerate(config.get("Origins", [])):
            if f"${{{api_id}}}" not in str(origin.get("DomainName", "")):
                continue
            for header in origin.get("OriginCustomHeaders", []):
                where = f"{logical_id}.Origins[{index}].OriginCustomHeaders"
                # Secrets Manager dynamic references included: the values create_secrets put in moto.
                headers[str(header["HeaderName"])] = resolver.resolve_str(header["HeaderValue"], where)
    return headers


def routes_requiring_jwt(template: dict[str, Any], resolver: Resolver, api_id: str = "HttpApi") -> set[str]:
    """Route keys ("GET /jobs") whose OpenAPI operation in the HTTP API's DefinitionBody has `security`."""
    body = template["Resources"][api_id].get("Properties", {}).get("DefinitionBody", {})
    protected = set()
    for path, methods in body.get("paths", {}).items():
        for method, operation in methods.items():
            security = resolver.resolve(operation.get("security", []), f"{api_id}.paths.{path}.{method}")
            if security:  # AWS::NoValue resolves to "" locally
                protected.add(f"{method.upper()} {path}")
    return protected


def http_api_servers(
    template: dict[str, Any],
    active: dict[str, dict[str, Any]],
    resolver: Resolver,
    invoke: Callable[[str, dict[str, Any]], Invocation],
    public_port: int = 0,
    jwt_issuer: LocalJwtIssuer | None = None,
) -> tuple[HttpApiServer, HttpApiServer]:
    """Started: the public URL (adds CloudFront's origin headers) and the bare origin (adds nothing)."""
    routes = http_routes(template)
    auth: dict[str, Any] = {}
    if jwt_issuer is not None:
        auth = {
            "authorizer": jwt_issuer.allows,
            "protected": frozenset(routes_requiring_jwt(template, resolver)),
        }
    headers = origin_headers(active, resolver)
    # Only the public server plays CloudFront, so only it has the dashboard's `/dashboard/*` behaviour.
    public = HttpApiServer(
        routes, invoke, port=public_port, origin_headers=headers, serve_dashboard=True, **auth
    )
    origin = HttpApiServer(routes, invoke, **auth)
    public.start()
    origin.start()
    return public, origin


@dataclass
class LocalJwtIssuer:
    """An OIDC issuer of the emulator's own: an RSA key that signs tokens, and API Gateway's checks."""

    issuer: str = "https://issuer.local.invalid/"
    audience: str = "review-sentiment-local"
    _key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), repr=False
    )

    @property
    def parameter_overrides(self) -> dict[str, str]:
        """The template's parameters as a stack deployed with this issuer would have them."""
        return {"AuthMode": "oidc", "JwtIssuer": self.issuer, "JwtAudience": self.audience}

    def token(self, subject: str = "local-user", *, lifetime_seconds: int = 300, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "exp": now + lifetime_seconds,
        }
        payload.update(claims)
        return jwt.encode(payload, self._key, algorithm="RS256")

    def allows(self, authorization: str | None) -> bool:
        """API Gateway's JWT authorizer: the token, optionally after "Bearer ", signed by the issuer's key,
        with its iss, an aud (or client_id) of the configured audience, and exp in the future."""
        if not authorization:
            return False
        token = authorization.removeprefix("Bearer ").strip()
        try:
            claims = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"require": ["exp", "iss"], "verify_aud": False},
            )
        except jwt.PyJWTError:
            return False
        audiences = claims.get("aud", [])
        audiences = [audiences] if isinstance(audiences, str) else list(audiences)
        return self.audience in audiences or claims.get("client_id") == self.audience
