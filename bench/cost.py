"""Cost benchmark: what 1,000,000 reviews cost on AWS us-east-1, from quantities measured on real handlers.

    python -m bench --only cost

One file of real reviews goes through the shipped handlers in this process, against moto (`mock_aws`), with
the shipped model served by the emulator's SageMaker endpoint (as the integration tests do): the preprocess
function on the S3 notification, the inference function on every chunk message it queued, the export function
on the finished job, then the query API reading every result back page by page. Measured on the way
(bench/aws_meter.py): each handler's CPU time
(`time.thread_time` of the calling thread, less the time moto spends emulating the services on that
thread), the endpoint's time per request (its own thread), every AWS call with its payload, the DynamoDB
units of the exact items written and read, the bytes logged to stdout (CloudWatch Logs). The quantities are
scaled linearly to 1,000,000 reviews arriving as files of the same size, and priced by bench/pricing.py.

Memory, architecture, chunk size and endpoint memory are read from template.yaml. Two assumptions, named in
the report: a Lambda waits WAIT_PER_CALL_S for each AWS call besides the endpoint (moto answers in-process,
so that wait is not measured here), and the endpoint, the functions and this machine's cores run the code at
the same speed (x86_64 here, arm64 on Lambda).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore import handlers as botocore_handlers
from moto import mock_aws

from bench import pricing, report
from bench.aws_meter import AwsMeter, item_size
from bench.end_to_end import benchmark_reviews
from bench.pricing import Line
from bench.retention import MONTH_DAYS, Retention, months_billed, template_retention
from local.endpoint import EndpointServer
from local.template import load_template, table_definition
from model.serving import load_endpoint_handler
from tests.handlers import lambda_context, load_handler

REPO = Path(__file__).resolve().parents[1]
ARTIFACT = REPO / "model" / "artifact" / "model.tar.gz"
EVENTS = REPO / "events"
DOC = report.DOC
SECTION = "## Cost per 1,000,000 reviews"
COMMAND = "python -m bench --only cost"
MILLION = 1_000_000
WAIT_PER_CALL_S = 0.010
PAGE_LIMIT = 100  # the query API's largest page
REGION = "us-east-1"
_NAMES = {
    "table": "bench-reviews",
    "bucket": "bench-reviews",
    "queue": "bench-inference",
    "endpoint": "bench",
}


@dataclass
class Stage:
    """One function's measured work over the run."""

    memory_mb: int
    invocations: int = 0
    cpu_s: float = 0.0
    wait_s: float = 0.0  # endpoint time the function waited for (inference only)
    calls: int = 0  # AWS calls besides the endpoint, each assumed to wait WAIT_PER_CALL_S


@dataclass
class Measured:
    reviews: int
    text_lengths: list[int]
    file_bytes: int
    chunk_size: int
    stages: dict[str, Stage]
    meter: AwsMeter
    endpoint_s: float = 0.0
    endpoint_requests: int = 0
    endpoint_bytes: int = 0
    log_bytes: int = 0
    api_requests: int = 0
    api_response_bytes: int = 0
    stored: dict[str, int] = field(default_factory=dict)  # bytes kept: "dynamodb", and S3 per prefix


@dataclass
class CostReport:
    measured: Measured
    bill: list[Line]
    comprehend: float
    command: str
    when: str


