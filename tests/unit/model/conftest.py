"""Fixtures for the model tests: the small model (tests/unit/conftest.py) extracted, and where things are."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SHIPPED = REPO / "model" / "artifact" / "model.tar.gz"
SHARED_IMDB = REPO.parent / "shared" / "data" / "imdb"


@pytest.fixture(scope="session")
def small_model_dir(small_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small artifact extracted, as SageMaker does into /opt/ml/model."""
    dest = tmp_path_factory.mktemp("small-model-dir")
    with tarfile.open(small_artifact) as tar:
        tar.extractall(dest, filter="data")
    return dest
