"""The emulator on a tiny template: resources, function hosts, pollers, HTTP adapter and endpoint."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from local.stack import LocalStack


def eventually[T](probe: Callable[[], T | None], timeout: float = 20.0) -> T:
    """The probe's first truthy answer, polled until the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = probe()
        if answer:
            return answer
        time.sleep(0.2)
    raise AssertionError(f"nothing within {timeout} s")


def message_count(stack: LocalStack, queue_id: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_urls[queue_id],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_resources_are_created_as_the_template_declares(tiny_stack: LocalStack) -> None:
    # Given the emulator on the tiny template
    assert tiny_stack.info is not None
    sqs = tiny_stack.client("sqs")
    # When the queues and the bucket are inspected
    attributes = sqs.get_queue_attributes(QueueUrl=tiny_stack.queue_urls["WorkQueue"], AttributeNames=["All"])
    notification = tiny_stack.client("s3").get_bucket_notification_configuration(
        Bucket=tiny_stack.info.bucket
    )
    # Then the redrive policy points at the DLQ, the visibility override applies, the filter is the template's
    policy = json.loads(attributes["Attributes"]["RedrivePolicy"])
    assert policy["deadLetterTargetArn"].endswith(":tiny-local-WorkDeadLetterQueue")
    assert policy["maxReceiveCount"] == 2
    assert attributes["Attributes"]["VisibilityTimeout"] == "1"
    (queue_configuration,) = notification["QueueConfigurations"]
    assert queue_configuration["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "incoming/"}]
    assert tiny_stack.client("dynamodb").describe_table(TableName="tiny-local-TinyTable")["Table"][
        "KeySchema"
    ]


def test_stack_json_says_where_everything_is(tiny_stack: LocalStack) -> None:
    # Given the running emulator
    # When its state file is read
    state = json.loads((tiny_stack.state_dir / "stack.json").read_text())
    # Then it names every endpoint on 127.0.0.1 and the local resource names
    for key in ("aws_endpoint_url", "api_url", "sagemaker_runtime_url"):
        assert state[key].startswith("http://127.0.0.1:")
    assert state["bucket"] == "tiny-local"
    assert state["incoming_prefix"] == "incoming/"
    assert state["endpoint_name"] == "tiny-local-TinyEndpoint"
    assert state["region"] == "us-east-1"


def test_http_request_becomes_a_v2_event_with_the_functions_own_environment(tiny_stack: LocalStack) -> None:
    # Given the HTTP adapter
    assert tiny_stack.info is not None
    # When a routed GET arrives with a path parameter, a query string and a cookie
    response = requests.get(
        f"{tiny_stack.info.api_url}/things/t%201?color=red&color=blue&size=",
        headers={"X-Custom": "yes", "Cookie": "a=1; b=2"},
        timeout=30,
    )
    # Then the function got a payload format 2.0 event and answered through API Gateway's mapping
    assert response.status_code == 200
    assert response.headers["Set-Cookie"] == "seen=1"
    body = response.json()
    event = body["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /things/{thing_id}"
    assert event["rawPath"] == "/things/t 1"
    assert event["pathParameters"] == {"thing_id": "t 1"}
    assert event["queryStringParameters"] == {"color": "red,blue", "size": ""}
    assert event["rawQueryString"] == "color=red&color=blue&size="
    assert event["headers"]["x-custom"] == "yes"
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["requestContext"]["stage"] == "$default"
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    # And its environment is the template's, resolved to local names, and nothing of the caller's
    env = body["env"]
    assert env["TABLE_NAME"] == "tiny-local-TinyTable"
    assert env["BUCKET_NAME"] == "tiny-local"
    assert env["QUEUE_URL"] == tiny_stack.queue_urls["WorkQueue"]
    assert env["LOG_LEVEL"] == "DEBUG"
    assert env["ENDPOINT_NAME"] == "tiny-local-TinyEndpoint"
    assert env["AWS_ENDPOINT_URL"] == tiny_stack.info.aws_endpoint_url
    assert env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] == tiny_stack.info.sagemaker_runtime_url
    assert env["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert env["CALLER_SECRET"] is None
    # And only the code and its layer are importable, as on Lambda
    assert body["layer"] == "tiny layer"
    assert body["project_importable"] is False
    assert 0 < body["remaining_ms"] <= 2000
    assert body["function_name"] == "Worker"


def test_function_output_goes_to_its_log_file(tiny_stack: LocalStack) -> None:
    # Given an invocation that prints
    assert tiny_stack.info is not None
    requests.get(f"{tiny_stack.info.api_url}/things/1", timeout=30).raise_for_status()
    # When the function's log is read
    log = (tiny_stack.state_dir / "logs" / "Worker.log").read_text()
    # Then the printed line is there, between Lambda's START and END lines, and a REPORT line follows them
    lines = log.splitlines()
    printed = lines.index("a log line for the log file, not for the protocol")
    start, end, report = lines[printed - 1], lines[printed + 1], lines[printed + 2]
    request_id = start.removeprefix("START RequestId: ").removesuffix(" Version: $LATEST")
    assert end == f"END RequestId: {request_id}"
    fields = dict(field.split(": ", 1) for field in report.split("\t"))
    assert fields["REPORT RequestId"] == request_id
    assert fields["Memory Size"] == f"{tiny_stack.pools['Worker'].spec.memory_mb} MB"
    assert float(fields["Duration"].removesuffix(" ms")) > 0
    assert 0 < int(fields["Max Memory Used"].removesuffix(" MB")) < 1024


def test_unknown_route_is_api_gateways_404(tiny_stack: LocalStack) -> None:
    assert tiny_stack.info is not None
    # Given a path and a method the template does not route
    # When they are requested
    missing = requests.get(f"{tiny_stack.info.api_url}/nothing/here", timeout=10)
    wrong_method = requests.post(f"{tiny_stack.info.api_url}/things/1", timeout=10)
    # Then API Gateway's answer comes back
    assert missing.status_code == 404
    assert missing.json() == {"message": "Not Found"}
    assert wrong_method.status_code == 404


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "BREW"])
def test_a_method_http_server_has_no_handler_for_is_api_gateways_json_404_not_an_html_501(
    tiny_stack: LocalStack, method: str
) -> None:
    assert tiny_stack.info is not None
    answer = requests.request(method, f"{tiny_stack.info.api_url}/things/1", timeout=10)

    assert answer.status_code == 404
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json() == {"message": "Not Found"}


def test_a_body_over_api_gateways_10_mb_is_a_json_413(tiny_stack: LocalStack) -> None:
    assert tiny_stack.info is not None
    answer = requests.post(
        f"{tiny_stack.info.api_url}/things/1", data=b"x" * (10 * 1024 * 1024 + 1), timeout=30
    )

    assert answer.status_code == 413
    assert answer.json() == {"message": "Request Entity Too Large"}


def test_a_malformed_request_line_is_answered_in_json(tiny_stack: LocalStack) -> None:
    assert tiny_stack.info is not None
    host, port = tiny_stack.info.api_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"GET /things/1 HTTP/1.1 extra\r\n\r\n")
        received = b""
        while chunk := connection.recv(65536):  # the adapter closes the connection after a refusal
            received += chunk
        answer = received.decode()

    status_line, _, rest = answer.partition("\r\n")
    assert status_line.startswith("HTTP/1.1 400")
    assert "application/json" in rest
    assert rest.endswith('{"message": "Bad Request"}')


