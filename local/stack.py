"""The local emulator as one context manager: `with LocalStack() as stack: ...`.

Started from template.yaml, on 127.0.0.1 only, each part on a free port:
- a moto server (S3, SQS, DynamoDB) holding the template's bucket (with its versioning and its notification to
  the ingest queue, prefix filter included: moto delivers S3 notifications to SQS itself), queues (visibility
  timeout, retention, redrive policy to their DLQs) and table (key schema and indexes);
- a SageMaker-runtime-compatible endpoint serving the model artifact through its own inference.py;
- one function pool per AWS::Serverless::Function (subprocesses, environment resolved from the template);
- one poller per `Type: SQS` event (the event source mapping), one scheduler per `Type: Schedule` event;
- an HTTP API adapter for the `Type: HttpApi` events, and for the results dashboard under /dashboard/.
`.local/stack.json` says where everything is. Leaving the context stops every part (children included).
"""

from __future__ import annotations

import json
import logging
import signal
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import boto3
import requests

from local import heap, moto_s3, moto_scale, s3_events, xray
from local.edge import LocalJwtIssuer, create_secrets, http_api_servers
from local.endpoint import DEFAULT_ARTIFACT, EndpointHandler, EndpointServer
from local.endpoint_process import EndpointWorkers, local_endpoint
from local.function_host import FunctionPool, Invocation
from local.functions import FunctionSpec, function_specs, sqs_event_sources
from local.http_api import HttpApiServer
from local.moto_server import SerializedMotoServer
from local.pollers import Scheduler, SqsPoller, start_schedulers
from local.resolve import (
    ACCOUNT_ID,
    PARTITION,
    LocalNames,
    Resolver,
    UnresolvedReferenceError,
    parameter_values,
)
from local.state import STATE_FILE_NAME, StackInfo
from local.template import PROJECT_ROOT, load_template, table_definition

logger = logging.getLogger("local.stack")
# moto server logs every request at INFO; the emulator's own lines are what a user wants to see.
logging.getLogger("werkzeug").setLevel(logging.WARNING)

DEFAULT_STACK_NAME = "review-sentiment-local"
DEFAULT_REGION = "us-east-1"
MODEL_KEY = "model/model.tar.gz"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


