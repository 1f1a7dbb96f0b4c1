"""Storage priced for the days kept: lifecycle rules and results TTL read from a template."""

from __future__ import annotations

from typing import Any

import pytest

from bench.cost import storage_lines
from bench.retention import months_billed, template_retention
from local.template import load_template


def _template(rules: list[dict[str, Any]], versioned: bool = True, ttl: Any = None) -> dict[str, Any]:
    variables = {} if ttl is None else {"RESULTS_TTL_DAYS": ttl}
    return {
        "Parameters": {"ChunkDays": {"Type": "Number", "Default": 7}},
        "Globals": {"Function": {"Environment": {"Variables": variables}}},
        "Resources": {
            "ReviewsBucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "VersioningConfiguration": {"Status": "Enabled" if versioned else "Suspended"},
                    "LifecycleConfiguration": {"Rules": rules},
                },
            }
        },
    }


OLD_VERSIONS = {"Id": "Old", "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}
CHUNKS = {
    "Id": "Chunks",
    "Status": "Enabled",
    "Prefix": "processed/",
    "ExpirationInDays": {"Ref": "ChunkDays"},
    "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
}


def test_given_a_prefix_rule_with_a_parameter_when_read_then_expiry_and_noncurrent_days_add_up() -> None:
    retention = template_retention(_template([OLD_VERSIONS, CHUNKS]))

    assert retention.s3_days("processed/job/chunk-00000.jsonl") == 7 + 1 + 1 + 1
    assert retention.s3_days("incoming/reviews.jsonl") is None  # nothing expires the upload
    assert retention.dynamodb_days() is None


def test_given_a_versioned_bucket_without_a_short_noncurrent_rule_then_the_shortest_one_applies() -> None:
    chunks = {key: value for key, value in CHUNKS.items() if key != "NoncurrentVersionExpiration"}

    assert template_retention(_template([OLD_VERSIONS, chunks])).s3_days("processed/x") == 7 + 1 + 30 + 1
    assert template_retention(_template([chunks])).s3_days("processed/x") is None  # noncurrent kept for ever
    assert template_retention(_template([chunks], versioned=False)).s3_days("processed/x") == 8


def test_given_a_disabled_rule_when_read_then_it_expires_nothing() -> None:
    retention = template_retention(_template([OLD_VERSIONS, {**CHUNKS, "Status": "Disabled"}]))

    assert retention.s3_days("processed/x") is None


def test_given_a_results_ttl_when_read_then_results_are_billed_until_ttl_deletes_them() -> None:
    assert template_retention(_template([], ttl="10")).dynamodb_days() == 12
    assert template_retention(_template([], ttl="0")).dynamodb_days() is None


@pytest.mark.parametrize(("days", "share"), [(None, 1.0), (10, 1 / 3), (30, 1.0), (45, 1.0)])
def test_given_days_kept_when_billed_then_the_share_of_the_first_month(
    days: float | None, share: float
) -> None:
    assert months_billed(days) == pytest.approx(share)


def test_given_stored_bytes_when_priced_then_each_store_for_its_share_of_the_month() -> None:
    retention = template_retention(_template([OLD_VERSIONS, CHUNKS]))
    stored = {"dynamodb": 2_000_000, "incoming/": 3_000_000, "processed/": 3_000_000}

    lines = {line.item: line for line in storage_lines(stored, scale=500, retention=retention)}

    assert lines["storage, table (first month)"].quantity == pytest.approx(1.0)  # GB-months
    assert lines["storage, table (first month)"].dollars == pytest.approx(0.25)
    assert lines["storage, incoming/ (first month)"].dollars == pytest.approx(1.5 * 0.023)
    assert lines["storage, processed/ (10 of 30 days kept)"].quantity == pytest.approx(1.5 / 3)


def test_given_the_shipped_template_then_processed_chunks_expire_and_uploads_and_exports_stay() -> None:
    document = load_template()
    retention = template_retention(document)
    days = int(document["Parameters"]["ProcessedChunkExpirationDays"]["Default"])

    assert retention.s3_days("processed/job/chunk-00000.jsonl") == days + 1 + 1 + 1
    assert retention.s3_days("incoming/reviews.jsonl") is None
    assert retention.s3_days("results/job/export.csv") is None
