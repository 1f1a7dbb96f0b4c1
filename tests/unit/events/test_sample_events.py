"""The sample events in events/ stay true: each matches the template and is replayed by a handler test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local.template import load_template

ROOT = Path(__file__).resolve().parents[3]
EVENTS = sorted(p for p in (ROOT / "events").glob("*.json") if p.name != "env.json")
HANDLER_TESTS = [p.read_text() for p in (ROOT / "tests" / "integration").rglob("test_*.py")]
HANDLER_TESTS += [p.read_text() for p in (ROOT / "tests" / "integration").rglob("conftest.py")]


def _http_routes() -> set[str]:
    resources = load_template()["Resources"]
    return {
        f"{event['Properties']['Method'].upper()} {event['Properties']['Path']}"
        for resource in resources.values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    }


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: p.stem)
def test_given_a_sample_event_then_a_handler_test_replays_it(path: Path) -> None:
    assert any(path.stem in source for source in HANDLER_TESTS), f"no integration test replays {path.name}"


@pytest.mark.parametrize("path", [p for p in EVENTS if p.stem.startswith("api_")], ids=lambda p: p.stem)
def test_given_an_api_event_then_its_route_is_one_the_template_declares(path: Path) -> None:
    event: dict[str, Any] = json.loads(path.read_text())

    assert event["version"] == "2.0"
    assert event["routeKey"] in _http_routes()
    assert event["requestContext"]["http"]["method"] == event["routeKey"].split()[0]


@pytest.mark.parametrize("path", [p for p in EVENTS if not p.stem.startswith("api_")], ids=lambda p: p.stem)
def test_given_a_queue_event_then_it_is_an_sqs_batch(path: Path) -> None:
    event: dict[str, Any] = json.loads(path.read_text())

    assert event["Records"], f"{path.name} has no records"
    for record in event["Records"]:
        assert record["eventSource"] == "aws:sqs"
        assert json.loads(record["body"])  # the body is the JSON the function parses


def test_given_env_json_then_it_names_only_template_functions() -> None:
    functions = {
        name
        for name, resource in load_template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    env = json.loads((ROOT / "events" / "env.json").read_text())

    assert set(env) == functions