class LocalStack:
    """Every part of the local emulator; a context manager that starts them all and stops them all."""

    def __init__(
        self,
        *,
        template: dict[str, Any] | None = None,
        project_root: Path = PROJECT_ROOT,
        state_dir: Path | None = None,
        stack_name: str = DEFAULT_STACK_NAME,
        bucket_name: str | None = None,
        region: str = DEFAULT_REGION,
        parameter_overrides: dict[str, str] | None = None,
        visibility_timeout: int | None = None,
        max_concurrency: int = 2,
        endpoint_handler: EndpointHandler | None = None,
        model_artifact: Path = DEFAULT_ARTIFACT,
        api_port: int = 0,
        write_state: bool = True,
        jwt_issuer: LocalJwtIssuer | None = None,
        schedule_seconds: float | None = None,  # run Schedule events this often instead of at their rate
        reset_state: bool = True,  # False: keep moto's state (another emulator runs in this process)
    ) -> None:
        self.template = template if template is not None else load_template()
        self.project_root = project_root
        self.state_dir = state_dir or project_root / ".local"
        self.stack_name = stack_name
        self.bucket_name = bucket_name or stack_name
        self.region = region
        self.visibility_timeout = visibility_timeout
        self.max_concurrency = max(1, max_concurrency)
        self._endpoint_handler = endpoint_handler
        self._model_artifact = model_artifact
        self._api_port, self._schedule_seconds = api_port, schedule_seconds
        self._write_state, self._reset_state = write_state, reset_state
        self.jwt_issuer = jwt_issuer  # with one, the emulator is a stack deployed with AuthMode=oidc for it
        overrides = {**(jwt_issuer.parameter_overrides if jwt_issuer else {}), **(parameter_overrides or {})}
        if "ModelDataUrl" in self.template.get("Parameters", {}):
            # As `make deploy` does: the artifact goes to a bucket (the local one), so CreateEndpoint holds.
            overrides.setdefault("ModelDataUrl", f"s3://{self.bucket_name}/{MODEL_KEY}")
        self.names = LocalNames(stack_name, region, parameter_values(self.template, overrides))
        self.resolver = Resolver(self.template, self.names)
        self.info: StackInfo | None = None
        self.pools: dict[str, FunctionPool] = {}
        self.pollers: list[SqsPoller | Scheduler] = []
        self.specs: dict[str, FunctionSpec] = {}
        self.queue_urls: dict[str, str] = {}
        self._moto: SerializedMotoServer | None = None
        self.endpoint: EndpointServer | EndpointWorkers | None = None  # the model's, in-process or its own
        self._api: HttpApiServer | None = None
        self._origin: HttpApiServer | None = None
        self.moto_url = ""
        self._heap_settled = False

    # ------------------------------------------------------------------------------------------------------
    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def client(self, service: str) -> Any:
        """A boto3 client of the emulator's moto server (fake credentials, never real AWS)."""
        session = boto3.session.Session()
        return session.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.moto_url,
            region_name=self.region,
            **{name.lower(): value for name, value in FAKE_CREDENTIALS.items()},
        )

    def start(self) -> StackInfo:
        resources: dict[str, dict[str, Any]] = self.template.get("Resources", {})
        active = {
            logical_id: resource
            for logical_id, resource in resources.items()
            if self.resolver.exists(resource, logical_id)
        }
        self._start_moto()
        self._name_resources(active)
        self._create_queues(active)
        self._create_tables(active)
        self._create_buckets(active)
        secrets = self.client("secretsmanager")
        create_secrets(secrets, active, self.names, self.resolver)
        endpoint_name = self._start_endpoint(active)
        self.specs = function_specs(self.template, self.resolver, self.project_root)
        self._start_functions()
        self._api, self._origin = http_api_servers(
            self.template, active, self.resolver, self.invoke, self._api_port, self.jwt_issuer
        )
        bucket = next((self.names.refs[i] for i, r in active.items() if r["Type"] == "AWS::S3::Bucket"), "")
        globals_env = self.template.get("Globals", {}).get("Function", {}).get("Environment", {})
        incoming = str(globals_env.get("Variables", {}).get("INCOMING_PREFIX", "incoming/"))
        table = next(
            (self.names.refs[i] for i, r in active.items() if r["Type"] == "AWS::DynamoDB::Table"), ""
        )
        self.info = StackInfo(
            aws_endpoint_url=self.moto_url,
            region=self.region,
            bucket=bucket,
            incoming_prefix=incoming,
            api_url=self._api.url,
            sagemaker_runtime_url=self.endpoint.url if self.endpoint else "",
            endpoint_name=endpoint_name,
            table_name=table,
            queues=dict(self.queue_urls),
            logs_dir=str(self.state_dir / "logs"),
            origin_url=self._origin.url,
            dashboard_url=self._api.dashboard_url,
        )
        if self._write_state:
            self.info.write(self.state_dir / STATE_FILE_NAME)
        heap.settle()  # what exists now is never garbage: out of the collector's way (local/heap.py)
        self._heap_settled = True
        return self.info

    def stop(self) -> None:
        """Stop every part; safe to call more than once and after a failed start."""
        for poller in self.pollers:
            poller._stop.set()  # all at once, so their long polls end together
        for poller in self.pollers:
            poller.stop()
        self.pollers = []
        for server in (self._api, self._origin, self.endpoint):
            if server is not None:
                server.stop()
        self._api = self._origin = self.endpoint = None
        for pool in self.pools.values():
            pool.close()
        self.pools = {}
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self._write_state:
            (self.state_dir / STATE_FILE_NAME).unlink(missing_ok=True)
        if self._heap_settled:
            heap.release()
            self._heap_settled = False

    # ------------------------------------------------------------------------------------------------------
    def invoke(self, function_id: str, event: dict[str, Any]) -> Invocation:
        """Invoke a function of the template synchronously (what the HTTP adapter and the pollers do)."""
        return self.pools[function_id].invoke(event)

    def _start_moto(self) -> None:
        s3_events.install()
        xray.install()
        moto_scale.install()  # moto's DynamoDB without costs that grow with the table (local/moto_scale.py)
        moto_s3.install()  # large objects on disk, joined and read a part at a time (local/moto_s3.py)
        self._moto = SerializedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        # moto's state lives in this process: start from nothing, even after an earlier emulator in it,
        # unless told to keep the state of one still running here (under another stack name).
        if self._reset_state:
            requests.post(f"{self.moto_url}/moto-api/reset", timeout=10).raise_for_status()

    def _name_resources(self, active: dict[str, dict[str, Any]]) -> None:
        names, region, stack = self.names, self.region, self.stack_name
        account = f"{region}:{ACCOUNT_ID}"
        first_bucket = True
        for logical_id, resource in active.items():
            kind = resource["Type"]
            physical = f"{stack}-{logical_id}"
            if kind == "AWS::SQS::Queue":
                names.attributes[(logical_id, "Arn")] = f"arn:{PARTITION}:sqs:{account}:{physical}"
                names.attributes[(logical_id, "QueueName")] = physical
            elif kind == "AWS::S3::Bucket":
                bucket = self.bucket_name if first_bucket else f"{stack}-{logical_id.lower()}"
                first_bucket = False
                names.refs[logical_id] = bucket
                names.attributes[(logical_id, "Arn")] = f"arn:{PARTITION}:s3:::{bucket}"
            elif kind == "AWS::DynamoDB::Table":
                names.refs[logical_id] = physical
                names.attributes[(logical_id, "Arn")] = f"arn:{PARTITION}:dynamodb:{account}:table/{physical}"
            elif kind == "AWS::SageMaker::Endpoint":
                given = resource.get("Properties", {}).get("EndpointName")
                physical = self.resolver.resolve_str(given, logical_id) if given else physical
                names.attributes[(logical_id, "EndpointName")] = physical
                names.refs[logical_id] = f"arn:{PARTITION}:sagemaker:{account}:endpoint/{physical}"
            elif kind == "AWS::Serverless::Function":
                names.refs[logical_id] = physical
                names.attributes[(logical_id, "Arn")] = (
                    f"arn:{PARTITION}:lambda:{account}:function:{physical}"
                )
            elif kind == "AWS::Serverless::HttpApi":
                names.refs[logical_id] = "local"
            elif kind == "AWS::SecretsManager::Secret":  # its value: LocalNames.secret_value
                names.refs[logical_id] = f"arn:{PARTITION}:secretsmanager:{account}:secret:{physical}"

    def _create_queues(self, active: dict[str, dict[str, Any]]) -> None:
        sqs = self.client("sqs")
        queues = {i: r for i, r in active.items() if r["Type"] == "AWS::SQS::Queue"}
        for logical_id, resource in queues.items():
            properties = resource.get("Properties", {})
            attributes = {
                "VisibilityTimeout": str(
                    self.visibility_timeout
                    if self.visibility_timeout is not None
                    else self.resolver.resolve(properties.get("VisibilityTimeout", 30), logical_id)
                ),
                "MessageRetentionPeriod": str(
                    self.resolver.resolve(properties.get("MessageRetentionPeriod", 345600), logical_id)
                ),
            }
            name = self.names.attributes[(logical_id, "QueueName")]
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            self.queue_urls[logical_id] = url
            self.names.refs[logical_id] = url
            self.names.attributes[(logical_id, "QueueUrl")] = url
        # Redrive policies name other queues' ARNs: set them once every queue exists.
        for logical_id, resource in queues.items():
            policy = resource.get("Properties", {}).get("RedrivePolicy")
            if policy:
                resolved = self.resolver.resolve(policy, f"{logical_id}.RedrivePolicy")
                sqs.set_queue_attributes(
                    QueueUrl=self.queue_urls[logical_id], Attributes={"RedrivePolicy": json.dumps(resolved)}
                )

    def _create_tables(self, active: dict[str, dict[str, Any]]) -> None:
        dynamodb = self.client("dynamodb")
        for logical_id, resource in active.items():
            if resource["Type"] == "AWS::DynamoDB::Table":
                dynamodb.create_table(
                    TableName=self.names.refs[logical_id], **table_definition(logical_id, self.template)
                )

    def _create_buckets(self, active: dict[str, dict[str, Any]]) -> None:
        s3 = self.client("s3")
        for logical_id, resource in active.items():
            if resource["Type"] != "AWS::S3::Bucket":
                continue
            bucket = self.names.refs[logical_id]
            properties = resource.get("Properties", {})
            s3.create_bucket(Bucket=bucket)
            if properties.get("VersioningConfiguration", {}).get("Status") == "Enabled":
                s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            queue_configurations = s3_events.queue_configurations(
                logical_id, properties.get("NotificationConfiguration", {}), self.resolver.resolve_str
            )
            if queue_configurations:
                s3.put_bucket_notification_configuration(
                    Bucket=bucket, NotificationConfiguration={"QueueConfigurations": queue_configurations}
                )

    def _start_endpoint(self, active: dict[str, dict[str, Any]]) -> str:
        endpoint_ids = [i for i, r in active.items() if r["Type"] == "AWS::SageMaker::Endpoint"]
        if endpoint_ids:
            name = self.names.attributes[(endpoint_ids[0], "EndpointName")]
        else:
            # No endpoint in the template (or ExistingEndpointName is set): serve under the parameter's name.
            name = self.names.parameters.get("ExistingEndpointName", "")
        if not name:
            return ""
        self.endpoint = local_endpoint(
            name, self._endpoint_handler, self._model_artifact, self.state_dir, workers=self.max_concurrency
        )
        model_url = self.names.parameters.get("ModelDataUrl", "")
        if self._endpoint_handler is None and model_url.startswith(f"s3://{self.bucket_name}/"):
            # The artifact the endpoint serves is where ModelDataUrl says, as after `make deploy`.
            key = model_url.removeprefix(f"s3://{self.bucket_name}/")
            self.client("s3").upload_file(str(self._model_artifact), self.bucket_name, key)
        self.endpoint.start()
        return name

    def _start_functions(self) -> None:
        assert self.moto_url
        extra = {
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            # X-Ray has no local daemon; EMF metrics still print (into the function's log file).
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        if self.endpoint is not None:
            extra["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = self.endpoint.url
        sources = sqs_event_sources(self.template, self.resolver)
        concurrency: dict[str, int] = {}
        for source in sources:
            wanted = min(source.maximum_concurrency or self.max_concurrency, self.max_concurrency)
            concurrency[source.function_id] = concurrency.get(source.function_id, 0) + wanted
        logs = self.state_dir / "logs"
        for function_id, spec in self.specs.items():
            instances = concurrency.get(function_id, self.max_concurrency)
            pool = FunctionPool(spec, extra, logs / f"{function_id}.log", max_instances=instances)
            pool.prewarm(1)
            self.pools[function_id] = pool
        for source in sources:
            if source.queue_id not in self.queue_urls:
                raise UnresolvedReferenceError(
                    f"{source.function_id}.{source.event_name}: no queue {source.queue_id}"
                )
            pool = self.pools[source.function_id]
            poller = SqsPoller(
                source,
                self.client("sqs"),
                self.queue_urls[source.queue_id],
                self.names.attributes[(source.queue_id, "Arn")],
                self.region,
                pool.invoke,
                concurrency=min(source.maximum_concurrency or self.max_concurrency, self.max_concurrency),
            )
            poller.start()
            self.pollers.append(poller)
        self.pollers += start_schedulers(self.template, self.pools, self._schedule_seconds)

    @property
    def child_pids(self) -> list[int]:
        return [pid for pool in self.pools.values() for pid in pool.pids]


def stop_on_sigterm() -> None:
    """Make SIGTERM unwind like Ctrl-C, so `with LocalStack()` blocks stop every part (no orphan hosts)."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def start_emulator(**options: Any) -> LocalStack:
    """A started emulator (call .stop(), or use `with LocalStack(...)` instead)."""
    stack = LocalStack(**options)
    stack.__enter__()
    return stack


def environment_for_clients(info: StackInfo) -> dict[str, str]:
    """Variables that point the AWS CLI / boto3 at the emulator (for the how-to lines)."""
    return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": info.aws_endpoint_url, "AWS_DEFAULT_REGION": info.region}
