"""The cost benchmark's arithmetic: given quantities, the dollars (bench/pricing.py, bench/aws_meter.py)."""

from __future__ import annotations

from typing import Any

import pytest

from bench import pricing
from bench.aws_meter import item_size, read_units, write_units
from bench.pricing import Line


def test_given_a_million_arm64_gb_seconds_when_priced_then_list_price_per_gb_second() -> None:
    line = Line("Lambda", "compute", 1_000_000, "lambda_arm64_gb_second")

    assert line.dollars == pytest.approx(13.3334)


def test_given_two_million_write_units_and_a_million_reads_when_totalled_then_dollars_add_up() -> None:
    lines = [
        Line("DynamoDB", "writes", 2_000_000, "dynamodb_write_unit"),
        Line("DynamoDB", "reads", 1_000_000, "dynamodb_read_unit"),
        Line("S3", "puts", 2_000, "s3_put_request"),
    ]

    assert pricing.total(lines) == pytest.approx(1.25 + 0.125 + 0.01)


def test_given_cpu_time_below_one_vcpu_when_billed_then_duration_grows_by_the_cpu_share() -> None:
    # 512 MB has 512/1769 of a vCPU: 1 CPU-second takes 1769/512 s, plus 0.2 s of waiting.
    seconds = pricing.lambda_billed_seconds(cpu_seconds=1.0, wait_seconds=0.2, memory_mb=512)

    assert seconds == pytest.approx(1769 / 512 + 0.2)
    assert pricing.gb_seconds(seconds, 512) == pytest.approx(seconds / 2)
    assert pricing.lambda_billed_seconds(1.0, 0.0, 3008) == pytest.approx(1.0)  # a full vCPU and more


def test_given_texts_when_comprehend_units_counted_then_100_characters_a_unit_and_3_at_least() -> None:
    assert pricing.comprehend_units([1]) == 3
    assert pricing.comprehend_units([300, 301, 1325]) == 3 + 4 + 14
    one_review = Line("Comprehend", "1,325 characters", pricing.comprehend_units([1325]), "comprehend_unit")
    assert one_review.dollars * 1_000_000 == pytest.approx(1400.0)


def test_given_sqs_payloads_when_counted_then_each_64_kb_chunk_is_a_request() -> None:
    assert pricing.sqs_requests(10) == 1
    assert pricing.sqs_requests(64 * 1024) == 1
    assert pricing.sqs_requests(64 * 1024 + 1) == 2


def test_given_a_typed_item_when_sized_then_names_and_values_count_as_dynamodb_does() -> None:
    item: dict[str, dict[str, Any]] = {
        "pk": {"S": "JOB#a"},  # 2 + 5
        "row": {"N": "12345"},  # 3 + (3 digits pairs + 1) = 3 + 4
        "ok": {"BOOL": True},  # 2 + 1
        "counts": {"M": {"n": {"N": "7"}}},  # 6 + 3 + (1 + 1 + 2)
    }

    assert item_size(item) == 7 + 7 + 3 + 13


def test_given_item_sizes_when_units_computed_then_writes_round_up_per_kb_and_reads_per_4_kb() -> None:
    assert write_units(1) == 1
    assert write_units(1024) == 1
    assert write_units(1025) == 2
    assert read_units(4096, consistent=True) == 1.0
    assert read_units(4097, consistent=False) == 1.0  # two units, halved for an eventually consistent read
