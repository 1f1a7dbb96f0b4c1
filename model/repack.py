"""Ship this repository's serving code in an existing artifact, when it answers exactly as the artifact's own.

    python -m model.repack [--artifact model/artifact/model.tar.gz] [--data PATH] [--limit N]

For a change to model/serving/inference.py that keeps every answer (a faster tokenizer, say): the artifact's
model.json, weights and lexicon stay as they are, so does its model_version; code/inference.py is replaced
and the model card rewritten (its artifact digest and size). Before anything is written, both codes score the
same reviews (--data, any file or folder model.data reads, labeled and unlabeled; by default the project's
samples/) and every probability must be equal to the last bit (so are the labels and uncertain flags made
from it). A change that moves one needs a retrained artifact: `python -m model.train`.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tarfile
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from model.card import rewrite_card
from model.data import DataError, read_reviews
from model.export import SERVING_DIR, SERVING_FILES, make_tarball

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ARTIFACT = REPO / "model" / "artifact" / "model.tar.gz"
# The project's sample reviews: 200 labeled (JSON lines) and 150 others, unlabeled (CSV)
DEFAULT_DATA = (REPO / "samples" / "imdb_reviews.jsonl", REPO / "samples" / "imdb_reviews.csv.gz")
BATCH = 100  # reviews per request, as the inference function sends them


class AnswersDifferError(RuntimeError):
    """The repository's serving code does not answer as the artifact's own: retrain instead."""


def read_texts(paths: Sequence[Path], limit: int) -> list[str]:
    """Up to `limit` review texts from the files, labeled and unlabeled rows alike."""
    texts: list[str] = []
    for path in paths:
        for unlabeled in (False, True):
            try:
                reviews = read_reviews(path, unlabeled=unlabeled)
            except DataError:  # a file with no labeled (or no unlabeled) rows
                continue
            texts += [review.text for review in reviews if review.text.strip()]
    if not texts:
        raise DataError(f"no reviews in {', '.join(map(str, paths))}")
    return texts[:limit]


def probabilities(artifact: Path, texts: Sequence[str]) -> np.ndarray:
    """P(positive) of each text from the artifact's own code/inference.py and model, in batches of BATCH (as
    the inference function sends them): what the endpoint rounds into its answers' scores."""
    with tempfile.TemporaryDirectory(prefix="repack-") as scratch:
        unpacked = Path(scratch)
        with tarfile.open(artifact) as tar:
            tar.extractall(unpacked, filter="data")
        spec = importlib.util.spec_from_file_location(
            f"_repack_{uuid.uuid4().hex}", unpacked / "code" / "inference.py"
        )
        if spec is None or spec.loader is None:
            raise ImportError(f"{artifact} has no code/inference.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
        try:
            spec.loader.exec_module(module)
            model = module.model_fn(str(unpacked))
            batches = [model.predict_proba(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)]
        finally:
            del sys.modules[spec.name]
    return np.concatenate(batches)


def with_serving_code(artifact: Path, out: Path) -> str:
    """A copy of the artifact at `out` whose code/ is this repository's; returns its sha256."""
    with tempfile.TemporaryDirectory(prefix="repack-") as scratch:
        unpacked = Path(scratch) / "model"
        with tarfile.open(artifact) as tar:
            tar.extractall(unpacked, filter="data")
        for name in SERVING_FILES:
            shutil.copyfile(SERVING_DIR / name, unpacked / "code" / name)
        return make_tarball(unpacked, out)


def repack(artifact: Path, texts: Sequence[str]) -> tuple[str, int]:
    """Replace the artifact's serving code after checking the answers; (its model_version, reviews compared).
    Raises AnswersDifferError, leaving the artifact as it was, when one answer differs."""
    before = probabilities(artifact, texts)
    with tempfile.TemporaryDirectory(prefix="repack-") as scratch:
        candidate = Path(scratch) / "model.tar.gz"
        with_serving_code(artifact, candidate)
        after = probabilities(candidate, texts)
        differing = np.flatnonzero(before != after)
        if differing.size:
            first = int(differing[0])
            raise AnswersDifferError(
                f"{differing.size} of {len(texts)} scores differ (review {first}: {before[first]!r} -> "
                f"{after[first]!r}): retrain with python -m model.train"
            )
        shutil.copyfile(candidate, artifact)
    meta = rewrite_card(artifact)
    return str(meta["model_version"]), len(texts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.repack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", type=Path, default=DEFAULT_ARTIFACT)
    parser.add_argument("--data", type=Path, action="append", help="reviews to compare on (repeatable)")
    parser.add_argument("--limit", type=int, default=100_000, help="compare on at most this many reviews")
    args = parser.parse_args(argv)
    texts = read_texts(args.data or DEFAULT_DATA, args.limit)
    try:
        version, compared = repack(args.artifact, texts)
    except AnswersDifferError as error:
        raise SystemExit(f"not repacked: {error}") from error
    print(f"repacked {args.artifact} ({version}) with model/serving/: {compared:,} scores identical")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