class _CountingStdout(io.TextIOBase):
    """Where the handlers' log lines go: counted (they are CloudWatch Logs ingestion), not printed."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode("utf-8"))
        return len(text)


def template_settings() -> dict[str, Any]:
    """MemorySize and architecture of each function, ChunkSize and endpoint memory, as template.yaml says."""
    document = load_template()
    globals_ = document["Globals"]["Function"]
    functions = {
        logical_id: int(resource["Properties"].get("MemorySize", globals_["MemorySize"]))
        for logical_id, resource in document["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    parameters = document["Parameters"]
    return {
        "memory_mb": functions,
        "architecture": globals_["Architectures"][0],
        "chunk_size": int(parameters["ChunkSize"]["Default"]),
        "endpoint_memory_mb": int(parameters["EndpointMemorySizeInMB"]["Default"]),
    }


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _MotoClock:
    """Wraps moto's botocore stub: the CPU time moto spends answering calls on this thread, to subtract.

    moto answers in the caller's thread, so a handler's thread time holds moto's emulation of DynamoDB, S3 and
    SQS too; on AWS that work is done by the services, and the function only waits (WAIT_PER_CALL_S).
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self._entry: tuple[str, Any] | None = None

    def install(self) -> None:
        for index, entry in enumerate(botocore_handlers.BUILTIN_HANDLERS):  # (event, handler[, position])
            event, handler = entry[0], entry[1]
            if event == "before-send" and type(handler).__name__ == "BotocoreStubber":
                self._entry = (event, handler)
                botocore_handlers.BUILTIN_HANDLERS[index] = (event, self._wrap(handler))
                return
        raise RuntimeError("moto's BotocoreStubber is not among botocore's handlers")

    def uninstall(self) -> None:
        for index, entry in enumerate(botocore_handlers.BUILTIN_HANDLERS):
            if self._entry and getattr(entry[1], "moto_stub", None) is self._entry[1]:
                botocore_handlers.BUILTIN_HANDLERS[index] = self._entry

    def _wrap(self, stub: Any) -> Any:
        def timed(**kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return stub(**kwargs)
            finally:
                if threading.current_thread() is threading.main_thread():
                    self.seconds += time.thread_time() - started

        timed.moto_stub = stub  # type: ignore[attr-defined]
        return timed


MOTO_CLOCK = _MotoClock()


def _timed(stage: Stage, meter: AwsMeter, call: Any, *args: Any) -> Any:
    calls_before = sum(meter.calls.values()) - meter.count("sagemaker-runtime")
    started, moto_before = time.thread_time(), MOTO_CLOCK.seconds
    result = call(*args)
    stage.cpu_s += time.thread_time() - started - (MOTO_CLOCK.seconds - moto_before)
    stage.invocations += 1
    stage.calls += sum(meter.calls.values()) - meter.count("sagemaker-runtime") - calls_before
    return result


def _s3_event(bucket: str, key: str, size: int) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "preprocess_s3_put.json").read_text())
    notification = json.loads(event["Records"][0]["body"])
    notification["Records"][0]["s3"]["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
    notification["Records"][0]["s3"]["object"].update(key=key, size=size)
    event["Records"][0]["body"] = json.dumps(notification)
    return event


def _drain(meter: AwsMeter, queue_url: str) -> list[dict[str, Any]]:
    """Every message on a queue, taken as the Lambda poller does (receives and deletes are priced apart)."""
    sqs = boto3.client("sqs", region_name=REGION)
    meter.enabled = False
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        messages += batch
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    meter.enabled = True
    return messages


def _sqs_event(body: str, message_id: str, sample: str = "inference_chunk.json") -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / sample).read_text())
    event["Records"][0].update(body=body, messageId=message_id)
    return event


def _api_event(job_id: str, cursor: str | None) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "api_job_reviews.json").read_text())
    query = {"limit": str(PAGE_LIMIT), **({"cursor": cursor} if cursor else {})}
    path = f"/jobs/{job_id}/reviews"
    event.update(rawPath=path, queryStringParameters=query, pathParameters={"job_id": job_id})
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    event["requestContext"]["http"]["path"] = path
    return event


