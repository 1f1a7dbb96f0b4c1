"""Evaluation report: JSON + markdown + reliability diagram (PNG).

    python -m model.evaluate --data ../shared/data/imdb/train.jsonl.gz
        [--artifact model/artifact/model.tar.gz] [--mode cv|holdout|artifact] [--split test] [--out DIR]

--mode cv (default): the steadiest estimate without a test set. The artifact's recorded hyperparameters are
fit in 5-fold GroupKFold by movie_id; every labeled review is scored by the model that did not see its
movie, with Platt calibration fit on the other folds' margins.
--mode holdout: the recorded hyperparameters fit on the grouped train part of the training split
(GroupShuffleSplit by movie_id), the held-out part scored, Platt cross-fitted on halves of it.
--mode artifact: score the data with the shipped artifact through its own code/inference.py, e.g. the IMDb
test set (``--data aclImdb_v1.tar.gz --split test``) when it is available.

Reports accuracy, macro F1, ROC AUC, ECE (15 bins), the confusion matrix and accuracy by review length.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score

from model.calibration import apply_platt, expected_calibration_error, fit_platt, reliability_bins
from model.data import Review, read_reviews
from model.nbsvm import build_matrix
from model.png import reliability_png
from model.serving import load_endpoint_handler
from model.train import (
    DEFAULT_OUTPUT,
    TrainConfig,
    cross_validate,
    fit_with_pseudo,
    grouped_split,
    load_unsup,
)

LENGTH_BUCKETS = ((0, 100), (100, 200), (200, 400), (400, 800), (800, 10**9))


def metrics_report(p_pos: np.ndarray, y: np.ndarray, texts: list[str]) -> dict[str, Any]:
    """Every metric of the report from calibrated P(positive) and labels."""
    pred = (p_pos >= 0.5).astype(np.int64)
    words = np.array([len(t.split()) for t in texts])
    by_length = []
    for lo, hi in LENGTH_BUCKETS:
        sel = (words >= lo) & (words < hi)
        if sel.any():
            by_length.append(
                {
                    "words": f"{lo}-{hi - 1}" if hi < 10**9 else f"{lo}+",
                    "count": int(sel.sum()),
                    "accuracy": float((pred[sel] == y[sel]).mean()),
                }
            )
    cm = confusion_matrix(y, pred, labels=[0, 1])
    return {
        "n": len(y),
        "accuracy": float((pred == y).mean()),
        "macro_f1": float(f1_score(y, pred, average="macro")),
        "roc_auc": float(roc_auc_score(y, p_pos)) if len(set(y.tolist())) == 2 else float("nan"),
        "ece_15_bins": expected_calibration_error(p_pos, y, 15),
        "log_loss": float(-np.mean(y * np.log(p_pos + 1e-12) + (1 - y) * np.log(1 - p_pos + 1e-12))),
        "confusion_matrix": {
            "labels": ["negative", "positive"],
            "rows_true_cols_predicted": cm.tolist(),
        },
        "accuracy_by_length": by_length,
        "reliability_bins": reliability_bins(p_pos, y, 15),
    }


def _config(meta: dict[str, Any]) -> TrainConfig:
    hp = meta["hyperparameters"]
    return TrainConfig(**{**hp, "word_ngram": tuple(hp["word_ngram"]), "char_ngram": tuple(hp["char_ngram"])})


def _features(
    reviews: list[Review], meta: dict[str, Any], unsup_path: str | None
) -> tuple[TrainConfig, np.ndarray, sp.csr_matrix, sp.csr_matrix | None]:
    """The artifact's configuration, the labels, and the feature matrices of the labeled reviews and (when
    the model self-trains) of the unlabeled ones."""
    cfg = _config(meta)
    y = np.array([r.label for r in reviews], dtype=np.int64)
    x = build_matrix([r.text for r in reviews], cfg.spec)
    unsup = (
        load_unsup(unsup_path, int(meta["training"]["data"].get("max_unsup") or 0))
        if cfg.pseudo_fraction
        else []
    )
    u = build_matrix([r.text for r in unsup], cfg.spec) if unsup else None
    return cfg, y, x, u


def cv_scores(
    reviews: list[Review], meta: dict[str, Any], unsup_path: str | None, folds: int = 5
) -> np.ndarray:
    """Out-of-fold, cross-fitted calibrated P(positive) of every review (GroupKFold by movie)."""
    cfg, y, x, u = _features(reviews, meta, unsup_path)
    _, probs = cross_validate(reviews, x, y, u, cfg, folds, progress=False)
    return probs


def holdout_scores(
    reviews: list[Review], meta: dict[str, Any], unsup_path: str | None, seed_half: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Held-out P(positive) and indices: refit on the grouped train part, cross-fitted Platt on the rest."""
    cfg, y, x, u = _features(reviews, meta, unsup_path)
    tr, va = grouped_split(reviews, cfg.val_size, cfg.seed)
    model = fit_with_pseudo(x[tr], y[tr], u, cfg, progress=False)
    margins = model.margins(x[va])
    rng = np.random.default_rng(cfg.seed + seed_half)
    order = rng.permutation(len(va))
    halves = (order[: len(va) // 2], order[len(va) // 2 :])
    p = np.empty(len(va))
    for fit_idx, eval_idx in (halves, halves[::-1]):
        a, b = fit_platt(margins[fit_idx], y[va][fit_idx])
        p[eval_idx] = apply_platt(margins[eval_idx], a, b)
    return p, va


def to_markdown(report: dict[str, Any]) -> str:
    m = report["metrics"]
    cm = m["confusion_matrix"]["rows_true_cols_predicted"]
    lines = [
        f"# Evaluation: {report['model_version']}",
        "",
        f"- Data: `{report['data']}` ({m['n']} reviews), mode `{report['mode']}`: {report['mode_note']}",
        f"- Command: `{report['command']}`",
        "",
        "| metric | value |",
        "| --- | ---: |",
        f"| accuracy | {m['accuracy']:.4f} |",
        f"| macro F1 | {m['macro_f1']:.4f} |",
        f"| ROC AUC | {m['roc_auc']:.4f} |",
        f"| ECE (15 bins) | {m['ece_15_bins']:.4f} |",
        f"| log loss | {m['log_loss']:.4f} |",
        "",
        "Confusion matrix (rows: true, columns: predicted):",
        "",
        "| | negative | positive |",
        "| --- | ---: | ---: |",
        f"| negative | {cm[0][0]} | {cm[0][1]} |",
        f"| positive | {cm[1][0]} | {cm[1][1]} |",
        "",
        "Accuracy by review length (words):",
        "",
        "| words | reviews | accuracy |",
        "| --- | ---: | ---: |",
        *[f"| {b['words']} | {b['count']} | {b['accuracy']:.4f} |" for b in m["accuracy_by_length"]],
        "",
        f"![reliability diagram]({report['png']})",
        "",
        "Reliability diagram: bars are the observed share of positive reviews in each of 15 bins of",
        "predicted P(positive), red squares sit at (mean predicted, observed), the grey strip is the share",
        "of reviews in the bin, the line is perfect calibration.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.evaluate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--artifact", default=str(DEFAULT_OUTPUT / "model.tar.gz"))
    ap.add_argument("--mode", choices=("cv", "holdout", "artifact"), default="cv")
    ap.add_argument("--split", default="train", help="aclImdb split to read (train or test)")
    ap.add_argument("--unsup", help="unlabeled reviews, when the model was self-trained (holdout mode)")
    ap.add_argument("--out", default=str(DEFAULT_OUTPUT))
    ap.add_argument("--name", default="evaluation", help="file name stem of the report")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    handler = load_endpoint_handler(args.artifact)
    meta: dict[str, Any] = handler.model.meta  # type: ignore[attr-defined]
    reviews = read_reviews(args.data, split=args.split)
    if args.mode == "cv":
        p = cv_scores(reviews, meta, args.unsup)
        idx = np.arange(len(reviews))
        note = (
            "5-fold GroupKFold by movie; a model fit without its movie scores each review; Platt cross-fitted"
        )
    elif args.mode == "holdout":
        p, idx = holdout_scores(reviews, meta, args.unsup)
        note = "refit on the grouped train part, scored on the held-out movies, Platt cross-fitted"
    else:
        p = handler.model.predict_proba([r.text for r in reviews])  # type: ignore[attr-defined]
        idx = np.arange(len(reviews))
        note = "the shipped artifact scores every review (meaningful only for reviews it was not trained on)"
    y = np.array([reviews[i].label for i in idx], dtype=np.int64)
    texts = [reviews[i].text for i in idx]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    png = f"{args.name}_reliability.png"
    metrics = metrics_report(p, y, texts)
    report = {
        "model_version": meta["model_version"],
        "data": str(args.data),
        "mode": args.mode,
        "mode_note": note,
        "command": "python -m model.evaluate "
        + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
        "metrics": metrics,
        "png": png,
        "seconds": round(time.perf_counter() - started, 1),
    }
    reliability_png(
        metrics["reliability_bins"], out / png, title=f"RELIABILITY  ECE {metrics['ece_15_bins']:.4f}"
    )
    (out / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / f"{args.name}.md").write_text(to_markdown(report), encoding="utf-8")
    print(to_markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
