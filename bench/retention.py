"""How long the stack keeps what it stores, read from template.yaml, so the cost benchmark prices storage for
the days actually kept instead of assuming every byte stays a month.

S3: the bucket's enabled lifecycle rules with an `ExpirationInDays` whose prefix matches the key. S3 rounds
each expiration to the next midnight UTC (up to a day more), and honours the shortest of overlapping
expirations (https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-conflicts.html). In a versioned
bucket the expiration only makes the object noncurrent: the version is billed until a matching
`NoncurrentVersionExpiration` removes it, so both periods add up.

DynamoDB: `RESULTS_TTL_DAYS` in the functions' environment (absent or 0: results are kept). TTL deletes
expired items within a few days, and storage is billed until then (TTL_DELETION_DAYS).

A month of storage is MONTH_DAYS; what is kept longer (or for ever) is priced as its first month, as before.
No I/O here: tests/unit/bench/test_retention.py checks the arithmetic on given templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MONTH_DAYS = 30
MIDNIGHT_ROUNDING_DAYS = 1  # S3 lifecycle actions run at the midnight UTC after the period ends
TTL_DELETION_DAYS = 2  # DynamoDB TTL deletes expired items "within a few days"; typically about 2


@dataclass(frozen=True)
class Retention:
    bucket_rules: list[dict[str, Any]]
    versioned: bool
    results_ttl_days: int  # 0: results are kept

    def s3_days(self, key: str) -> float | None:
        """Days an object stored at `key` is billed; None when no lifecycle rule expires it."""
        matching = [rule for rule in self.bucket_rules if key.startswith(_prefix(rule))]
        expirations = [int(rule["ExpirationInDays"]) for rule in matching if "ExpirationInDays" in rule]
        if not expirations:
            return None
        days = min(expirations) + MIDNIGHT_ROUNDING_DAYS
        if not self.versioned:
            return days
        noncurrent = [
            int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
            for rule in matching
            if "NoncurrentVersionExpiration" in rule
        ]
        if not noncurrent:
            return None  # the expired version stays as a noncurrent version for ever
        return days + min(noncurrent) + MIDNIGHT_ROUNDING_DAYS

    def dynamodb_days(self) -> float | None:
        """Days a result item is billed; None when results are kept."""
        return self.results_ttl_days + TTL_DELETION_DAYS if self.results_ttl_days else None


def months_billed(days: float | None) -> float:
    """The share of the first month a store is billed for: days kept, at most one month."""
    return 1.0 if days is None else min(days, MONTH_DAYS) / MONTH_DAYS


def _prefix(rule: dict[str, Any]) -> str:
    return str(rule.get("Prefix") or rule.get("Filter", {}).get("Prefix") or "")


def _resolve(value: Any, parameters: dict[str, Any]) -> Any:
    """A property as deployed with the parameters' defaults: `{"Ref": name}` becomes its Default."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in parameters:
            return parameters[value["Ref"]]["Default"]
        return {key: _resolve(item, parameters) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, parameters) for item in value]
    return value


def template_retention(document: dict[str, Any], bucket: str = "ReviewsBucket") -> Retention:
    """The retention the template deploys with its parameter defaults (the prod stage's own TTL aside)."""
    parameters = document.get("Parameters", {})
    properties = _resolve(document["Resources"][bucket]["Properties"], parameters)
    rules = [
        rule
        for rule in properties.get("LifecycleConfiguration", {}).get("Rules", [])
        if rule.get("Status") == "Enabled"
    ]
    versioned = properties.get("VersioningConfiguration", {}).get("Status") == "Enabled"
    function_globals = document.get("Globals", {}).get("Function", {})
    environment = _resolve(function_globals.get("Environment", {}).get("Variables", {}), parameters)
    ttl = environment.get("RESULTS_TTL_DAYS", 0)
    return Retention(bucket_rules=rules, versioned=versioned, results_ttl_days=int(ttl) if ttl else 0)