class _MeteredEndpoint:
    """The shipped model behind the emulator's endpoint, timing each request on the endpoint's thread."""

    def __init__(self, measured: Measured) -> None:
        self._score = load_endpoint_handler(ARTIFACT)
        self._measured = measured
        self._lock = threading.Lock()

    def __call__(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        started = time.thread_time()
        answer, answer_type = self._score(body, content_type, accept)
        with self._lock:
            self._measured.endpoint_s += time.thread_time() - started
            self._measured.endpoint_requests += 1
            self._measured.endpoint_bytes += len(body) + len(answer)
        return answer, answer_type


def _pipeline(measured: Measured, body: bytes, sink: _CountingStdout) -> None:
    """Upload, preprocess, classify every chunk, read every result: the measured run (inside mock_aws)."""
    meter, stages = measured.meter, measured.stages
    s3 = boto3.client("s3", region_name=REGION)
    key = "incoming/bench/cost.jsonl"
    s3.put_object(Bucket=_NAMES["bucket"], Key=key, Body=body)
    with contextlib.redirect_stdout(sink):
        preprocess = load_handler("preprocess")
        inference = load_handler("inference")
        query_api = load_handler("query_api")
        export = load_handler("export")
    meter.calls.clear()
    meter.request_bytes.clear()
    with contextlib.redirect_stdout(sink):
        event = _s3_event(_NAMES["bucket"], key, len(body))
        _timed(stages["PreprocessFunction"], meter, preprocess.lambda_handler, event, lambda_context())
        messages = _drain(meter, os.environ["INFERENCE_QUEUE_URL"])
        for message in messages:
            before = measured.endpoint_s
            stage = stages["InferenceFunction"]
            _timed(stage, meter, inference.lambda_handler, _sqs_event(message["Body"], message["MessageId"]),
                   lambda_context())  # fmt: skip
            stage.wait_s += measured.endpoint_s - before
        # The closed job asked for its export: the export function writes every row to results/<job_id>/.
        for message in _drain(meter, os.environ["EXPORT_QUEUE_URL"]):
            event = _sqs_event(message["Body"], message["MessageId"], "export_job_finished.json")
            _timed(stages["ExportFunction"], meter, export.lambda_handler, event, lambda_context())
        job_id = json.loads(messages[0]["Body"])["job_id"]
        cursor: str | None = None
        while True:
            response = _timed(stages["QueryApiFunction"], meter, query_api.lambda_handler,
                              _api_event(job_id, cursor), lambda_context())  # fmt: skip
            measured.api_requests += 1
            measured.api_response_bytes += len(response["body"])
            cursor = json.loads(response["body"]).get("cursor")
            if not cursor:
                break
    measured.log_bytes = sink.bytes


def _stored_bytes(meter: AwsMeter) -> dict[str, int]:
    """Bytes each store keeps after the run: DynamoDB (items plus 100 bytes per table or index entry) under
    "dynamodb", S3 under each top-level prefix ("incoming/", "processed/", ...): lifecycle rules expire them
    apart.
    """
    s3 = boto3.client("s3", region_name=REGION)
    stored: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=_NAMES["bucket"]):
        for listed in page.get("Contents", []):
            prefix = listed["Key"].split("/", 1)[0] + "/"
            stored[prefix] = stored.get(prefix, 0) + listed["Size"]
    client = boto3.client("dynamodb", region_name=REGION)
    table_bytes = 0
    for page in client.get_paginator("scan").paginate(TableName=_NAMES["table"]):
        for item in page["Items"]:
            copies = 1 + sum(1 for keys in meter.index_keys.values() if all(k in item for k in keys))
            table_bytes += copies * (item_size(item) + 100)
    return {**stored, "dynamodb": table_bytes}


def measure(reviews: int = 2_000) -> Measured:
    settings = template_settings()
    data, _ = benchmark_reviews(reviews)
    body = "".join(json.dumps(review) + "\n" for review in data).encode("utf-8")
    definition = table_definition()
    index_keys = {
        gsi["IndexName"]: tuple(k["AttributeName"] for k in gsi["KeySchema"])
        for gsi in definition.get("GlobalSecondaryIndexes", [])
    }
    measured = Measured(
        reviews=reviews,
        text_lengths=[len(r["text"]) for r in data],
        file_bytes=len(body),
        chunk_size=settings["chunk_size"],
        stages={name: Stage(memory_mb=mb) for name, mb in settings["memory_mb"].items()},
        meter=AwsMeter(index_keys=index_keys),
    )
    hooks: list[tuple[str, Any]] = []
    endpoint = EndpointServer(_NAMES["endpoint"], _MeteredEndpoint(measured))
    endpoint.start()
    env = {
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION, "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_SERVICE_NAME": "review-sentiment",
        "POWERTOOLS_METRICS_NAMESPACE": "ReviewSentimentPipeline",
        "TABLE_NAME": _NAMES["table"], "BUCKET_NAME": _NAMES["bucket"], "ENDPOINT_NAME": _NAMES["endpoint"],
        "INCOMING_PREFIX": "incoming/", "PROCESSED_PREFIX": "processed/", "REJECTED_PREFIX": "rejected/",
        "CHUNK_SIZE": str(settings["chunk_size"]), "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": endpoint.url,
        "CURSOR_SIGNING_KEY": "bench-cursor-signing-key-0123456789abcdef",
    }  # fmt: skip
    try:
        with _environment(env), mock_aws():
            boto3.client("dynamodb", region_name=REGION).create_table(TableName=_NAMES["table"], **definition)
            boto3.client("s3", region_name=REGION).create_bucket(Bucket=_NAMES["bucket"])
            sqs = boto3.client("sqs", region_name=REGION)
            os.environ["INFERENCE_QUEUE_URL"] = sqs.create_queue(QueueName=_NAMES["queue"])["QueueUrl"]
            os.environ["EXPORT_QUEUE_URL"] = sqs.create_queue(QueueName="bench-export")["QueueUrl"]
            hooks = measured.meter.hooks()
            botocore_handlers.BUILTIN_HANDLERS.extend(hooks)  # every session created from now on is metered
            MOTO_CLOCK.install()
            boto3.DEFAULT_SESSION = None
            _pipeline(measured, body, _CountingStdout())
            reader = boto3.client("dynamodb", region_name=REGION)
            measured.meter.settle_updates(
                lambda key: reader.get_item(TableName=_NAMES["table"], Key=key).get("Item")
            )
            measured.stored = _stored_bytes(measured.meter)
            os.environ.pop("INFERENCE_QUEUE_URL", None)
            os.environ.pop("EXPORT_QUEUE_URL", None)
    finally:
        MOTO_CLOCK.uninstall()
        for hook in hooks:
            if hook in botocore_handlers.BUILTIN_HANDLERS:
                botocore_handlers.BUILTIN_HANDLERS.remove(hook)
        endpoint.stop()
        boto3.DEFAULT_SESSION = None
    return measured


