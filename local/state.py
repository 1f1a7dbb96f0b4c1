"""`.local/stack.json`: what the running emulator writes and its clients read (the CLI, the tests).

Kept apart from local/stack.py so that a client reads it without importing the emulator (moto, the model).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATE_FILE_NAME = "stack.json"


@dataclass
class StackInfo:
    """What `.local/stack.json` holds: where to upload, where to ask."""

    aws_endpoint_url: str
    region: str
    bucket: str
    incoming_prefix: str
    api_url: str  # the public URL (CloudFront's part played: origin headers added)
    sagemaker_runtime_url: str
    endpoint_name: str
    table_name: str = ""
    queues: dict[str, str] = field(default_factory=dict)  # logical id -> queue URL
    logs_dir: str = ""
    origin_url: str = ""  # the execute-api stand-in: what a caller reaching the API directly gets
    dashboard_url: str = ""  # the results dashboard, on the API's origin as behind CloudFront

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> StackInfo:
        return cls(**json.loads(path.read_text()))
