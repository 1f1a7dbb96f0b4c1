"""What a training run leaves in SM_MODEL_DIR: the files SageMaker tars into model.tar.gz."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The same files as model.tar.gz holds (tests/unit/model/test_artifact_contract.py checks the tarball).
LOOSE_ARTIFACT_FILES = [
    "code/inference.py",
    "code/requirements.txt",
    "lexicon/LICENSE.txt",
    "lexicon/vader_lexicon.txt",
    "model.json",
    "weights.npz",
]


def files_in(model_dir: Path) -> list[str]:
    return sorted(p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*") if p.is_file())


def hyperparameters_of(model_dir: Path) -> dict[str, Any]:
    hyperparameters: dict[str, Any] = json.loads((model_dir / "model.json").read_text())["hyperparameters"]
    return hyperparameters
