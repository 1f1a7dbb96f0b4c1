"""Compare two artifacts on one labeled set: a paired bootstrap of the differences, and the ECE floor.

    python -m model.compare --data ../shared/data/short/imdb_sentences.jsonl A/model.tar.gz B/model.tar.gz

Both artifacts score the same texts through their own code/inference.py. Printed: each one's accuracy and
15-bin ECE; B minus A with 95% intervals from resampling the texts with replacement (the same resample for
both); how many texts change label; and the ECE floor of each, the 15-bin ECE of labels drawn from the
artifact's own scores (calibrated by construction), which says how far a set of this size can resolve ECE.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from model.calibration import expected_calibration_error
from model.serving import load_endpoint_handler


def accuracy(p: np.ndarray, y: np.ndarray) -> float:
    return float(((p >= 0.5) == y.astype(bool)).mean())


def paired_bootstrap(
    p_a: np.ndarray, p_b: np.ndarray, y: np.ndarray, resamples: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """B minus A for accuracy and ECE: the point difference, 95% interval and share of resamples where B's
    ECE is lower."""
    rng = np.random.default_rng(seed)
    d_ece, d_acc = np.empty(resamples), np.empty(resamples)
    for i in range(resamples):
        idx = rng.integers(0, len(y), size=len(y))
        d_ece[i] = expected_calibration_error(p_b[idx], y[idx]) - expected_calibration_error(p_a[idx], y[idx])
        d_acc[i] = accuracy(p_b[idx], y[idx]) - accuracy(p_a[idx], y[idx])
    return {
        "ece_difference": expected_calibration_error(p_b, y) - expected_calibration_error(p_a, y),
        "ece_difference_95": [float(v) for v in np.percentile(d_ece, [2.5, 97.5])],
        "ece_lower_share": float((d_ece < 0).mean()),
        "accuracy_difference": accuracy(p_b, y) - accuracy(p_a, y),
        "accuracy_difference_95": [float(v) for v in np.percentile(d_acc, [2.5, 97.5])],
        "labels_changed": int(((p_a >= 0.5) != (p_b >= 0.5)).sum()),
    }


def ece_floor(p: np.ndarray, draws: int = 500, seed: int = 0) -> dict[str, float]:
    """Median and 95% interval of the 15-bin ECE of labels drawn from p itself (perfect calibration)."""
    rng = np.random.default_rng(seed)
    eces = [expected_calibration_error(p, (rng.random(len(p)) < p).astype(np.int64)) for _ in range(draws)]
    lo, mid, hi = np.percentile(eces, [2.5, 50, 97.5])
    return {"median": float(mid), "lo": float(lo), "hi": float(hi)}


def score(artifact: Path, texts: list[str]) -> tuple[str, np.ndarray]:
    model: Any = load_endpoint_handler(artifact).model  # type: ignore[attr-defined]
    return str(model.meta["model_version"]), np.asarray(model.predict_proba(texts), dtype=np.float64)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.compare", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="labeled texts, JSON lines with text and label (0/1)")
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--draws", type=int, default=500, help="label draws for the ECE floor")
    ap.add_argument("artifact_a", type=Path)
    ap.add_argument("artifact_b", type=Path)
    args = ap.parse_args(argv)
    rows = [
        json.loads(line) for line in Path(args.data).read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    texts = [str(r["text"]) for r in rows]
    y = np.array([int(r["label"]) for r in rows], dtype=np.int64)
    (name_a, p_a), (name_b, p_b) = score(args.artifact_a, texts), score(args.artifact_b, texts)
    report: dict[str, Any] = {"data": args.data, "n": len(y)}
    for key, name, p in (("a", name_a, p_a), ("b", name_b, p_b)):
        report[key] = {
            "model_version": name,
            "accuracy": accuracy(p, y),
            "ece_15_bins": expected_calibration_error(p, y),
            "ece_floor": ece_floor(p, args.draws),
        }
    report["b_minus_a"] = paired_bootstrap(p_a, p_b, y, args.resamples)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
