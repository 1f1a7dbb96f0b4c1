"""Unit tests' model: a small artifact trained once per session, answering boto3 in-process.

Unit tests that need predictions do not start an HTTP server nor load the shipped model: `sentiment_endpoint`
here overrides the HTTP one of tests/endpoint_server.py with the same staging API (StagedEndpoint), served by
the small model's own code/inference.py through a botocore hook (tests/in_process_endpoint.py). Integration
and end-to-end tests keep the HTTP endpoint and the shipped model.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from model.serving import load_endpoint_handler
from tests.conftest import ENDPOINT_NAME
from tests.in_process_endpoint import InProcessEndpoint
from tests.staged_endpoint import ScoringHandler
from tests.unit.small_model import train_small


@pytest.fixture(scope="session")
def small_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """model.tar.gz trained on the 400-review sample (the same code path as the shipped model), once."""
    return train_small(tmp_path_factory.mktemp("small-model"))


@pytest.fixture(scope="session")
def _small_model_scoring(small_artifact: Path) -> ScoringHandler:
    """The small artifact's code/inference.py, loaded once: model_fn once, input/predict/output_fn a call."""
    return load_endpoint_handler(small_artifact)


@pytest.fixture
def sentiment_endpoint(aws: None, _small_model_scoring: ScoringHandler) -> Iterator[InProcessEndpoint]:
    """The endpoint named ENDPOINT_NAME, answered in-process by the small model (after moto, see
    `InProcessEndpoint.answering_boto3`)."""
    endpoint = InProcessEndpoint(ENDPOINT_NAME, _small_model_scoring)
    with endpoint.answering_boto3():
        yield endpoint
