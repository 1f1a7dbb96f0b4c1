"""Fixtures for the model tests: a small committed IMDb sample and a model trained on it once per session."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from model.train import main as train_main

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE = FIXTURES / "imdb_sample.jsonl.gz"
REPO = Path(__file__).resolve().parents[3]
SHIPPED = REPO / "model" / "artifact" / "model.tar.gz"
SHARED_IMDB = REPO.parent / "shared" / "data" / "imdb"

# Small hashing spaces keep the fixture model quick to train and load; the code path is the shipped one.
SMALL_MODEL_ARGS = ["--word-bits", "18", "--seed", "7", "--C", "1.0"]


def train_small(out_dir: Path, *extra: str) -> Path:
    """Train on the committed sample into out_dir; returns the model.tar.gz path."""
    code = train_main(
        ["--data", str(SAMPLE), "--output", str(out_dir), "--layout", "tar", *SMALL_MODEL_ARGS, *extra]
    )
    assert code == 0
    return out_dir / "model.tar.gz"


@pytest.fixture(scope="session")
def small_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """model.tar.gz trained on the 400-review sample (the same code path as the shipped model)."""
    return train_small(tmp_path_factory.mktemp("small-model"))


@pytest.fixture(scope="session")
def small_model_dir(small_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small artifact extracted, as SageMaker does into /opt/ml/model."""
    dest = tmp_path_factory.mktemp("small-model-dir")
    with tarfile.open(small_artifact) as tar:
        tar.extractall(dest, filter="data")
    return dest
