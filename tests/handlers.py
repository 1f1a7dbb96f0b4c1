"""A function's handler module, imported once the way Lambda does, and a LambdaContext to call it with.

Every function's module is `app.py`, so each gets a unique module name. Nothing is built at import: a handler
reaches its service through its cached `service()` getter. `handler_for` gives a test the module with a fresh
getter (same code, a cache of its own), so the service is built on first use from that test's environment:
no module is imported again and no cache is cleared.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"


@cache
def load_handler(name: str) -> ModuleType:
    """functions/<name>/app.py, imported on first use (e.g. load_handler("inference").lambda_handler)."""
    path = FUNCTIONS_DIR / name / "app.py"
    module_name = f"_function_{name}_app"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # pydantic and dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def handler_for(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The handler module, its `service()` building a new service on its first call in this test."""
    module = load_handler(name)
    for getter in ("service", "origin_verifier"):
        if hasattr(module, getter):
            monkeypatch.setattr(module, getter, cache(getattr(module, getter).__wrapped__))
    return module


@dataclass
class FakeLambdaContext:
    """The attributes of LambdaContext that Powertools reads."""

    function_name: str = "test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2026/01/01/[$LATEST]test"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def lambda_context(function_name: str = "test-function") -> FakeLambdaContext:
    return FakeLambdaContext(function_name=function_name)
