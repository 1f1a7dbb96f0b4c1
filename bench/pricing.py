"""AWS us-east-1 list prices the cost benchmark multiplies measured quantities by, and that arithmetic.

Every price is a dated constant with the page it comes from. The pages were read on PRICES_READ through the
project's search tool (stored copies of the pages; there is no browser here); where the official page's stored
copy did not show the figure, the secondary page that did is cited beside it. Free tiers are ignored: the
figure is what a million reviews cost on an account that already uses its free tier elsewhere.

`bill(quantities)` turns quantities (GB-seconds, request counts, units, GB-months) into dollars, line by line;
it has no I/O, so its arithmetic is unit-tested on given quantities (tests/unit/bench/test_pricing.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PRICES_READ = "2026-11-30"


@dataclass(frozen=True)
class Price:
    dollars: float  # per `per` units
    per: float
    unit: str
    source: str

    def of(self, quantity: float) -> float:
        return quantity / self.per * self.dollars


LAMBDA = "https://aws.amazon.com/lambda/pricing/"
DYNAMODB = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
S3 = "https://aws.amazon.com/s3/pricing/"
SQS = "https://aws.amazon.com/sqs/pricing/"
SAGEMAKER = "https://aws.amazon.com/sagemaker/pricing/"
API_GATEWAY = "https://aws.amazon.com/api-gateway/pricing/"
CLOUDFRONT = "https://aws.amazon.com/cloudfront/pricing/"
COMPREHEND = "https://aws.amazon.com/comprehend/pricing/"

PRICES: dict[str, Price] = {
    # Lambda, Arm: first 7.5 billion GB-s a month; requests the same for both architectures.
    "lambda_arm64_gb_second": Price(0.0000133334, 1, "GB-second", LAMBDA),
    "lambda_x86_64_gb_second": Price(0.0000166667, 1, "GB-second", LAMBDA),
    "lambda_request": Price(0.20, 1_000_000, "request", LAMBDA),
    # DynamoDB on demand, after the November 2024 reduction (also airbyte.com/data-engineering-resources/
    # dynamodb-pricing); Standard table class storage.
    "dynamodb_write_unit": Price(0.625, 1_000_000, "write request unit", DYNAMODB),
    "dynamodb_read_unit": Price(0.125, 1_000_000, "read request unit", DYNAMODB),
    "dynamodb_gb_month": Price(0.25, 1, "GB-month", "https://aws.amazon.com/dynamodb/pricing/"),
    # S3 Standard: PUT/COPY/POST/LIST and GET/SELECT requests, first 50 TB of storage.
    "s3_put_request": Price(0.005, 1_000, "PUT/COPY/POST/LIST request", S3),
    "s3_get_request": Price(0.0004, 1_000, "GET request", S3),
    "s3_gb_month": Price(0.023, 1, "GB-month", S3),
    # SQS standard queue: every 64 KB chunk of a payload is one request.
    "sqs_request": Price(0.40, 1_000_000, "request (64 KB chunk)", SQS),
    # SageMaker Serverless Inference, on demand: $0.0000200 per second at 1024 MB, linear in memory; data
    # processed in and out $0.016 per GB. The stored copy of the page shows the free tier (150,000 s) but
    # not the table; the rate is the one published since the 2022 launch, not re-verified on PRICES_READ.
    "sagemaker_serverless_gb_second": Price(0.0000200, 1, "GB-second (1024 MB-second)", SAGEMAKER),
    "sagemaker_data_gb": Price(0.016, 1, "GB processed (in + out)", SAGEMAKER),
    # HTTP API, first 300 million requests a month, metered in 512 KB increments.
    "http_api_request": Price(1.00, 1_000_000, "request (512 KB increment)", API_GATEWAY),
    # CloudFront, North America: HTTPS requests and data transfer out to the internet, first 10 TB.
    "cloudfront_https_request": Price(0.0100, 10_000, "HTTPS request", CLOUDFRONT),
    "cloudfront_gb_out": Price(0.085, 1, "GB out to the internet", CLOUDFRONT),
    # CloudWatch Logs, standard class: data ingested.
    "cloudwatch_logs_gb": Price(0.50, 1, "GB ingested", "https://aws.amazon.com/cloudwatch/pricing/"),
    # Amazon Comprehend DetectSentiment: 1 unit = 100 characters, 3 units minimum per request.
    "comprehend_unit": Price(0.0001, 1, "unit of 100 characters", COMPREHEND),
}

COMPREHEND_CHARS_PER_UNIT = 100
COMPREHEND_MIN_UNITS = 3
# Lambda allocates CPU in proportion to memory: 1,769 MB is one full vCPU (Lambda developer guide,
# "Configure Lambda function memory"). A function with less memory runs CPU-bound work that much slower.
LAMBDA_MB_PER_VCPU = 1769


@dataclass(frozen=True)
class Line:
    service: str
    item: str
    quantity: float
    price: str  # a key of PRICES

    @property
    def dollars(self) -> float:
        return PRICES[self.price].of(self.quantity)

    @property
    def unit(self) -> str:
        return PRICES[self.price].unit


def lambda_billed_seconds(cpu_seconds: float, wait_seconds: float, memory_mb: int) -> float:
    """Billed duration of work measured as CPU time on one full core, plus time spent waiting on I/O.

    Below 1,769 MB a function has a fraction of a vCPU, so CPU-bound work takes 1769/memory times longer.
    """
    cpu_share = min(1.0, memory_mb / LAMBDA_MB_PER_VCPU)
    return cpu_seconds / cpu_share + wait_seconds


def gb_seconds(seconds: float, memory_mb: int) -> float:
    return seconds * memory_mb / 1024


def comprehend_units(text_lengths: list[int]) -> int:
    """Units Amazon Comprehend bills for one DetectSentiment request per text."""
    return sum(
        max(COMPREHEND_MIN_UNITS, math.ceil(length / COMPREHEND_CHARS_PER_UNIT)) for length in text_lengths
    )


def sqs_requests(payload_bytes: int) -> int:
    """Billed requests for one API call carrying `payload_bytes` (each 64 KB chunk counts once)."""
    return max(1, math.ceil(payload_bytes / (64 * 1024)))


def total(lines: list[Line]) -> float:
    return sum(line.dollars for line in lines)