def test_timed_out_invocation_is_a_503_and_the_environment_is_replaced(tiny_stack: LocalStack) -> None:
    assert tiny_stack.info is not None
    # Given a function that outlives its 2 s Timeout
    before = set(tiny_stack.child_pids)
    # When it is requested
    started = time.monotonic()
    slow = requests.get(f"{tiny_stack.info.api_url}/slow", timeout=30)
    # Then the caller gets API Gateway's 503 after the timeout, not after the function's sleep
    assert slow.status_code == 503
    assert time.monotonic() - started < 4.5
    # And the next request gets a fresh environment that works
    assert requests.get(f"{tiny_stack.info.api_url}/things/2", timeout=30).status_code == 200
    assert set(tiny_stack.child_pids) != before
    # And the log says what Lambda's does: the timeout, then END and a REPORT with "Status: timeout"
    report = last_report(tiny_stack, "Status: timeout")
    assert float(report["Duration"].removesuffix(" ms")) >= 2000
    assert "Task timed out after 2.00 seconds" in (tiny_stack.state_dir / "logs" / "Worker.log").read_text()


def test_invocation_over_its_memory_size_is_killed_and_the_environment_is_replaced(
    tiny_stack: LocalStack,
) -> None:
    assert tiny_stack.info is not None
    # Given a function that holds 600 MB while its template's MemorySize is 256 MB
    before = set(tiny_stack.child_pids)
    # When it is requested
    hungry = requests.get(f"{tiny_stack.info.api_url}/hungry", timeout=30)
    # Then it is killed as Lambda kills an environment out of memory (API Gateway answers 500), and replaced
    assert hungry.status_code == 500
    assert set(tiny_stack.child_pids) != before
    assert requests.get(f"{tiny_stack.info.api_url}/things/2", timeout=30).status_code == 200
    # And its REPORT line says so, with the environment's peak over its MemorySize
    report = last_report(tiny_stack, "Error Type: Runtime.OutOfMemory")
    assert report["Status"] == "error"
    assert int(report["Max Memory Used"].removesuffix(" MB")) > 256


