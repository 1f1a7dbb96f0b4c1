"""NB-weighted logistic regression on hashed binary n-gram features (NBSVM, Wang & Manning 2012).

Each hashed feature j gets the log-count ratio r_j = log((p_j/|p|_1) / (q_j/|q|_1)) with
p = alpha + sum of positive rows, q = alpha + sum of negative rows; a logistic regression is fit on
X * r, optionally interpolated toward its mean magnitude (beta, as in the paper); the shipped weight of
feature j is r_j * w_j so serving only sums weights of the features a review has.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from model.serving.inference import FeatureSpec, featurize

ProgressFn = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def build_matrix(
    texts: Sequence[str],
    spec: FeatureSpec,
    batch_size: int = 2000,
    progress: ProgressFn = _quiet,
    counts: bool = False,
) -> sp.csr_matrix:
    """CSR matrix (documents x hashed features) built with the serving featurizer: 1 where a feature
    occurs (what the model sees), or its occurrence count with counts=True (for the NB ratios)."""
    return build_matrix_and_lengths(texts, spec, batch_size, progress, counts)[0]


def build_matrix_and_lengths(
    texts: Sequence[str],
    spec: FeatureSpec,
    batch_size: int = 2000,
    progress: ProgressFn = _quiet,
    counts: bool = False,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """build_matrix's matrix and the number of tokens of each document (its length bucket)."""
    indptr = [np.zeros(1, dtype=np.int64)]
    indices: list[np.ndarray] = []
    values: list[np.ndarray] = []
    lengths: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    total = 0
    started = time.perf_counter()
    for lo in range(0, len(texts), batch_size):
        fz = featurize(texts[lo : lo + batch_size], spec, counts=counts)
        per_doc = np.bincount(fz.doc, minlength=fz.n_docs)
        indptr.append(total + np.cumsum(per_doc))
        total += int(per_doc.sum())
        indices.append(fz.feature)
        if fz.count is not None:
            values.append(fz.count.astype(np.float32))
        lengths.append(fz.n_tokens)
        done = min(lo + batch_size, len(texts))
        if done == len(texts) or (lo // batch_size) % 5 == 4:
            progress(f"featurized {done}/{len(texts)} texts ({time.perf_counter() - started:.1f}s)")
    ind = np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64)
    data = np.concatenate(values) if values else np.ones(ind.shape[0], dtype=np.float32)
    matrix = sp.csr_matrix(
        (data, ind.astype(np.int32), np.concatenate(indptr)), shape=(len(texts), spec.n_features)
    )
    return matrix, np.concatenate(lengths)


@dataclass
class NBParams:
    C: float = 0.1
    alpha: float = 1.0
    beta: float = 1.0  # 1.0: plain NB-LR; < 1 interpolates toward the mean |w| (Wang & Manning)
    min_df: int = 2
    loss: str = "logistic"  # or "squared_hinge" (the paper's NBSVM)
    nb_counts: bool = False  # NB ratios from occurrence counts (x holds counts) instead of presence
    max_iter: int = 1000
    tol: float = 1e-4


@dataclass
class NBModel:
    weights: np.ndarray  # float32, one per hashed feature (r_j * w_j; 0 for dropped features)
    intercept: float
    n_kept: int

    def decision_function(self, x: sp.csr_matrix) -> np.ndarray:
        return np.asarray(x @ self.weights, dtype=np.float64) + self.intercept


def fit_nb(
    x: sp.csr_matrix, y: np.ndarray, params: NBParams, seed: int = 42, sample_weight: np.ndarray | None = None
) -> NBModel:
    """Fit NB-LR/NBSVM on a CSR matrix; returns shipped-form weights over all hashed features.

    x holds presence (1) or, for nb_counts, occurrence counts; the classifier always sees presence x r.

    sample_weight (pseudo-labeled rows may count less) weighs both the NB counts and the classifier's loss.
    """
    y = np.asarray(y).astype(np.int64)
    n_features = x.shape[1]
    df = np.bincount(x.indices, minlength=n_features)
    kept = np.flatnonzero(df >= params.min_df)
    xk = x[:, kept].tocsr()
    if not params.nb_counts:
        xk.data = np.ones_like(xk.data)
    sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    p = params.alpha + np.asarray(xk.T @ (sw * (y == 1))).ravel()
    q = params.alpha + np.asarray(xk.T @ (sw * (y == 0))).ravel()
    r = np.log(p / p.sum()) - np.log(q / q.sum())
    xb = xk.copy()
    xb.data = np.ones_like(xb.data)
    xr = xb @ sp.diags(r.astype(np.float32))
    if params.loss == "logistic":
        clf: LogisticRegression | LinearSVC = LogisticRegression(
            C=params.C,
            solver="liblinear",
            dual=True,
            max_iter=params.max_iter,
            tol=params.tol,
            random_state=seed,
        )
    elif params.loss == "squared_hinge":
        clf = LinearSVC(C=params.C, dual=True, max_iter=params.max_iter, tol=params.tol, random_state=seed)
    else:
        raise ValueError(f"unknown loss {params.loss!r}")
    clf.fit(xr, y, sample_weight=sample_weight)
    w = clf.coef_.ravel().astype(np.float64)
    b = float(clf.intercept_[0])
    if params.beta < 1.0:
        mean_abs = np.abs(w).mean()
        w = (1.0 - params.beta) * mean_abs + params.beta * w
        b = params.beta * b
    full = np.zeros(n_features, dtype=np.float32)
    full[kept] = (r * w).astype(np.float32)
    return NBModel(weights=full, intercept=b, n_kept=int(kept.shape[0]))