def storage_lines(stored: dict[str, int], scale: float, retention: Retention) -> list[Line]:
    """GB-months of what the run left, scaled, each store for the share of the first month it is kept."""
    out: list[Line] = []
    for name, stored_bytes in sorted(stored.items()):
        days = retention.dynamodb_days() if name == "dynamodb" else retention.s3_days(name)
        kept = "first month" if days is None else f"{min(days, MONTH_DAYS):g} of {MONTH_DAYS} days kept"
        service, what = ("DynamoDB", "table") if name == "dynamodb" else ("S3", name)
        gb_months = stored_bytes / 1e9 * scale * months_billed(days)
        out.append(Line(service, f"storage, {what} ({kept})", gb_months, f"{service.lower()}_gb_month"))
    return out


def lines(measured: Measured, architecture: str, endpoint_memory_mb: int, retention: Retention) -> list[Line]:
    """The measured run scaled to 1,000,000 reviews (files of the same size), one priced line per quantity."""
    scale = MILLION / measured.reviews
    meter = measured.meter
    out: list[Line] = []
    for name, stage in measured.stages.items():
        if not stage.invocations:
            continue
        seconds = pricing.lambda_billed_seconds(
            stage.cpu_s, stage.wait_s + stage.calls * WAIT_PER_CALL_S, stage.memory_mb
        )
        out.append(Line("Lambda", f"{name} compute ({stage.memory_mb} MB, {architecture})",
                        pricing.gb_seconds(seconds, stage.memory_mb) * scale,
                        f"lambda_{architecture}_gb_second"))  # fmt: skip
        out.append(Line("Lambda", f"{name} requests", stage.invocations * scale, "lambda_request"))
    out.append(Line("SageMaker", f"serverless endpoint compute ({endpoint_memory_mb} MB)",
                    pricing.gb_seconds(measured.endpoint_s, endpoint_memory_mb) * scale,
                    "sagemaker_serverless_gb_second"))  # fmt: skip
    out.append(Line("SageMaker", "data processed in and out", measured.endpoint_bytes / 1e9 * scale,
                    "sagemaker_data_gb"))  # fmt: skip
    out.append(Line("DynamoDB", "write request units (items + index entries)", meter.write_units * scale,
                    "dynamodb_write_unit"))  # fmt: skip
    out.append(Line("DynamoDB", "read request units", meter.read_units * scale, "dynamodb_read_unit"))
    puts = meter.count(
        "s3", "PutObject", "CopyObject", "ListObjectsV2", "CreateMultipartUpload", "UploadPart"
    )
    out.append(
        Line(
            "S3", "PUT/LIST requests (upload, chunks, rejected, export)", (puts + 1) * scale, "s3_put_request"
        )
    )
    out.append(
        Line("S3", "GET requests", meter.count("s3", "GetObject", "HeadObject") * scale, "s3_get_request")
    )
    # S3's notification to the ingest queue, and per message the event source's receive and delete.
    sent = sum(pricing.sqs_requests(size) for size, _ in meter.sqs_sends)
    messages = sum(count for _, count in meter.sqs_sends)
    out.append(Line("SQS", "send, receive and delete of every message", (sent + 2 * messages + 3) * scale,
                    "sqs_request"))  # fmt: skip
    out.append(Line("API Gateway", f"HTTP API requests reading every result ({PAGE_LIMIT} a page)",
                    measured.api_requests * scale, "http_api_request"))  # fmt: skip
    out.append(Line("CloudFront", "HTTPS requests reading every result", measured.api_requests * scale,
                    "cloudfront_https_request"))  # fmt: skip
    out.append(Line("CloudFront", "data out reading every result", measured.api_response_bytes / 1e9 * scale,
                    "cloudfront_gb_out"))  # fmt: skip
    out.append(
        Line("CloudWatch", "log lines ingested", measured.log_bytes / 1e9 * scale, "cloudwatch_logs_gb")
    )
    return out + storage_lines(measured.stored, scale, retention)


