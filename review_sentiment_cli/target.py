"""Which stack the CLI talks to: the local emulator (`.local/stack.json`) or a deployed stack's outputs.

A deployed stack is known only by its CloudFormation outputs (BucketName, CloudFrontUrl or ApiUrl,
IncomingUri, the dead-letter queue URLs); the emulator writes the same facts to `.local/stack.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from local.state import STATE_FILE_NAME, StackInfo

DEFAULT_INCOMING_PREFIX = "incoming/"
LOCAL_STATE_FILE = Path(".local") / STATE_FILE_NAME
# The emulator's moto server takes any credentials; these keep a user's real ones away from it.
LOCAL_CREDENTIALS = {
    "aws_access_key_id": "local",
    "aws_secret_access_key": "local",
    "aws_session_token": "local",
}
DEAD_LETTER_OUTPUTS = ("IngestDeadLetterQueueUrl", "InferenceDeadLetterQueueUrl", "ExportDeadLetterQueueUrl")


class MissingStackOutputError(LookupError):
    """The stack lacks an output the CLI needs (wrong stack, or a template without it)."""


class NoTargetError(LookupError):
    """Neither --stack nor a running local emulator."""


@dataclass(frozen=True)
class StackOutputs:
    """A deployed stack's CloudFormation outputs, with the error a user can act on when one is missing."""

    stack_name: str
    region: str
    values: dict[str, str]

    @classmethod
    def read(cls, stack_name: str, cloudformation: Any) -> StackOutputs:
        """`cloudformation` is a boto3 CloudFormation client; its region is the stack's region."""
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        values = {o["OutputKey"]: str(o["OutputValue"]) for o in stacks[0].get("Outputs", [])}
        return cls(stack_name=stack_name, region=str(cloudformation.meta.region_name), values=values)

    def first(self, *keys: str) -> str:
        for key in keys:
            if self.values.get(key):
                return self.values[key]
        wanted, present = " or ".join(keys), ", ".join(sorted(self.values)) or "none"
        raise MissingStackOutputError(
            f"stack {self.stack_name!r} has no output {wanted} (it has: {present});"
            " is it a review-sentiment stack deployed from this template.yaml?"
        )

    @property
    def bucket(self) -> str:
        return self.first("BucketName")

    @property
    def api_url(self) -> str:
        return self.first("CloudFrontUrl", "ApiUrl").rstrip("/")

    @property
    def incoming_prefix(self) -> str:
        return incoming_prefix_of(self.values.get("IncomingUri", ""), self.bucket)


def incoming_prefix_of(incoming_uri: str, bucket: str) -> str:
    """The key prefix of the IncomingUri output (s3://<bucket>/incoming/), or the template's default."""
    location = f"s3://{bucket}/"
    if incoming_uri.startswith(location) and incoming_uri != location:
        return incoming_uri.removeprefix(location).rstrip("/") + "/"
    return DEFAULT_INCOMING_PREFIX


@dataclass(frozen=True)
class Target:
    """Where the CLI uploads and asks: a bucket and prefix, an HTTP API, the dead-letter queues."""

    description: str
    api_url: str
    bucket: str
    incoming_prefix: str
    region: str
    dead_letter_queue_urls: tuple[str, ...] = ()
    aws_endpoint_url: str | None = None  # the emulator's moto server; None means AWS itself

    @property
    def is_local(self) -> bool:
        return self.aws_endpoint_url is not None

    def client(self, service: str) -> Any:
        """A boto3 client for the target: the caller's AWS credentials, or the emulator's fake ones."""
        session = boto3.session.Session()
        if self.aws_endpoint_url is None:
            return session.client(service, region_name=self.region)  # type: ignore[call-overload]
        return session.client(  # type: ignore[call-overload]
            service, region_name=self.region, endpoint_url=self.aws_endpoint_url, **LOCAL_CREDENTIALS
        )

    @classmethod
    def of_emulator(cls, info: StackInfo) -> Target:
        return cls(
            description=f"local emulator at {info.api_url}",
            api_url=info.api_url,
            bucket=info.bucket,
            incoming_prefix=info.incoming_prefix,
            region=info.region,
            dead_letter_queue_urls=tuple(
                url
                for logical_id, url in sorted(info.queues.items())
                if logical_id.endswith("DeadLetterQueue")
            ),
            aws_endpoint_url=info.aws_endpoint_url,
        )

    @classmethod
    def of_stack(cls, outputs: StackOutputs) -> Target:
        return cls(
            description=f"stack {outputs.stack_name} in {outputs.region}",
            api_url=outputs.api_url,
            bucket=outputs.bucket,
            incoming_prefix=outputs.incoming_prefix,
            region=outputs.region,
            dead_letter_queue_urls=tuple(
                outputs.values[k] for k in DEAD_LETTER_OUTPUTS if outputs.values.get(k)
            ),
        )


def resolve_target(stack_name: str | None, region: str | None, state_file: Path = LOCAL_STATE_FILE) -> Target:
    """--stack wins; otherwise the running emulator's state file; otherwise a clear error."""
    if stack_name:
        cloudformation = boto3.session.Session(region_name=region).client("cloudformation")
        return Target.of_stack(StackOutputs.read(stack_name, cloudformation))
    if state_file.is_file():
        return Target.of_emulator(StackInfo.read(state_file))
    raise NoTargetError(
        f"no target: pass --stack NAME [--region R] for a deployed stack, or start the local emulator "
        f"(`make local`, which writes {state_file})"
    )
