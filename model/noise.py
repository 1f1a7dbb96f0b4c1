"""How often a review sentence's inherited label is wrong for the sentence: the flip rates the length
calibration's label-noise model uses for sentences.

Fitting a flip rate jointly with the calibration does not identify it: on IMDb sentences the joint fit
finds rho near 0.01 and flattens the slope instead, which leaves clean short texts under-confident. So the
rates are estimated separately, by confident learning (Northcutt, Jiang & Chuang 2021) from out-of-fold
probabilities, and then held fixed while the calibration is fit (model.calibration.fit_length_calibration).
Confident learning's rescaled joint already estimates one rate per class; the shipped form also estimates
them per calibration length bucket (the single symmetric rate stays available for comparison).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model.calibration import FlipRates, apply_length_calibration, fit_length_calibration

# A length bucket needs this many noisy rows of each label for rates of its own (else it takes the overall).
MIN_ROWS_PER_LABEL = 1_000


def confident_joint(p_pos: np.ndarray, y_noisy: np.ndarray) -> np.ndarray:
    """Estimated counts of (noisy label, true class), rows noisy 0/1, columns true 0/1.

    Per class, the threshold is the mean predicted probability of that class over the rows labeled with it;
    a row counts toward a true class when its probability reaches that class's threshold (the larger
    probability when both do). The counts (the confident joint) are rescaled so each noisy label keeps its
    size."""
    p = np.asarray(p_pos, dtype=np.float64)
    y = np.asarray(y_noisy).astype(np.int64)
    if not (y == 0).any() or not (y == 1).any():
        raise ValueError("confident learning needs rows of both labels")
    probs = np.column_stack([1.0 - p, p])
    thresholds = np.array([probs[y == 0, 0].mean(), probs[y == 1, 1].mean()])
    above = probs >= thresholds
    counted = above.any(axis=1)
    guess = np.where(above.all(axis=1), probs.argmax(axis=1), above.argmax(axis=1))
    joint = np.zeros((2, 2))
    np.add.at(joint, (y[counted], guess[counted]), 1.0)
    sizes = np.bincount(y, minlength=2).astype(np.float64)
    return joint / np.maximum(joint.sum(axis=1, keepdims=True), 1.0) * sizes[:, None]


def confident_learning_flip_rate(p_pos: np.ndarray, y_noisy: np.ndarray) -> float:
    """Share of labels that disagree with the true class (one rate for both classes)."""
    joint = confident_joint(p_pos, y_noisy)
    return float((joint[0, 1] + joint[1, 0]) / joint.sum())


def confident_learning_class_rates(p_pos: np.ndarray, y_noisy: np.ndarray) -> tuple[float, float]:
    """(P(label positive | true negative), P(label negative | true positive)): the joint's columns."""
    joint = confident_joint(p_pos, y_noisy)
    true_sizes = np.maximum(joint.sum(axis=0), 1e-12)
    return float(joint[1, 0] / true_sizes[0]), float(joint[0, 1] / true_sizes[1])


def flip_rates_by_bucket(
    p_pos: np.ndarray, y_noisy: np.ndarray, n_tokens: np.ndarray, max_tokens: Sequence[int]
) -> FlipRates:
    """Per-class confident-learning rates of each length bucket (thresholds and joint of the bucket's own
    rows); a bucket with fewer than MIN_ROWS_PER_LABEL rows of a label takes the rates of all rows."""
    y = np.asarray(y_noisy).astype(np.int64)
    overall = confident_learning_class_rates(p_pos, y)
    bucket = np.searchsorted(np.asarray(max_tokens, dtype=np.int64), np.asarray(n_tokens), side="left")
    to_pos, to_neg = [], []
    for b in range(len(max_tokens) + 1):
        sel = bucket == b
        if min(int(y[sel].sum()), int((1 - y[sel]).sum())) >= MIN_ROWS_PER_LABEL:
            r10, r01 = confident_learning_class_rates(np.asarray(p_pos)[sel], y[sel])
        else:
            r10, r01 = overall
        to_pos.append(r10)
        to_neg.append(r01)
    return FlipRates(tuple(max_tokens), tuple(to_pos), tuple(to_neg), overall)


def single_flip_rate(p_pos: np.ndarray, y_noisy: np.ndarray, max_tokens: Sequence[int]) -> FlipRates:
    """The one symmetric confident-learning rate for both classes and every length."""
    return FlipRates.single(confident_learning_flip_rate(p_pos, y_noisy), max_tokens)


def bootstrap_flip_rates(
    p_pos: np.ndarray,
    y_noisy: np.ndarray,
    n_tokens: np.ndarray,
    max_tokens: Sequence[int],
    groups: np.ndarray,
    resamples: int = 200,
    seed: int = 0,
) -> dict[str, list[list[float]]]:
    """95% intervals of the per-bucket, per-class rates and of their differences, resampling whole groups
    (movies) with replacement; the out-of-fold probabilities are held fixed (the estimator's sampling
    error, not the calibration's). Keys: to_positive / to_negative (per bucket), class_difference
    (to_negative - to_positive per bucket) and bucket_difference (first bucket minus each other, per class:
    [to_positive, to_negative])."""
    p = np.asarray(p_pos, dtype=np.float64)
    _, group_idx = np.unique(np.asarray(groups), return_inverse=True)
    rows_of = np.split(np.argsort(group_idx, kind="stable"), np.cumsum(np.bincount(group_idx))[:-1])
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        rows = np.concatenate([rows_of[g] for g in rng.integers(0, len(rows_of), size=len(rows_of))])
        r = flip_rates_by_bucket(p[rows], y_noisy[rows], n_tokens[rows], max_tokens)
        draws.append([r.to_positive, r.to_negative])
    a = np.asarray(draws)  # resamples x class (to_positive, to_negative) x bucket

    def interval(v: np.ndarray) -> list[list[float]]:
        lo, hi = np.percentile(v, [2.5, 97.5], axis=0)
        pairs = zip(np.ravel(lo), np.ravel(hi), strict=True)
        return [[round(float(a), 4), round(float(b), 4)] for a, b in pairs]

    return {
        "to_positive": interval(a[:, 0, :]),
        "to_negative": interval(a[:, 1, :]),
        "class_difference": interval(a[:, 1, :] - a[:, 0, :]),
        "bucket_difference": interval((a[:, :, :1] - a[:, :, 1:]).transpose(0, 2, 1).reshape(resamples, -1)),
    }


def out_of_fold_probabilities(
    margins: np.ndarray, n_tokens: np.ndarray, y: np.ndarray, fold: np.ndarray, max_tokens: Sequence[int]
) -> np.ndarray:
    """P(label) of each row from a plain length calibration (no noise model) fit on the other folds."""
    p = np.empty(len(y))
    for k in np.unique(fold):
        fit, apply = fold != k, fold == k
        cal = fit_length_calibration(margins[fit], n_tokens[fit], y[fit], max_tokens)
        p[apply] = apply_length_calibration(cal, margins[apply], n_tokens[apply])
    return p