def comprehend_dollars(measured: Measured) -> float:
    units = pricing.comprehend_units(measured.text_lengths) * MILLION / measured.reviews
    return pricing.PRICES["comprehend_unit"].of(units)


def to_markdown(report: CostReport) -> str:
    measured, bill, comprehend = report.measured, report.bill, report.comprehend
    settings = template_settings()
    per_chunk = {name: s for name, s in measured.stages.items() if s.invocations}
    rows = "\n".join(
        f"| {line.service} | {line.item} | {_quantity(line.quantity)} {line.unit} | ${line.dollars:,.4f} |"
        for line in bill
    )
    stage_rows = "\n".join(
        f"| {name} | {s.invocations} | {s.cpu_s / measured.reviews * 1e3:.3f} ms | {s.calls} |"
        for name, s in per_chunk.items()
    )
    mean_chars = sum(measured.text_lengths) / len(measured.text_lengths)
    mb_per_vcpu = pricing.LAMBDA_MB_PER_VCPU
    storage = sum(line.dollars for line in bill if line.item.startswith("storage"))
    processing = pricing.total(bill) - storage
    size_mb = measured.file_bytes / 1e6
    machine = f"{platform.machine()}, nproc {os.cpu_count()}, Python {platform.python_version()}"
    endpoint_ms = measured.endpoint_s / measured.reviews * 1e3
    comprehend_units = _quantity(comprehend / pricing.PRICES["comprehend_unit"].dollars)
    return f"""{SECTION}

Command: `{report.command}` ({report.when}; {machine}).
Prices: us-east-1 list prices read on {pricing.PRICES_READ}, each cited in `bench/pricing.py`; free tiers
ignored. Measured: one file of {measured.reviews:,} IMDb reviews ({size_mb:.1f} MB, mean {mean_chars:,.0f}
characters) through the real handlers on moto with the shipped model on the emulator's endpoint, ChunkSize
{measured.chunk_size} and memory sizes from `template.yaml`, then every result read back through the query API
({PAGE_LIMIT} a page). Scaled linearly to 1,000,000 reviews arriving as files of the same size.

| function | invocations | CPU per review | AWS calls |
| --- | ---: | ---: | ---: |
{stage_rows}
| SageMaker endpoint | {measured.endpoint_requests} | {endpoint_ms:.3f} ms | |

| service | what | quantity per 1,000,000 reviews | dollars |
| --- | --- | ---: | ---: |
{rows}
| **total** | | | **${pricing.total(bill):,.2f}** |
| Amazon Comprehend | DetectSentiment, same texts | {comprehend_units} units | ${comprehend:,.2f} |

Design change for cost (2026-11-30): the table had a global secondary index `ResultsBySentiment` projecting
every result item, so each review cost two write units and was stored twice. Measured by this benchmark (1,000
reviews) before the change: **$1.90** per 1,000,000 reviews ($1.27 of DynamoDB writes, $0.33 of storage).
The index is gone: `GET /jobs/{{id}}/reviews?sentiment=` filters the job's rows instead
(`ResultStore.list_results`). Trade-off: a one-sentiment page reads, and pays read units for, the other
sentiment's rows as well (reads are $0.125 per million units of 4 KB, so about $0.01 more per million results
listed that way), and a page of a rare sentiment may come back short with a cursor (at most 4 queries a page).
Design change for cost (2026-11-30, second): measured by this benchmark before it, **$1.08** per 1,000,000
reviews ($0.149 DynamoDB storage, $0.067 S3 storage, $0.040 CloudFront data out, $0.025 DynamoDB reads). Three
changes, the first two visible to users and said in the README's limits:
- `processed/` chunks (the cleaned full text of every review, 1.4 KB each) are intermediate: a lifecycle rule
  (`ExpireProcessedChunks`, `ProcessedChunkExpirationDays` = 7 by default) expires them, and the expired
  version a day later (the bucket is versioned). The storage line above is priced for the days the template's
  rules keep them, read from `template.yaml` by `bench/retention.py` (expiry and noncurrent removal, each
  rounded up to S3's next midnight). Trade-off: explanations (`GET /jobs/{{id}}/reviews/{{row}}/explanation`)
  work for that many days, then answer 404 pointing to `POST /predict` with `"explain": true`; a chunk message
  redriven from the 14-day dead-letter queue after the chunks expired fails its job ("could not be read
  (NoSuchKey)"; upload the file again). A longer retention is one parameter; at 14 days (the dead-letter
  queues' retention) S3 storage rises by under $0.01 per million.
- Results keep a 120-character `text_excerpt` (was 280): enough to recognise a review in a listing, and each
  stored character is paid as DynamoDB storage and again as CloudFront transfer on every read. Trade-off:
  listings and exports show less text; the full text stays in the upload (kept) and, for the days above, in
  the chunk the explanation route reads. Each result item stays within one write unit (1 KB).
- Result items no longer repeat `job_id` (it is in the key, `pk`); reads put it back, so nothing changes for
  users (42 bytes less of every result's storage and reads).
Of the total, ${storage:.2f} is storage (DynamoDB and S3, for the days kept, at most the first month) and
${processing:.2f} the processing, export and reading. Setting `RESULTS_TTL_DAYS` (results expire: storage
pro rata, read from the template too) lowers it further; it is not the default, because it deletes what users
query.

How the quantities are measured, and what they leave out:
- Lambda duration = CPU time of the handler's thread / CPU share + waits. The CPU time is our code, Powertools
  and boto3, less moto's emulation of the services (timed around moto's botocore stub); below {mb_per_vcpu} MB
  a function has memory/{mb_per_vcpu} of a vCPU, so CPU-bound work is billed that much longer. Waits: the
  inference function waits for the endpoint (its measured time), and every other AWS call is assumed to wait
  {WAIT_PER_CALL_S * 1e3:.0f} ms (moto answers in-process, so that is not measured). Cold starts, arm64 versus
  this machine's speed, and the endpoint's CPU share at {settings["endpoint_memory_mb"]} MB are not modelled.
- DynamoDB units come from the exact items the handlers wrote and read (sizes by DynamoDB's rules, index
  entries and transactions included, updates sized on the item they left); storage adds 100 bytes per item and
  index entry. Storage lines are at most one month: what is kept longer (results without `RESULTS_TTL_DAYS`,
  the upload, the export) is priced as its first month.
- Not per review, so not in the total: the event source pollers' empty long-poll receives on idle queues (a
  fixed monthly amount per queue), CloudWatch metrics and alarms, the dashboard, KMS-free SSE.

{last_line(pricing.total(bill), comprehend)}
"""


def _quantity(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.3g}"


def write_section(markdown: str, doc: Path = DOC) -> None:
    report.write_section(SECTION, markdown, doc)


def run(command: str = COMMAND, reviews: int = 2_000) -> CostReport:
    """Measure, and price the measured quantities."""
    settings = template_settings()
    retention = template_retention(load_template())
    measured = measure(reviews)
    return CostReport(
        measured=measured,
        bill=lines(measured, settings["architecture"], settings["endpoint_memory_mb"], retention),
        comprehend=comprehend_dollars(measured),
        command=command,
        when=datetime.now(UTC).strftime("%Y-%m-%d"),
    )


def last_line(aws_dollars: float, comprehend_dollars: float) -> str:
    comprehend = f"Amazon Comprehend: ${comprehend_dollars:,.0f}"
    return f"cost per 1,000,000 reviews: ${aws_dollars:.2f} on AWS ({comprehend})"
