"""Calibration by text length (with noisy sentence labels), the uncertain band, and the report's plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.calibration import (
    FlipRates,
    apply_length_calibration,
    expected_calibration_error,
    fit_length_calibration,
    reliability_bins,
)
from model.data import review_sentences
from model.noise import confident_learning_flip_rate, out_of_fold_probabilities
from model.plots import reliability_diagram, score_histogram
from model.train import uncertain_band

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _labels(rng: np.random.Generator, z: np.ndarray) -> np.ndarray:
    return (rng.random(len(z)) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)


def test_given_two_length_buckets_when_calibrated_by_length_then_each_gets_its_own_weights() -> None:
    # Given two components whose margins mean different things for short and for long texts
    rng = np.random.default_rng(0)
    n = 20_000
    tokens = np.where(rng.random(n) < 0.5, 10, 300)
    margins = rng.normal(size=(n, 2))
    short = tokens <= 30
    true_z = np.where(
        short, 0.3 * margins[:, 0] + 2.0 * margins[:, 1], 2.0 * margins[:, 0] + 0.3 * margins[:, 1]
    )
    y = _labels(rng, true_z)
    # When a calibration is fit per length bucket
    cal = fit_length_calibration(margins, tokens, y, [30, 150])
    # Then each bucket recovers its own weighting of the components, and the scores are calibrated
    np.testing.assert_allclose(cal.coef[0], [0.3, 2.0], atol=0.15)
    np.testing.assert_allclose(cal.coef[2], [2.0, 0.3], atol=0.15)
    assert expected_calibration_error(apply_length_calibration(cal, margins, tokens), y) < 0.02


def test_given_flipped_sentence_labels_when_calibrated_with_noise_model_then_clean_slope_is_found() -> None:
    # Given short texts whose labels were flipped 20% of the time (a sentence keeps its review's label)
    rng = np.random.default_rng(1)
    n = 40_000
    margins = rng.normal(scale=2.0, size=(n, 1))
    clean = _labels(rng, 1.5 * margins[:, 0])
    noisy = np.where(rng.random(n) < 0.2, 1 - clean, clean)
    tokens = np.full(n, 12)
    # When calibrated ignoring the noise and with the noise model
    naive = fit_length_calibration(margins, tokens, noisy, [30])
    robust = fit_length_calibration(margins, tokens, noisy, [30], noisy=np.ones(n, dtype=bool))
    # Then the noise model's slope is close to the clean one, where the naive fit is far too flat
    assert robust.coef[0][0] == pytest.approx(1.5, abs=0.2)
    assert naive.coef[0][0] < 1.0
    p = apply_length_calibration(robust, margins, tokens)
    assert expected_calibration_error(p, clean) < 0.02


def test_given_calibrated_scores_when_the_band_is_chosen_then_it_holds_the_scores_right_less_than_asked() -> (
    None
):
    # Given perfectly calibrated scores
    rng = np.random.default_rng(2)
    p = rng.random(50_000)
    y = (rng.random(50_000) < p).astype(np.int64)
    # When the band is chosen for 75% accuracy
    low, high = uncertain_band(p, y, 0.75)
    # Then it is about [0.25, 0.75]: predictions outside are right at least 75% of the time
    assert low == pytest.approx(0.25, abs=0.04)
    assert high == pytest.approx(1 - low)
    outside = (p < low) | (p > high)
    assert ((p[outside] >= 0.5) == y[outside]).mean() >= 0.75


def test_given_a_review_when_split_into_sentences_then_short_fragments_and_line_breaks_are_handled() -> None:
    text = "Great film.<br /><br />The acting was superb and moving. Ok. I would watch it again! (Really.)"
    assert review_sentences(text) == ["The acting was superb and moving.", "I would watch it again!"]


def test_given_scores_when_plotted_then_reliability_diagram_and_histogram_are_real_pngs(
    tmp_path: Path,
) -> None:
    # Given calibrated scores and labels
    rng = np.random.default_rng(3)
    p = rng.random(2_000)
    y = (rng.random(2_000) < p).astype(np.int64)
    # When both plots are drawn with matplotlib's Agg canvas
    reliability_diagram(reliability_bins(p, y, 15), tmp_path / "rel.png", title="Reliability")
    score_histogram(p, y, tmp_path / "scores.png", title="Scores", band=(0.3, 0.7))
    # Then both are PNG images of a real figure (axes, legend and text make them tens of kilobytes)
    for name in ("rel.png", "scores.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == PNG_MAGIC
        assert len(data) > 15_000


def test_given_flipped_sentence_labels_when_confident_learning_runs_then_it_finds_the_flip_rate() -> None:
    # Given sentences of clear sentiment (a sharp clean-label curve) whose labels were flipped 20% of the
    # time, and their out-of-fold P(label) from a plain calibration fit on the other folds
    rng = np.random.default_rng(3)
    n = 60_000
    margins = rng.normal(scale=2.0, size=(n, 1))
    clean = _labels(rng, 3.0 * margins[:, 0])
    noisy = np.where(rng.random(n) < 0.2, 1 - clean, clean)
    tokens = np.full(n, 12)
    fold = rng.integers(0, 5, size=n)
    p = out_of_fold_probabilities(margins, tokens, noisy, fold, [30])
    # When the flip rate is estimated and held fixed in the noise model
    rate = confident_learning_flip_rate(p, noisy)
    rates = FlipRates.single(rate, [30])
    cal = fit_length_calibration(margins, tokens, noisy, [30], noisy=np.ones(n, dtype=bool), flip_rates=rates)
    # Then the estimate is near the true 20% and the calibrated scores are calibrated on the clean labels
    assert rate == pytest.approx(0.2, abs=0.03)
    assert cal.coef[0][0] == pytest.approx(3.0, rel=0.25)
    assert expected_calibration_error(apply_length_calibration(cal, margins, tokens), clean) < 0.02


def test_given_labels_of_one_class_when_confident_learning_runs_then_value_error() -> None:
    with pytest.raises(ValueError, match="both labels"):
        confident_learning_flip_rate(np.array([0.2, 0.9]), np.array([1, 1]))


def test_given_noisy_sentence_labels_when_the_band_is_chosen_then_the_flip_rate_is_corrected_for() -> None:
    # Given scores calibrated on the clean labels, whose observed labels were flipped 20% of the time
    rng = np.random.default_rng(4)
    p = rng.random(50_000)
    clean = (rng.random(50_000) < p).astype(np.int64)
    observed = np.where(rng.random(50_000) < 0.2, 1 - clean, clean)
    noisy = np.ones(50_000, dtype=bool)
    # When the band is chosen on the observed labels, as is and corrected for the flip rate
    naive = uncertain_band(p, observed, 0.75)
    corrected = uncertain_band(p, observed, 0.75, noisy=noisy, flip_rate=0.2)
    # Then the corrected band is the clean one (right 75% of the time from 0.25 and 0.75 out) and the naive
    # one is far wider
    assert corrected == pytest.approx([0.25, 0.75], abs=0.03)
    assert naive[0] < 0.15