def last_report(stack: LocalStack, containing: str) -> dict[str, str]:
    """The fields of the last REPORT line of the Worker function's log that holds `containing`."""
    log = (stack.state_dir / "logs" / "Worker.log").read_text()
    [*_, line] = (line for line in log.splitlines() if line.startswith("REPORT ") and containing in line)
    return dict(field.split(": ", 1) for field in line.split("\t"))


def test_s3_upload_under_the_prefix_reaches_the_function_through_the_queue(tiny_stack: LocalStack) -> None:
    assert tiny_stack.info is not None
    s3 = tiny_stack.client("s3")
    # Given an object put under incoming/ and one outside it
    s3.put_object(Bucket=tiny_stack.info.bucket, Key="incoming/file.jsonl", Body=b"{}")
    s3.put_object(Bucket=tiny_stack.info.bucket, Key="elsewhere/file.jsonl", Body=b"{}")

    # When the poller has delivered the notification
    def delivered_keys() -> list[str]:
        keys = []
        for item in s3.list_objects_v2(Bucket=tiny_stack.info.bucket, Prefix="seen/").get("Contents", []):
            record = json.loads(s3.get_object(Bucket=tiny_stack.info.bucket, Key=item["Key"])["Body"].read())
            body = json.loads(record["body"])
            # Keys in S3 events are URL-encoded (moto also encodes "/"): consumers unquote_plus them.
            keys.extend(unquote_plus(r["s3"]["object"]["key"]) for r in body.get("Records", []))
        return keys

    keys = eventually(lambda: delivered_keys() if "incoming/file.jsonl" in delivered_keys() else None)
    # Then the function got an SQS record with the S3 event, and only for the prefixed key
    assert keys.count("incoming/file.jsonl") == 1
    assert "elsewhere/file.jsonl" not in keys


def test_failed_record_is_retried_then_redriven_while_the_rest_of_the_batch_is_deleted(
    tiny_stack: LocalStack,
) -> None:
    assert tiny_stack.info is not None
    sqs = tiny_stack.client("sqs")
    dlq = tiny_stack.queue_urls["WorkDeadLetterQueue"]
    # Given one message the function fails and one it handles
    failing = sqs.send_message(QueueUrl=tiny_stack.queue_urls["WorkQueue"], MessageBody="please fail")[
        "MessageId"
    ]
    good = sqs.send_message(QueueUrl=tiny_stack.queue_urls["WorkQueue"], MessageBody="fine")["MessageId"]

    # When the poller has seen the failure maxReceiveCount (2) times
    def redriven() -> list[dict[str, Any]] | None:
        answer = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"], WaitTimeSeconds=0)
        return answer.get("Messages")

    (dead,) = eventually(redriven, timeout=20)
    # Then the failing message is in the DLQ after 2 receives, the good one was stored and deleted
    assert dead["MessageId"] == failing
    assert (
        dead["Attributes"]["ApproximateReceiveCount"] == "3"
    )  # the poller's 2 receives, then ours from the DLQ
    s3 = tiny_stack.client("s3")
    assert s3.get_object(Bucket=tiny_stack.info.bucket, Key=f"seen/{good}")["Body"].read()
    assert message_count(tiny_stack, "WorkQueue") == 0


def test_endpoint_answers_boto3s_invoke_endpoint_and_maps_model_errors(tiny_stack: LocalStack) -> None:
    assert tiny_stack.info is not None
    runtime = boto3.client(
        "sagemaker-runtime",
        endpoint_url=tiny_stack.info.sagemaker_runtime_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    # Given the local endpoint serving a model
    # When boto3 invokes it as it would on AWS
    answer = runtime.invoke_endpoint(
        EndpointName=tiny_stack.info.endpoint_name, ContentType="application/json", Body=b'{"x": 1}'
    )
    # Then the model's answer comes back with its content type
    assert json.loads(answer["Body"].read()) == {"echo": {"x": 1}, "content_type": "application/json"}
    assert answer["ContentType"] == "application/json"
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    # And a model failure is botocore's ModelError with the original status; an unknown endpoint is invalid
    with pytest.raises(runtime.exceptions.ModelError) as model_error:
        runtime.invoke_endpoint(
            EndpointName=tiny_stack.info.endpoint_name, ContentType="application/json", Body=b"boom"
        )
    assert model_error.value.response["OriginalStatusCode"] == 400
    assert "cannot read this payload" in model_error.value.response["OriginalMessage"]
    with pytest.raises(ClientError) as unknown:
        runtime.invoke_endpoint(EndpointName="nope", ContentType="application/json", Body=b"{}")
    assert unknown.value.response["Error"]["Code"] == "ValidationError"
    assert requests.get(f"{tiny_stack.info.sagemaker_runtime_url}/ping", timeout=5).status_code == 200
