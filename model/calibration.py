"""Platt scaling (two floats) and calibration metrics."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500.0, 500.0)))


def fit_platt(margins: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """a, b minimizing the log loss of sigmoid(a * margin + b), with Platt's smoothed targets."""
    m = np.asarray(margins, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n_pos = y.sum()
    n_neg = y.shape[0] - n_pos
    t = np.where(y > 0.5, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))

    def loss(ab: np.ndarray) -> tuple[float, np.ndarray]:
        z = ab[0] * m + ab[1]
        # log(1 + e^z) - t z, stable
        val = np.logaddexp(0.0, z) - t * z
        g = sigmoid(z) - t
        return float(val.mean()), np.array([float((g * m).mean()), float(g.mean())])

    res = minimize(loss, x0=np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    return float(res.x[0]), float(res.x[1])


def apply_platt(margins: np.ndarray, a: float, b: float) -> np.ndarray:
    return sigmoid(a * np.asarray(margins, dtype=np.float64) + b)


def expected_calibration_error(p_pos: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """ECE as in Guo et al. 2017: confidence of the predicted class in n equal-width bins over [0.5, 1]
    (binary case, so the bins cover [0.5, 1]); |accuracy - confidence| weighted by bin size."""
    p = np.asarray(p_pos, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    pred = (p >= 0.5).astype(np.int64)
    conf = np.where(pred == 1, p, 1.0 - p)
    correct = (pred == y).astype(np.float64)
    edges = np.linspace(0.5, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        sel = idx == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def reliability_bins(p_pos: np.ndarray, y: np.ndarray, n_bins: int = 15) -> list[dict[str, float]]:
    """Per-bin mean predicted P(positive), observed positive rate and count, bins over [0, 1]."""
    p = np.asarray(p_pos, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1], right=True), 0, n_bins - 1)
    out = []
    for b in range(n_bins):
        sel = idx == b
        n = int(sel.sum())
        out.append(
            {
                "lo": float(edges[b]),
                "hi": float(edges[b + 1]),
                "count": n,
                "mean_predicted": float(p[sel].mean()) if n else float("nan"),
                "fraction_positive": float(y[sel].mean()) if n else float("nan"),
            }
        )
    return out


def cross_fitted_ece(margins: np.ndarray, y: np.ndarray, seed: int = 42, n_bins: int = 15) -> float:
    """ECE of Platt scaling fit on one half of a validation set and measured on the other, both ways."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    halves = (order[: len(y) // 2], order[len(y) // 2 :])
    probs = np.empty(len(y), dtype=np.float64)
    for fit_idx, eval_idx in (halves, halves[::-1]):
        a, b = fit_platt(margins[fit_idx], y[fit_idx])
        probs[eval_idx] = apply_platt(margins[eval_idx], a, b)
    return expected_calibration_error(probs, y, n_bins)
