"""What the template says about each function: code, handler, limits, environment and event sources.

`AWS::Serverless::Function` properties are merged with `Globals.Function` the way SAM does it (the function's
own value wins; Environment.Variables are merged key by key; Layers are concatenated).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.resolve import Resolver
from local.template import resources_of_type

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SERVERLESS_LAYER = "AWS::Serverless::LayerVersion"


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function as the emulator runs it."""

    logical_id: str
    code_dir: Path  # /var/task on Lambda
    layer_dirs: tuple[Path, ...]  # /opt/python on Lambda
    handler: str
    timeout_seconds: int
    memory_mb: int
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SqsEventSource:
    """A `Type: SQS` event of a function: the event source mapping a poller stands in for."""

    function_id: str
    event_name: str
    queue_id: str  # logical id of the AWS::SQS::Queue
    batch_size: int
    report_batch_item_failures: bool
    maximum_concurrency: int | None


@dataclass(frozen=True)
class HttpRoute:
    """A `Type: HttpApi` event of a function: one route of the HTTP API."""

    function_id: str
    event_name: str
    method: str  # upper case, or ANY
    path: str  # /jobs/{job_id}

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


def _function_properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    globals_ = dict(template.get("Globals", {}).get("Function", {}))
    own = template["Resources"][logical_id].get("Properties", {})
    merged = {**globals_, **own}
    variables = {
        **globals_.get("Environment", {}).get("Variables", {}),
        **own.get("Environment", {}).get("Variables", {}),
    }
    merged["Environment"] = {"Variables": variables}
    merged["Layers"] = [*globals_.get("Layers", []), *own.get("Layers", [])]
    return merged


def function_specs(
    template: dict[str, Any], resolver: Resolver, project_root: Path
) -> dict[str, FunctionSpec]:
    """Every function of the template with its environment resolved to local names."""
    specs: dict[str, FunctionSpec] = {}
    for logical_id in resources_of_type(SERVERLESS_FUNCTION, template):
        properties = _function_properties(template, logical_id)
        where = f"{logical_id}"
        environment = {
            name: resolver.resolve_str(value, f"{where}.Environment.{name}")
            for name, value in properties["Environment"]["Variables"].items()
        }
        layer_dirs = []
        for layer in properties["Layers"]:
            layer_id = layer.get("Ref") if isinstance(layer, dict) else None
            resource = template["Resources"].get(layer_id or "", {})
            if resource.get("Type") != SERVERLESS_LAYER:
                raise ValueError(
                    f"{where}: layer {layer!r} is not an AWS::Serverless::LayerVersion of the template"
                )
            layer_dirs.append(project_root / resource["Properties"]["ContentUri"])
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_dir=project_root / properties["CodeUri"],
            layer_dirs=tuple(layer_dirs),
            handler=str(properties.get("Handler", "app.lambda_handler")),
            timeout_seconds=int(resolver.resolve(properties.get("Timeout", 3), where)),
            memory_mb=int(resolver.resolve(properties.get("MemorySize", 128), where)),
            environment=environment,
        )
    return specs


def _events(template: dict[str, Any], event_type: str) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for logical_id, resource in resources_of_type(SERVERLESS_FUNCTION, template).items():
        for event_name, event in resource.get("Properties", {}).get("Events", {}).items():
            if event.get("Type") == event_type:
                found.append((logical_id, event_name, event.get("Properties", {})))
    return found


def sqs_event_sources(template: dict[str, Any], resolver: Resolver) -> list[SqsEventSource]:
    sources = []
    for function_id, event_name, properties in _events(template, "SQS"):
        queue = properties["Queue"]
        if not (isinstance(queue, dict) and "Fn::GetAtt" in queue):
            raise ValueError(
                f"{function_id}.{event_name}: Queue must be !GetAtt <Queue>.Arn of this template"
            )
        queue_id = queue["Fn::GetAtt"][0]
        scaling = properties.get("ScalingConfig", {})
        maximum = scaling.get("MaximumConcurrency")
        sources.append(
            SqsEventSource(
                function_id=function_id,
                event_name=event_name,
                queue_id=queue_id,
                batch_size=int(resolver.resolve(properties.get("BatchSize", 10))),
                report_batch_item_failures="ReportBatchItemFailures"
                in properties.get("FunctionResponseTypes", []),
                maximum_concurrency=int(resolver.resolve(maximum)) if maximum is not None else None,
            )
        )
    return sources


@dataclass(frozen=True)
class ScheduleEventSource:
    """A `Type: Schedule` event of a function (an EventBridge rule): `rate(...)` as seconds."""

    function_id: str
    event_name: str
    every_seconds: float


_RATE = re.compile(r"^rate\((\d+) (minute|hour|day)s?\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def schedule_event_sources(template: dict[str, Any]) -> list[ScheduleEventSource]:
    sources = []
    for function_id, event_name, properties in _events(template, "Schedule"):
        rate = _RATE.match(str(properties.get("Schedule", "")))
        if rate is None:
            raise ValueError(
                f"{function_id}.{event_name}: only rate(N minute|hour|day) schedules are emulated"
            )
        every = int(rate[1]) * _UNIT_SECONDS[rate[2]]
        sources.append(ScheduleEventSource(function_id, event_name, every))
    return sources


def http_routes(template: dict[str, Any]) -> list[HttpRoute]:
    return [
        HttpRoute(
            function_id=function_id,
            event_name=event_name,
            method=str(properties.get("Method", "ANY")).upper(),
            path=str(properties.get("Path", "$default")),
        )
        for function_id, event_name, properties in _events(template, "HttpApi")
    ]
