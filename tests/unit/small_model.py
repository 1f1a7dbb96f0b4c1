"""A small model trained by our own training code on the committed 400-review IMDb sample."""

from __future__ import annotations

from pathlib import Path

from model.train import main as train_main

SAMPLE = Path(__file__).resolve().parent / "model" / "fixtures" / "imdb_sample.jsonl.gz"

# Small hashing spaces keep the fixture model quick to train and load; the code path is the shipped one.
SMALL_MODEL_ARGS = ["--word-bits", "18", "--seed", "7", "--C", "1.0"]


def train_small(out_dir: Path, *extra: str) -> Path:
    """Train on the committed sample into out_dir; returns the model.tar.gz path."""
    code = train_main(
        ["--data", str(SAMPLE), "--output", str(out_dir), "--layout", "tar", *SMALL_MODEL_ARGS, *extra]
    )
    assert code == 0
    return out_dir / "model.tar.gz"
