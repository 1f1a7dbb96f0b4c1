"""Platt scaling, calibration by text length (stacking the components) and calibration metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class FlipRates:
    """How often a noisy row's label disagrees with its text, per calibration length bucket and per class:
    to_positive[b] = P(label positive | text negative), to_negative[b] = P(label negative | text positive)
    for texts of bucket b (max_tokens as in LengthCalibration), and the same over all noisy rows (overall),
    which the fit of all texts uses. The label-noise model is
    P(label positive) = to_positive + (1 - to_positive - to_negative) * sigmoid(z)."""

    max_tokens: tuple[int, ...]
    to_positive: tuple[float, ...]
    to_negative: tuple[float, ...]
    overall: tuple[float, float]

    def __post_init__(self) -> None:
        n = len(self.max_tokens) + 1
        if len(self.to_positive) != n or len(self.to_negative) != n:
            raise ValueError(f"expected {n} rates per class (one per length bucket)")
        rates = [*self.to_positive, *self.to_negative, *self.overall]
        if not all(0.0 <= r < 0.5 for r in rates):
            raise ValueError(f"flip rates must be in [0, 0.5): {rates}")

    @classmethod
    def single(cls, rate: float, max_tokens: Sequence[int]) -> FlipRates:
        """One symmetric rate for both classes and every length."""
        n = len(max_tokens) + 1
        return cls(tuple(max_tokens), (rate,) * n, (rate,) * n, (rate, rate))

    def per_row(self, n_tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(to_positive, to_negative) of each text, from its length bucket."""
        b = np.searchsorted(np.asarray(self.max_tokens, dtype=np.int64), np.asarray(n_tokens), side="left")
        return np.asarray(self.to_positive)[b], np.asarray(self.to_negative)[b]

    def to_json(self) -> dict[str, Any]:
        return {
            "max_tokens": list(self.max_tokens),
            "to_positive": [round(r, 6) for r in self.to_positive],
            "to_negative": [round(r, 6) for r in self.to_negative],
            "overall": [round(r, 6) for r in self.overall],
        }


def fit_length_calibration(
    margins: np.ndarray,
    n_tokens: np.ndarray,
    y: np.ndarray,
    max_tokens: Sequence[int],
    noisy: np.ndarray | None = None,
    flip_rates: FlipRates | None = None,
) -> LengthCalibration:
    """Per length bucket, a logistic regression of the label on the components' margins (texts x
    components): it weighs the components for that length and calibrates them in one step.

    Rows marked noisy (sentences labeled with their review's label) are fit with a label-noise model,
    P(observed positive) = r10 + (1 - r10 - r01) * sigmoid(z) with r10 = P(label positive | text negative)
    and r01 = P(label negative | text positive); the shipped sigmoid(z) is the clean-label probability.
    With flip_rates given, the rates are those estimates (see model.noise), held fixed: each noisy row takes
    its bucket's rates, and the fit of all texts (borrowed by a bucket with too few texts of each class)
    each row's own. Without, one symmetric rate r10 = r01 = rho is fit jointly (Bootkrajang & Kaban 2012),
    which the data do not identify well (see docs/model.md)."""
    m = np.asarray(margins, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    n_tokens = np.asarray(n_tokens)
    flag = np.zeros(len(y), dtype=bool) if noisy is None else np.asarray(noisy, dtype=bool)
    edges = list(max_tokens)
    if flip_rates is not None and list(flip_rates.max_tokens) != edges:
        raise ValueError(f"flip rates are per bucket {flip_rates.max_tokens}, calibration per {edges}")
    rates = None if flip_rates is None else _row_rates(flip_rates.per_row(n_tokens), flag)
    everything = _fit_stacker(m, y, flag, rates)
    bucket = np.searchsorted(np.asarray(edges, dtype=np.int64), n_tokens, side="left")
    coefs, intercepts = [], []
    for b in range(len(edges) + 1):
        sel = bucket == b
        enough = sel.sum() >= 50 and min(int(y[sel].sum()), int((1 - y[sel]).sum())) >= 10
        sub = None if rates is None else (rates[0][sel], rates[1][sel])
        coef, intercept = _fit_stacker(m[sel], y[sel], flag[sel], sub) if enough else everything
        coefs.append(coef)
        intercepts.append(intercept)
    return LengthCalibration(edges, np.array(coefs), np.array(intercepts))


def _row_rates(rates: tuple[np.ndarray, np.ndarray], noisy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rates of the noisy rows, 0 on the clean ones."""
    return np.where(noisy, rates[0], 0.0), np.where(noisy, rates[1], 0.0)


def _fit_stacker(
    m: np.ndarray, y: np.ndarray, noisy: np.ndarray, rates: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, float]:
    """(coefficients, intercept) maximizing the likelihood of P(label positive) = r10 + (1 - r10 - r01) q,
    with a tiny L2 penalty on the coefficients. rates: per-row (r10, r01), held fixed; None: on the noisy
    rows r10 = r01 = rho = 0.5 * sigmoid(r), r fit jointly (0 on the others)."""
    k = m.shape[1]
    x = np.column_stack([m, np.ones(len(y))])
    joint = rates is None and bool(noisy.any())

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[: k + 1]
        q = sigmoid(x @ w)
        if rates is None:
            rho = np.where(noisy, 0.5 * sigmoid(np.array([theta[k + 1]]))[0] if joint else 0.0, 0.0)
            r10, r01 = rho, rho
        else:
            r10, r01 = rates
        p = np.clip(r10 + (1 - r10 - r01) * q, 1e-12, 1 - 1e-12)
        nll = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)) + 1e-4 * float(w[:k] @ w[:k])
        dp = (y / p - (1 - y) / (1 - p)) / len(y)  # d(-nll)/dp
        g_w = -(x.T @ (dp * (1 - r10 - r01) * q * (1 - q)))
        g_w[:k] += 2e-4 * w[:k]
        grad = np.zeros_like(theta)
        grad[: k + 1] = g_w
        if joint:
            rho_all = 0.5 * sigmoid(np.array([theta[k + 1]]))[0]
            drho = 0.5 * rho_all * (1 - 2 * rho_all)  # d rho / d r, with rho = 0.5 sigmoid(r)
            grad[k + 1] = -float(np.sum(dp * np.where(noisy, 1 - 2 * q, 0.0))) * drho
        return float(nll), grad

    theta0 = np.zeros(k + 2)
    theta0[:k] = 1.0
    theta0[k + 1] = -3.0
    res = minimize(loss, theta0, jac=True, method="L-BFGS-B")
    return res.x[:k].astype(np.float64), float(res.x[k])


def apply_length_calibration(cal: LengthCalibration, margins: np.ndarray, n_tokens: np.ndarray) -> np.ndarray:
    """Calibrated P(positive): the serving code's formula on training-side margins."""
    b = cal.bucket(np.asarray(n_tokens))
    return sigmoid(
        np.einsum("ij,ij->i", np.asarray(margins, dtype=np.float64), cal.coef[b]) + cal.intercept[b]
    )
