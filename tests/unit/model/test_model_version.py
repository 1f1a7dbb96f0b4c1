"""model_version names everything that makes the model's answers, not only its weights."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np

from model.export import ExportComponent, write_model_dir
from model.serving.inference import BINARY, FeatureSpec

CALIBRATION: dict[str, Any] = {
    "method": "logistic-by-length",
    "components": ["nblr"],
    "buckets": [
        {"max_tokens": 30, "coef": [2.0], "intercept": -0.1},
        {"max_tokens": None, "coef": [1.0], "intercept": 0.0},
    ],
}
NOISE: dict[str, Any] = {
    "sentence_flip_rate_method": "confident learning, per class and length bucket",
    "sentence_flip_rates": {
        "max_tokens": [30],
        "to_positive": [0.2, 0.2],
        "to_negative": [0.22, 0.22],
        "overall": [0.2, 0.22],
    },
}


def _write(
    out: Path, calibration: dict[str, Any], noise: dict[str, Any], band: list[float]
) -> dict[str, Any]:
    weights = np.zeros(1 << 10, dtype=np.float32)
    weights[[3, 77, 500]] = [0.5, -0.25, 1.0]
    return write_model_dir(
        out,
        FeatureSpec(word_bits=10),
        [ExportComponent("nblr", BINARY, weights, 0.1)],
        calibration,
        "nbsvm-hash-1-3",
        "20261130",
        {"seed": 1},
        {"uncertainty": {"band": band, "rule": "test"}},
        label_noise=noise,
    )


def test_given_the_same_weights_when_the_calibration_or_noise_rates_change_then_the_version_changes(
    tmp_path: Path,
) -> None:
    # Given an artifact, and others with the same weights but another calibration, other noise rates or
    # another uncertain band
    base = _write(tmp_path / "base", CALIBRATION, NOISE, [0.3, 0.7])
    again = _write(tmp_path / "again", CALIBRATION, NOISE, [0.3, 0.7])
    other_cal = copy.deepcopy(CALIBRATION)
    other_cal["buckets"][0]["intercept"] = -0.2
    recalibrated = _write(tmp_path / "recalibrated", other_cal, NOISE, [0.3, 0.7])
    other_noise = copy.deepcopy(NOISE)
    other_noise["sentence_flip_rates"]["to_negative"] = [0.25, 0.22]
    renoised = _write(tmp_path / "renoised", CALIBRATION, other_noise, [0.3, 0.7])
    reband = _write(tmp_path / "reband", CALIBRATION, NOISE, [0.25, 0.75])
    # When their versions are compared
    versions = [m["model_version"] for m in (base, recalibrated, renoised, reband)]
    # Then the same inputs give the same version, each change gives a new one, while the weights' digest
    # stays the same; model.json records the rates and the digest the version is named after
    assert again["model_version"] == base["model_version"]
    assert len(set(versions)) == 4
    assert {m["weights"]["sha256"] for m in (base, recalibrated, renoised, reband)} == {
        base["weights"]["sha256"]
    }
    assert all(v.startswith("nbsvm-hash-1-3-20261130-") for v in versions)
    written = json.loads((tmp_path / "base" / "model.json").read_text())
    assert written["label_noise"] == NOISE
    assert written["model_version"].endswith(written["version_sha256"][:8])
    assert written["version_sha256"] != written["weights"]["sha256"]
