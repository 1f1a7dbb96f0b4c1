"""Logistic regression on l2-normalized log-tf x idf of the hashed n-grams: the length-robust component.

The NB-LR sums one weight per n-gram present, so a one-sentence text gets a margin near the intercept and a
long review a large one. Here each text's feature vector has unit length, so a short text's margin is on
the scale of a long review's: this is what holds on short reviews. It is fit on the reviews and on their
sentences (each labeled with its review's label), so it also learns what a single sentence looks like.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression


def l2_logtf_idf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """x_j = log(1 + count_j) * idf_j, each row scaled to unit length (the serving code's formula)."""
    x = counts.astype(np.float64, copy=True).tocsr()
    x.data = np.log1p(x.data) * idf[x.indices]
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ x)


@dataclass
class L2Model:
    weights: np.ndarray  # float32 over every hashed feature (0 where idf is 0)
    intercept: float
    idf: np.ndarray  # float32 over every hashed feature, 0 for features below min_df (ignored)

    def margins(self, counts: sp.csr_matrix) -> np.ndarray:
        x = l2_logtf_idf(counts, self.idf.astype(np.float64))
        return np.asarray(x @ self.weights.astype(np.float64), dtype=np.float64) + self.intercept


def fit_l2_lr(
    counts: sp.csr_matrix,
    y: np.ndarray,
    C: float,
    min_df: int = 2,
    extra_counts: sp.csr_matrix | None = None,
    extra_y: np.ndarray | None = None,
    extra_weight: float = 1.0,
    seed: int = 42,
) -> L2Model:
    """Fit on the documents (counts, y), plus extra rows (sentences) at sample weight extra_weight.

    Document frequencies and idf come from the documents only, so adding sentences changes what is learned,
    not which features exist."""
    n_docs, n_features = counts.shape
    df = np.bincount(counts.indices, minlength=n_features)
    kept = df >= min_df
    idf = np.where(kept, np.log((1.0 + n_docs) / (1.0 + df)) + 1.0, 0.0).astype(np.float32)
    x = l2_logtf_idf(counts, idf.astype(np.float64))
    target = np.asarray(y, dtype=np.int64)
    weight = np.ones(n_docs)
    if extra_counts is not None and extra_y is not None and extra_weight > 0:
        x = sp.vstack([x, l2_logtf_idf(extra_counts, idf.astype(np.float64))]).tocsr()
        target = np.concatenate([target, np.asarray(extra_y, dtype=np.int64)])
        weight = np.concatenate([weight, np.full(extra_counts.shape[0], extra_weight)])
    cols = np.flatnonzero(kept)
    clf = LogisticRegression(C=C, solver="liblinear", dual=True, max_iter=1000, random_state=seed)
    clf.fit(x[:, cols], target, sample_weight=weight)
    weights = np.zeros(n_features, dtype=np.float32)
    weights[cols] = clf.coef_.ravel().astype(np.float32)
    return L2Model(weights=weights, intercept=float(clf.intercept_[0]), idf=idf)
