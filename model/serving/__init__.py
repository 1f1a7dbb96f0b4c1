"""In-process endpoint for the local emulator: serves exactly the code shipped inside a model.tar.gz."""

from __future__ import annotations

import atexit
import importlib.util
import itertools
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

EndpointHandler = Callable[[bytes, str, str], tuple[bytes, str]]
_COUNTER = itertools.count()


def _safe_extract(tar_path: Path, dest: Path) -> None:
    with tarfile.open(tar_path, "r:*") as tar:
        tar.extractall(dest, filter="data")


def _import_inference(code_dir: Path) -> ModuleType:
    """Import code/inference.py under a unique module name, without touching sys.path for good."""
    name = f"_sentiment_artifact_inference_{next(_COUNTER)}"
    spec = importlib.util.spec_from_file_location(name, code_dir / "inference.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {code_dir / 'inference.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here while the class is built
    sys.path.insert(0, str(code_dir))  # for helper modules next to inference.py, as in the container
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(code_dir))
    return module


def load_endpoint_handler(tar_path: str | Path) -> EndpointHandler:
    """Extract model.tar.gz to a temp dir, import its code/inference.py and chain the four functions.

    The returned callable takes (body, content_type, accept) and returns (response body, content type);
    bad requests raise ValueError from input_fn, as in the SageMaker scikit-learn container.
    """
    tmp = Path(tempfile.mkdtemp(prefix="sentiment-model-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    _safe_extract(Path(tar_path), tmp)
    code_dir = tmp / "code"
    if not (code_dir / "inference.py").is_file():
        raise FileNotFoundError(f"{tar_path} has no code/inference.py")
    module = _import_inference(code_dir)
    model: Any = module.model_fn(str(tmp))

    def handle(body: bytes, content_type: str, accept: str = "application/json") -> tuple[bytes, str]:
        data = module.input_fn(body, content_type)
        prediction = module.predict_fn(data, model)
        out, out_type = module.output_fn(prediction, accept)
        return (out.encode("utf-8") if isinstance(out, str) else out), out_type

    handle.model = model  # type: ignore[attr-defined]
    handle.module = module  # type: ignore[attr-defined]
    return handle
