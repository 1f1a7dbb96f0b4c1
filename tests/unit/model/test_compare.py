"""model.compare: two artifacts on one labeled set, paired bootstrap and the ECE floor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model.compare import ece_floor, main, paired_bootstrap


def test_given_the_same_scores_when_compared_then_every_difference_is_zero() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(500)
    y = (rng.random(500) < p).astype(np.int64)
    out = paired_bootstrap(p, p, y, resamples=50)
    assert out["ece_difference"] == 0.0
    assert out["ece_difference_95"] == [0.0, 0.0]
    assert out["accuracy_difference_95"] == [0.0, 0.0]
    assert out["labels_changed"] == 0


def test_given_a_calibrated_and_an_overconfident_model_when_compared_then_the_calibrated_one_wins() -> None:
    # Given labels drawn from p (so p is calibrated) and an over-confident copy of it
    rng = np.random.default_rng(2)
    p = rng.random(3000)
    y = (rng.random(3000) < p).astype(np.int64)
    sharp = 1.0 / (1.0 + np.exp(-4.0 * np.log(p / (1 - p))))
    # When B = calibrated is compared with A = over-confident
    out = paired_bootstrap(sharp, p, y, resamples=200)
    # Then B's ECE is lower in nearly every resample and no label changes (same side of 0.5)
    assert out["ece_difference_95"][1] < 0
    assert out["ece_lower_share"] > 0.97
    assert out["labels_changed"] == 0


def test_given_perfectly_calibrated_scores_when_the_floor_is_drawn_then_it_shrinks_with_more_texts() -> None:
    rng = np.random.default_rng(3)
    small, large = ece_floor(rng.random(1000), draws=100), ece_floor(rng.random(20_000), draws=100)
    assert 0.0 < small["lo"] <= small["median"] <= small["hi"]
    assert large["median"] < small["median"] / 2


def test_given_two_artifacts_when_run_from_the_command_line_then_it_prints_the_report(
    small_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a labeled file of short texts and the small artifact compared with itself
    data = tmp_path / "short.jsonl"
    texts = [
        ("A wonderful, moving film.", 1),
        ("Dull and far too long.", 0),
        ("Great acting.", 1),
        ("Awful.", 0),
    ]
    data.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in texts))
    # When compared
    assert (
        main(
            [
                "--data",
                str(data),
                "--resamples",
                "20",
                "--draws",
                "20",
                str(small_artifact),
                str(small_artifact),
            ]
        )
        == 0
    )
    # Then the JSON report names both versions and finds no difference
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 4
    assert report["a"]["model_version"] == report["b"]["model_version"]
    assert report["b_minus_a"]["ece_difference"] == 0.0
    assert report["b_minus_a"]["labels_changed"] == 0
