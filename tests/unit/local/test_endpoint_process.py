"""The SageMaker endpoint stand-in in its own process: the same answers as in-process; it stops with us."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from local.endpoint import DEFAULT_ARTIFACT, load_model_handler
from local.endpoint_process import EndpointProcess, EndpointWorkers

pytestmark = pytest.mark.skipif(not DEFAULT_ARTIFACT.is_file(), reason="needs the shipped model artifact")

ENDPOINT_NAME = "local-sentiment"
BODY = json.dumps(
    {
        "instances": [
            {"id": "a", "text": "A wonderful, moving film."},
            {"id": "b", "text": "Dull. <br />Avoid."},
        ]
    }
)


@pytest.fixture(scope="module")
def endpoint_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EndpointProcess]:
    process = EndpointProcess(
        ENDPOINT_NAME, DEFAULT_ARTIFACT, tmp_path_factory.mktemp("logs") / "endpoint.log"
    )
    process.start()
    yield process
    process.stop()


def _runtime(url: str) -> object:
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


def test_scores_exactly_as_the_in_process_handler(endpoint_process: EndpointProcess) -> None:
    # Given the model served from its own process, and the same artifact loaded here
    runtime = _runtime(endpoint_process.url)
    handler = load_model_handler(DEFAULT_ARTIFACT)
    # When boto3 invokes the endpoint
    answer = runtime.invoke_endpoint(  # type: ignore[attr-defined]
        EndpointName=ENDPOINT_NAME, ContentType="application/json", Body=BODY.encode()
    )
    # Then the body is byte for byte what the in-process handler answers, in another process than ours
    expected, expected_type = handler(BODY.encode(), "application/json", "application/json")
    assert answer["Body"].read() == expected
    assert answer["ContentType"] == expected_type
    assert endpoint_process.pid is not None
    assert endpoint_process.pid != os.getpid()


def test_errors_keep_sagemakers_wire_shapes(endpoint_process: EndpointProcess) -> None:
    # Given the endpoint in its own process
    runtime = _runtime(endpoint_process.url)
    # When the model rejects a body, or an unknown endpoint is called
    # Then botocore raises ModelError with the model's 400, and ValidationError
    with pytest.raises(runtime.exceptions.ModelError) as model_error:  # type: ignore[attr-defined]
        runtime.invoke_endpoint(  # type: ignore[attr-defined]
            EndpointName=ENDPOINT_NAME, ContentType="application/json", Body=b"not json"
        )
    assert model_error.value.response["OriginalStatusCode"] == 400
    with pytest.raises(runtime.exceptions.ValidationError):  # type: ignore[attr-defined]
        runtime.invoke_endpoint(  # type: ignore[attr-defined]
            EndpointName="nope", ContentType="application/json", Body=b"{}"
        )


def test_stop_ends_the_child(tmp_path: Path) -> None:
    # Given a started endpoint process
    process = EndpointProcess(ENDPOINT_NAME, DEFAULT_ARTIFACT, tmp_path / "endpoint.log")
    process.start()
    child = process._process
    assert child is not None
    assert child.poll() is None
    # When it is stopped (stdin closed), twice
    process.stop()
    process.stop()
    # Then the child has exited by itself (code 0, not killed) and no pid is left
    assert child.returncode == 0
    assert process.pid is None


def test_a_model_that_does_not_load_fails_start_with_its_log(tmp_path: Path) -> None:
    # Given an artifact that is not a model
    broken = tmp_path / "model.tar.gz"
    broken.write_bytes(b"not a tarball")
    process = EndpointProcess(ENDPOINT_NAME, broken, tmp_path / "endpoint.log")
    # When it is started, Then start fails and points at the log, and nothing is left running
    with pytest.raises(RuntimeError, match=r"endpoint\.log"):
        process.start()
    assert process.pid is None
    assert (tmp_path / "endpoint.log").read_text()


def test_workers_answer_at_one_url_and_a_slow_call_does_not_hold_another(tmp_path: Path) -> None:
    # Given the endpoint as two workers (what the emulator runs for its two inference environments)
    workers = EndpointWorkers(ENDPOINT_NAME, DEFAULT_ARTIFACT, tmp_path / "endpoint.log", workers=2)
    workers.start()
    pids = workers.pids
    try:
        assert len(set(pids)) == 2
        assert os.getpid() not in pids
        expected, _ = load_model_handler(DEFAULT_ARTIFACT)(
            BODY.encode(), "application/json", "application/json"
        )
        host, port = workers.url.removeprefix("http://").split(":")
        # When one caller has sent its request's headers but not yet its body (a worker waits for it)
        with socket.create_connection((host, int(port)), timeout=60) as slow:
            slow.sendall(
                f"POST /endpoints/{ENDPOINT_NAME}/invocations HTTP/1.1\r\nHost: {host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n".encode()
            )
            # Then another caller is answered meanwhile, by the other worker
            short = _runtime(workers.url).invoke_endpoint(  # type: ignore[attr-defined]
                EndpointName=ENDPOINT_NAME, ContentType="application/json", Body=BODY.encode()
            )
            assert short["Body"].read() == expected
            # And the slow caller gets the same answer once its body arrives, on a connection then closed
            slow.sendall(BODY.encode())
            answer = b"".join(iter(lambda: slow.recv(65536), b""))
        assert answer.startswith(b"HTTP/1.0 200")
        assert answer.endswith(expected)
    finally:
        workers.stop()
    # And stopping ends every worker
    assert workers.pids == []
