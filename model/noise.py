"""How often a review sentence's inherited label is wrong for the sentence: the flip rate the length
calibration's label-noise model uses for sentences.

Fitting the flip rate jointly with the calibration does not identify it: on IMDb sentences the joint fit
finds rho near 0.01 and flattens the slope instead, which leaves clean short texts under-confident. So the
rate is estimated separately, by confident learning (Northcutt, Jiang & Chuang 2021) from out-of-fold
probabilities, and then held fixed while the calibration is fit (model.calibration.fit_length_calibration).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model.calibration import apply_length_calibration, fit_length_calibration


def confident_learning_flip_rate(p_pos: np.ndarray, y_noisy: np.ndarray) -> float:
    """Share of labels that disagree with the true class, from out-of-sample P(positive).

    Per class, the threshold is the mean predicted probability of that class over the rows labeled with it;
    a row counts toward a true class when its probability reaches that class's threshold (the larger
    probability when both do). The counts (the confident joint) are rescaled so each noisy label keeps its
    size, and the off-diagonal share is the estimate."""
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
    joint = joint / np.maximum(joint.sum(axis=1, keepdims=True), 1.0) * sizes[:, None]
    return float((joint[0, 1] + joint[1, 0]) / joint.sum())


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
