"""Evaluation plots drawn with matplotlib's Agg canvas: a reliability diagram and a score histogram.

matplotlib is a training and development dependency (requirements/dev.txt), never imported by the serving
code or the Lambda layer. Figures are drawn on ``FigureCanvasAgg`` directly (no pyplot, no global backend
state), so a report renders the same headless, in CI or inside a thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_OBSERVED = "#4c78a8"
_PREDICTED = "#e45756"
_BAND = "#f2cf5b"


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, format="png", metadata={"Software": None})


def reliability_diagram(bins: Sequence[dict[str, float]], path: Path, title: str) -> None:
    """Observed share of positives per bin of predicted P(positive) (bars, with each bin's review count
    above it), the mean prediction of each bin (points) and perfect calibration (the diagonal)."""
    fig = Figure(figsize=(6.4, 5.6), layout="constrained")
    ax = fig.add_subplot()
    used = [b for b in bins if b["count"]]
    lo = np.array([b["lo"] for b in used])
    width = np.array([b["hi"] - b["lo"] for b in used])
    observed = np.array([b["fraction_positive"] for b in used])
    bars = ax.bar(
        lo,
        observed,
        width=width,
        align="edge",
        color=_OBSERVED,
        alpha=0.75,
        edgecolor="white",
        label="observed share positive",
    )
    counts = [f"{b['count']:,}" for b in used]
    ax.bar_label(bars, labels=counts, padding=2, fontsize=7, rotation=90, color="#333333")
    ax.plot(
        [b["mean_predicted"] for b in used],
        observed,
        "o",
        color=_PREDICTED,
        markersize=5,
        label="(mean predicted, observed) of a bin",
    )
    ax.plot([0, 1], [0, 1], "--", color="#555555", linewidth=1, label="perfect calibration")
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.12),
        xlabel="predicted P(positive), binned",
        ylabel="observed share of positive reviews",
        title=title,
    )
    ax.legend(loc="upper left", fontsize=8, title="number above a bar: reviews in the bin", title_fontsize=7)
    ax.grid(alpha=0.3)
    _save(fig, path)


def score_histogram(
    scores: np.ndarray,
    labels: np.ndarray,
    path: Path,
    title: str,
    band: tuple[float, float] | None = None,
    n_bins: int = 40,
) -> None:
    """Calibrated scores of the negative and of the positive reviews, with the uncertain band shaded."""
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64)
    ax.hist(
        [s[y == 0], s[y == 1]],
        bins=edges.tolist(),
        stacked=True,
        color=[_PREDICTED, _OBSERVED],
        label=[f"negative reviews ({int((y == 0).sum()):,})", f"positive reviews ({int((y == 1).sum()):,})"],
    )
    if band is not None:
        share = float(((s >= band[0]) & (s <= band[1])).mean())
        ax.axvspan(
            band[0],
            band[1],
            color=_BAND,
            alpha=0.35,
            label=f"uncertain band {band[0]:.2f}-{band[1]:.2f} ({share:.1%} of reviews)",
        )
    ax.axvline(0.5, color="#555555", linewidth=1, linestyle="--", label="decision threshold 0.5")
    ax.set(xlim=(0, 1), xlabel="calibrated score P(positive)", ylabel="reviews", title=title)
    ax.legend(loc="upper center", fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)
