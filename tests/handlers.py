"""Load a function's handler module the way Lambda does, and a LambdaContext to call it with.

Every function's module is `app.py`, so each load gets a unique module name; loading again (after the test
set its environment) gives a fresh module whose import-time clients see that environment.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
_LOADS = itertools.count()


def load_handler(name: str) -> ModuleType:
    """Import functions/<name>/app.py as a new module (e.g. load_handler("inference").lambda_handler)."""
    path = FUNCTIONS_DIR / name / "app.py"
    module_name = f"_function_{name}_app_{next(_LOADS)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # pydantic and dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
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
