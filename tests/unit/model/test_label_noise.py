"""The sentences' label noise: confident learning's rates per class and length bucket, the noise model
P(label positive) = r10 + (1 - r10 - r01) sigmoid(z) they are held fixed in, and their bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from model.calibration import (
    FlipRates,
    apply_length_calibration,
    expected_calibration_error,
    fit_length_calibration,
)
from model.noise import (
    bootstrap_flip_rates,
    confident_learning_class_rates,
    flip_rates_by_bucket,
    out_of_fold_probabilities,
)
from model.train import uncertain_band

# True rates: short texts (<= 30 tokens) flip negative -> positive 10% and positive -> negative 30%, longer
# texts 25% and 15%.
TRUE_TO_POSITIVE = (0.10, 0.25)
TRUE_TO_NEGATIVE = (0.30, 0.15)
SLOPE = 3.0


def _noisy_sentences(n: int, seed: int) -> dict[str, np.ndarray]:
    """Sentences of two length buckets with a sharp clean-label curve, labels flipped per class and
    bucket at the true rates, in 5 folds and 400 movies."""
    rng = np.random.default_rng(seed)
    margins = rng.normal(scale=2.0, size=(n, 1))
    clean = (rng.random(n) < 1.0 / (1.0 + np.exp(-SLOPE * margins[:, 0]))).astype(np.int64)
    tokens = np.where(rng.random(n) < 0.5, 12, 60)
    long = (tokens > 30).astype(np.int64)
    r10 = np.asarray(TRUE_TO_POSITIVE)[long]
    r01 = np.asarray(TRUE_TO_NEGATIVE)[long]
    flip = rng.random(n) < np.where(clean == 1, r01, r10)
    noisy = np.where(flip, 1 - clean, clean)
    return {
        "margins": margins,
        "clean": clean,
        "noisy": noisy,
        "tokens": tokens,
        "fold": rng.integers(0, 5, size=n),
        "movie": rng.integers(0, 400, size=n),
    }


@pytest.fixture(scope="module")
def sentences() -> dict[str, np.ndarray]:
    s = _noisy_sentences(80_000, seed=11)
    s["p"] = out_of_fold_probabilities(s["margins"], s["tokens"], s["noisy"], s["fold"], [30, 150])
    return s


def test_given_flips_that_differ_by_class_and_length_when_estimated_per_bucket_then_each_rate_is_found(
    sentences: dict[str, np.ndarray],
) -> None:
    # Given sentences whose labels flip at different rates per class and per length bucket
    s = sentences
    # When confident learning estimates the rates per class and bucket
    rates = flip_rates_by_bucket(s["p"], s["noisy"], s["tokens"], [30, 150])
    # Then each bucket's two rates are near the truth, in the right order (confident learning shrinks the
    # difference between the classes somewhat: 0.14 / 0.27 for the short bucket's 0.10 / 0.30), and the
    # bucket without sentences (over 150 tokens) takes the rates of all sentences, between the buckets'
    assert rates.to_positive[:2] == pytest.approx(TRUE_TO_POSITIVE, abs=0.045)
    assert rates.to_negative[:2] == pytest.approx(TRUE_TO_NEGATIVE, abs=0.045)
    assert rates.to_negative[0] - rates.to_positive[0] > 0.1
    assert rates.to_positive[1] - rates.to_negative[1] > 0.05
    assert (rates.to_positive[2], rates.to_negative[2]) == rates.overall
    assert rates.overall == pytest.approx(confident_learning_class_rates(s["p"], s["noisy"]))
    assert min(TRUE_TO_POSITIVE) < rates.overall[0] < max(TRUE_TO_POSITIVE)


def test_given_the_true_rates_when_the_noise_model_is_fit_then_the_clean_label_curve_is_recovered(
    sentences: dict[str, np.ndarray],
) -> None:
    # Given noisy labels drawn from P(label positive) = r10 + (1 - r10 - r01) sigmoid(3 m)
    s = sentences
    true = FlipRates((30, 150), (*TRUE_TO_POSITIVE, 0.17), (*TRUE_TO_NEGATIVE, 0.22), (0.17, 0.22))
    noisy_rows = np.ones(len(s["noisy"]), dtype=bool)
    # When the calibration is fit with those rates held fixed, and with one symmetric rate instead
    per_class = fit_length_calibration(s["margins"], s["tokens"], s["noisy"], [30, 150], noisy_rows, true)
    symmetric = fit_length_calibration(
        s["margins"], s["tokens"], s["noisy"], [30, 150], noisy_rows, FlipRates.single(0.2, [30, 150])
    )
    # Then per-class rates recover the slope and intercept of the clean curve in both buckets and the
    # scores are calibrated on the clean labels; one symmetric rate biases the short bucket's intercept
    # (it reads the class imbalance of the flips as a prior toward negative)
    for b in (0, 1):
        assert per_class.coef[b][0] == pytest.approx(SLOPE, rel=0.15)
        assert per_class.intercept[b] == pytest.approx(0.0, abs=0.15)
    p_clean = apply_length_calibration(per_class, s["margins"], s["tokens"])
    assert expected_calibration_error(p_clean, s["clean"]) < 0.02
    assert symmetric.intercept[0] < -0.3


def test_given_rates_for_other_buckets_when_the_calibration_is_fit_then_value_error() -> None:
    # Given rates estimated for buckets (30, 150) and a calibration asked for (20,)
    rates = FlipRates.single(0.2, [30, 150])
    m, y = np.zeros((100, 1)), np.arange(100) % 2
    # When / Then: the mismatch is refused instead of applying a bucket's rates to another length
    with pytest.raises(ValueError, match="per bucket"):
        fit_length_calibration(m, np.full(100, 10), y, [20], np.ones(100, dtype=bool), rates)


def test_given_rates_when_made_then_they_must_be_below_one_half_and_one_per_bucket() -> None:
    with pytest.raises(ValueError, match="one per length bucket"):
        FlipRates((30,), (0.1,), (0.1, 0.1), (0.1, 0.1))
    with pytest.raises(ValueError, match=r"\[0, 0.5\)"):
        FlipRates.single(0.5, [30])
    # Given a per-bucket rate table, each text takes its bucket's rates
    rates = FlipRates((30, 150), (0.1, 0.2, 0.3), (0.4, 0.3, 0.2), (0.2, 0.3))
    to_pos, to_neg = rates.per_row(np.array([5, 30, 31, 150, 151]))
    assert to_pos.tolist() == [0.1, 0.1, 0.2, 0.2, 0.3]
    assert to_neg.tolist() == [0.4, 0.4, 0.3, 0.3, 0.2]
    assert rates.to_json() == {
        "max_tokens": [30, 150],
        "to_positive": [0.1, 0.2, 0.3],
        "to_negative": [0.4, 0.3, 0.2],
        "overall": [0.2, 0.3],
    }


def test_given_rates_that_differ_when_bootstrapped_over_movies_then_the_intervals_tell_them_apart(
    sentences: dict[str, np.ndarray],
) -> None:
    # Given the sentences of 400 movies, whose short texts flip 10% one way and 30% the other
    s = sentences
    # When the per-class, per-bucket rates are bootstrapped over movies
    boot = bootstrap_flip_rates(s["p"], s["noisy"], s["tokens"], [30, 150], s["movie"], resamples=40)
    # Then each interval holds the estimate from all movies and is narrow; the short bucket's class
    # difference (true +0.2) and the long bucket's (true -0.1) exclude 0, with the sign of the truth
    rates = flip_rates_by_bucket(s["p"], s["noisy"], s["tokens"], [30, 150])
    for b in (0, 1):
        for name in ("to_positive", "to_negative"):
            lo, hi = boot[name][b]
            assert lo <= getattr(rates, name)[b] <= hi
            assert hi - lo < 0.03
    assert boot["class_difference"][0][0] > 0.05
    assert boot["class_difference"][1][1] < -0.03
    assert len(boot["bucket_difference"]) == 4  # buckets 2 and 3 against the first, per class


def test_given_per_class_rates_when_the_band_is_chosen_then_each_prediction_is_corrected_for_its_rate() -> (
    None
):
    # Given scores calibrated on the clean labels whose observed labels flip 10% (negative -> positive) and
    # 30% (positive -> negative)
    rng = np.random.default_rng(5)
    p = rng.random(100_000)
    clean = (rng.random(100_000) < p).astype(np.int64)
    observed = np.where(rng.random(100_000) < np.where(clean == 1, 0.3, 0.1), 1 - clean, clean)
    noisy = np.ones(100_000, dtype=bool)
    # When the band is chosen with per-row rates
    per_class = uncertain_band(
        p, observed, 0.75, noisy=noisy, flip_rate=(np.full(100_000, 0.1), np.full(100_000, 0.3))
    )
    # Then the per-class correction gives the band chosen on the clean labels, and ignoring the noise a far
    # wider one
    assert per_class == pytest.approx(uncertain_band(p, clean, 0.75), abs=0.02)
    assert uncertain_band(p, observed, 0.75)[0] < 0.15
