"""The committed artifact model/artifact/model.tar.gz: size, load time, model card, recorded accuracy."""

from __future__ import annotations

import hashlib
import json
import tarfile

import numpy as np
import pytest

from model.data import read_reviews
from model.nbsvm import build_matrix
from model.serving import load_endpoint_handler
from model.train import TrainConfig, build_corpus, grouped_split, load_unsup, validate
from tests.unit.model.conftest import REPO, SHARED_IMDB, SHIPPED

CARD = json.loads((SHIPPED.parent / "model_card.json").read_text()) if SHIPPED.exists() else {}
needs_imdb = pytest.mark.skipif(
    not (SHARED_IMDB / "train.jsonl.gz").exists(),
    reason=f"IMDb training data not found at {SHARED_IMDB} (the shared data folder beside the repo)",
)


def test_given_shipped_artifact_then_it_is_small_and_matches_its_model_card() -> None:
    assert SHIPPED.exists(), "model/artifact/model.tar.gz is missing: run python -m model.train"
    data = SHIPPED.read_bytes()
    assert len(data) <= 25 * 1024 * 1024
    assert CARD["artifact"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert CARD["artifact"]["bytes"] == len(data)
    assert CARD["training"]["command"].startswith("python -m model.train ")


def test_given_shipped_artifact_then_its_serving_code_is_the_repo_s_single_source() -> None:
    # A change to model/serving/inference.py must ship with a retrained artifact (python -m model.train),
    # or the endpoint would serve other code than the repo's.
    with tarfile.open(SHIPPED) as tar:
        member = tar.extractfile("code/inference.py")
        assert member is not None
        shipped = member.read()
    assert shipped == (REPO / "model" / "serving" / "inference.py").read_bytes()


def test_given_shipped_artifact_when_loaded_then_it_reads_obvious_long_and_short_reviews() -> None:
    # When the local emulator's loader opens the shipped artifact (its load time is measured by
    # bench/model_serving.py, not asserted here: a timed test fails on a loaded machine)
    handler = load_endpoint_handler(SHIPPED)
    # Then it gets obvious reviews right, long and short, with its recorded version and uncertain band
    body = json.dumps(
        {
            "instances": [
                {"id": "p", "text": "One of the best films I have ever seen. Brilliant acting, a joy. 10/10"},
                {"id": "n", "text": "Dreadful. The worst movie of the year, a total waste of time. 1/10"},
                {"id": "neg", "text": "I didn't like it at all; it wasn't funny and the plot was not good."},
                {"id": "short-n", "text": "Terrible food and rude staff."},
                {"id": "short-p", "text": "Works great, I love it."},
            ]
        }
    ).encode()
    out, _ = handler(body, "application/json", "application/json")
    answer = json.loads(out)
    assert answer["model_version"] == CARD["model_version"]
    assert answer["uncertain_band"] == CARD["uncertainty"]["band"]
    labels = {p["id"]: p["label"] for p in answer["predictions"]}
    assert labels == {
        "p": "positive",
        "n": "negative",
        "neg": "negative",
        "short-n": "negative",
        "short-p": "positive",
    }


def _validation_split() -> tuple[list, np.ndarray, np.ndarray, np.ndarray]:
    reviews = read_reviews(SHARED_IMDB / "train.jsonl.gz")
    hp = CARD["hyperparameters"]
    tr, va = grouped_split(reviews, hp["val_size"], hp["seed"])
    y = np.array([r.label for r in reviews])
    return reviews, y, tr, va


@needs_imdb
def test_given_shipped_artifact_when_scoring_grouped_validation_split_then_accuracy_at_least_recorded() -> (
    None
):
    # Given the grouped validation split the model card's accuracy was measured on
    reviews, y, _, va = _validation_split()
    assert len(va) == CARD["metrics"]["validation_size"]
    handler = load_endpoint_handler(SHIPPED)
    # When the shipped artifact (refit on all labeled reviews) scores it through its own inference code
    texts = [reviews[i].text for i in va]
    scores = handler.model.predict_proba(texts)  # type: ignore[attr-defined]
    accuracy = float(((scores >= 0.5) == y[va]).mean())
    # Then it does at least as well as the recorded held-out accuracy (it has seen these reviews since),
    # which catches a wrong artifact, a serving/training featurizer skew or a broken calibration sign
    assert accuracy >= CARD["metrics"]["validation_accuracy"]


@pytest.mark.slow
@needs_imdb
def test_given_recorded_hyperparameters_when_refit_on_train_part_then_validation_accuracy_reproduced() -> (
    None
):
    # Given the recorded hyperparameters and the same grouped split
    reviews, _, _, _ = _validation_split()
    cfg = TrainConfig.from_json(CARD["hyperparameters"])
    corpus = build_corpus(reviews, cfg.spec, progress=False, valence=cfg.uses_valence)
    unsup = []
    if cfg.pseudo_fraction > 0:
        unsup = load_unsup(str(SHARED_IMDB / "unsup.jsonl.gz"), CARD["training"]["data"].get("max_unsup", 0))
    u = build_matrix([r.text for r in unsup], cfg.spec) if unsup else None
    # When the models are fit again on the train part only and measured on the held-out movies
    metrics = validate(reviews, corpus, u, cfg)["metrics"]
    # Then the held-out accuracy is the recorded one (training is deterministic given the seed)
    assert metrics["validation_accuracy"] == pytest.approx(CARD["metrics"]["validation_accuracy"], abs=0.002)
