"""What the end-to-end tests run against: the local emulator, or a deployed stack found by its outputs.

Both targets answer the same few questions (where is the API, which bucket, under which prefix to upload,
which region, how long to wait for a job), so the tests do not care which one they talk to.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from local.state import StackInfo
from review_sentiment_cli.target import (
    DEFAULT_INCOMING_PREFIX,
    MissingStackOutputError,
    StackOutputs,
)

# Imported by the tests from here, where the suite's targets live.
__all__ = ["DEFAULT_INCOMING_PREFIX", "DeployedStack", "LocalEmulator", "MissingStackOutputError"]

# The emulator has warm function hosts and an in-process model: a job finishes in seconds.
LOCAL_POLL_TIMEOUT = 60.0
# A deployed stack may start cold: Lambda init, then the serverless endpoint's cold start (some seconds each
# time it scaled to zero), and two queues in between. Generous, as a test that waits too little lies.
DEPLOYED_POLL_TIMEOUT = 300.0


def new_run_id() -> str:
    """Sortable and unique: when the run started, plus randomness for runs started in the same second."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


class E2ETarget(Protocol):
    """The small interface the tests see, whichever target is behind it."""

    @property
    def description(self) -> str: ...
    @property
    def api_url(self) -> str: ...
    @property
    def bucket(self) -> str: ...
    @property
    def incoming_prefix(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def upload_prefix(self) -> str: ...
    @property
    def poll_timeout(self) -> float: ...
    @property
    def is_local(self) -> bool: ...


@dataclass(frozen=True)
class LocalEmulator:
    """The emulator the suite started, as `.local/stack.json` describes it."""

    api_url: str
    bucket: str
    incoming_prefix: str
    region: str
    aws_endpoint_url: str
    poll_timeout: float = LOCAL_POLL_TIMEOUT
    is_local: bool = True

    @classmethod
    def from_info(cls, info: StackInfo) -> LocalEmulator:
        return cls(
            api_url=info.api_url,
            bucket=info.bucket,
            incoming_prefix=info.incoming_prefix,
            region=info.region,
            aws_endpoint_url=info.aws_endpoint_url,
        )

    @property
    def description(self) -> str:
        return f"local emulator at {self.aws_endpoint_url}"

    @property
    def upload_prefix(self) -> str:
        # Each run starts a fresh emulator, so keys cannot collide with an earlier run's.
        return f"{self.incoming_prefix}e2e/"


@dataclass(frozen=True)
class DeployedStack:
    """A stack deployed with `make deploy`, known only by its CloudFormation outputs."""

    stack_name: str
    api_url: str
    bucket: str
    incoming_prefix: str
    region: str
    run_id: str = field(default_factory=new_run_id)
    poll_timeout: float = DEPLOYED_POLL_TIMEOUT
    is_local: bool = False

    @classmethod
    def from_outputs(cls, stack_name: str, cloudformation: Any, run_id: str | None = None) -> DeployedStack:
        """Read BucketName and CloudFrontUrl (or ApiUrl) from the stack's outputs, as the CLI does.

        `cloudformation` is a boto3 CloudFormation client; its region is the stack's region.
        """
        outputs = StackOutputs.read(stack_name, cloudformation)
        return cls(
            stack_name=stack_name,
            api_url=outputs.api_url,
            bucket=outputs.bucket,
            incoming_prefix=outputs.incoming_prefix,
            region=outputs.region,
            run_id=run_id or new_run_id(),
        )

    @property
    def description(self) -> str:
        return f"stack {self.stack_name} in {self.region}"

    @property
    def upload_prefix(self) -> str:
        # The bucket outlives every run (and is shared by whoever else tests the stack): one folder per run.
        return f"{self.incoming_prefix}e2e/{self.run_id}/"
