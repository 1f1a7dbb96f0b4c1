"""Platt scaling, calibration by text length (stacking the components) and calibration metrics."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize

from model.serving.inference import LengthCalibration


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


def fit_length_calibration(
    margins: np.ndarray,
    n_tokens: np.ndarray,
    y: np.ndarray,
    max_tokens: Sequence[int],
    noisy: np.ndarray | None = None,
    flip_rate: float | None = None,
) -> LengthCalibration:
    """Per length bucket, a logistic regression of the label on the components' margins (texts x
    components): it weighs the components for that length and calibrates them in one step.

    Rows marked noisy (sentences labeled with their review's label) are fit with a label-noise model,
    P(observed positive) = rho + (1 - 2 rho) * sigmoid(z), with the bucket's flip rate rho fit jointly
    (Bootkrajang & Kaban 2012); the shipped sigmoid(z) is the clean-label probability. With flip_rate given,
    rho is that estimate (see model.noise) instead of being fit. A bucket with too
    few texts of each class borrows the fit of all texts."""
    m = np.asarray(margins, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    flag = np.zeros(len(y), dtype=bool) if noisy is None else np.asarray(noisy, dtype=bool)
    edges = list(max_tokens)
    everything = _fit_stacker(m, y, flag, flip_rate)
    bucket = np.searchsorted(np.asarray(edges, dtype=np.int64), np.asarray(n_tokens), side="left")
    coefs, intercepts = [], []
    for b in range(len(edges) + 1):
        sel = bucket == b
        enough = sel.sum() >= 50 and min(int(y[sel].sum()), int((1 - y[sel]).sum())) >= 10
        coef, intercept = _fit_stacker(m[sel], y[sel], flag[sel], flip_rate) if enough else everything
        coefs.append(coef)
        intercepts.append(intercept)
    return LengthCalibration(edges, np.array(coefs), np.array(intercepts))


def _fit_stacker(
    m: np.ndarray, y: np.ndarray, noisy: np.ndarray, flip_rate: float | None = None
) -> tuple[np.ndarray, float]:
    """(coefficients, intercept) maximizing the likelihood with flip rate rho = 0.5 * sigmoid(r) on the
    noisy rows (0 on the others; r fixed when flip_rate is given), with a tiny L2 penalty on the
    coefficients."""
    k = m.shape[1]
    x = np.column_stack([m, np.ones(len(y))])
    has_noise = bool(noisy.any())
    fixed = flip_rate is not None and has_noise

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[: k + 1]
        q = sigmoid(x @ w)
        rho_all = 0.5 * sigmoid(np.array([theta[k + 1]]))[0] if has_noise else 0.0
        rho = np.where(noisy, rho_all, 0.0)
        p = np.clip(rho + (1 - 2 * rho) * q, 1e-12, 1 - 1e-12)
        nll = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)) + 1e-4 * float(w[:k] @ w[:k])
        dp = (y / p - (1 - y) / (1 - p)) / len(y)  # d(-nll)/dp
        g_w = -(x.T @ (dp * (1 - 2 * rho) * q * (1 - q)))
        g_w[:k] += 2e-4 * w[:k]
        grad = np.zeros_like(theta)
        grad[: k + 1] = g_w
        if has_noise and not fixed:
            drho = 0.5 * rho_all * (1 - 2 * rho_all)  # d rho / d r, with rho = 0.5 sigmoid(r)
            grad[k + 1] = -float(np.sum(dp * np.where(noisy, 1 - 2 * q, 0.0))) * drho
        return float(nll), grad

    theta0 = np.zeros(k + 2)
    theta0[:k] = 1.0
    theta0[k + 1] = -3.0
    if fixed:
        rate = min(max(float(flip_rate or 0.0), 1e-6), 0.5 - 1e-6)
        theta0[k + 1] = np.log(2 * rate / (1 - 2 * rate))  # 0.5 * sigmoid(r) = rate
    res = minimize(loss, theta0, jac=True, method="L-BFGS-B")
    return res.x[:k].astype(np.float64), float(res.x[k])


def apply_length_calibration(cal: LengthCalibration, margins: np.ndarray, n_tokens: np.ndarray) -> np.ndarray:
    """Calibrated P(positive): the serving code's formula on training-side margins."""
    b = cal.bucket(np.asarray(n_tokens))
    return sigmoid(
        np.einsum("ij,ij->i", np.asarray(margins, dtype=np.float64), cal.coef[b]) + cal.intercept[b]
    )
