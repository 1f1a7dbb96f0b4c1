"""Evaluation report: JSON + markdown + reliability diagrams and a score histogram (PNG, matplotlib).

    python -m model.evaluate --data ../shared/data/imdb/train.jsonl.gz
        [--short ../shared/data/short/imdb_sentences.jsonl] [--artifact model/artifact/model.tar.gz]
        [--mode cv|holdout|artifact] [--split test] [--out DIR]

--mode cv (default): the steadiest estimate without a test set. The artifact's recorded hyperparameters are
fit in 5-fold GroupKFold by movie_id; every labeled review and each of its sentences is scored by the model
that did not see its movie, with the calibration fit on the other folds' margins.
--mode holdout: the recorded hyperparameters fit on the grouped train part of the training split
(GroupShuffleSplit by movie_id), the held-out part scored, the calibration cross-fitted on halves of it.
--mode artifact: score the data with the shipped artifact through its own code/inference.py, e.g. the IMDb
test set (``--data aclImdb_v1.tar.gz --split test``) when it is available.
--short: labeled short texts (JSON lines, never trained on) scored by the shipped artifact.

Reports accuracy, macro F1, ROC AUC, ECE (15 bins), the confusion matrix, accuracy and ECE by text length
(up to 20 words, 21-100, over 100), the share of texts in the uncertain band and the accuracy outside it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score

from model.calibration import expected_calibration_error, reliability_bins
from model.data import Review, read_reviews
from model.nbsvm import build_matrix_and_lengths
from model.plots import reliability_diagram, score_histogram
from model.serving import load_endpoint_handler
from model.train import (
    DEFAULT_OUTPUT,
    Corpus,
    HeldOut,
    TrainConfig,
    build_corpus,
    cross_fit_halves,
    cross_validate,
    fit_models,
    grouped_split,
    load_unsup,
)

# Text length in words: short texts (a sentence or two), paragraphs, full reviews.
LENGTH_BUCKETS = ((0, 20), (21, 100), (101, 10**9))
Band = tuple[float, float]


def metrics_report(p_pos: np.ndarray, y: np.ndarray, texts: list[str], band: Band) -> dict[str, Any]:
    """Every metric of the report from calibrated P(positive) and labels."""
    pred = (p_pos >= 0.5).astype(np.int64)
    right = pred == y
    inside = (p_pos >= band[0]) & (p_pos <= band[1])
    words = np.array([len(t.split()) for t in texts])
    by_length = []
    for lo, hi in LENGTH_BUCKETS:
        sel = (words >= lo) & (words <= hi)
        if sel.any():
            by_length.append(
                {
                    "words": f"{lo}-{hi}" if hi < 10**9 else f"over {lo - 1}",
                    "count": int(sel.sum()),
                    "accuracy": float(right[sel].mean()),
                    "ece_15_bins": expected_calibration_error(p_pos[sel], y[sel], 15),
                    "uncertain_share": float(inside[sel].mean()),
                }
            )
    cm = confusion_matrix(y, pred, labels=[0, 1])
    return {
        "n": len(y),
        "accuracy": float(right.mean()),
        "macro_f1": float(f1_score(y, pred, average="macro")),
        "roc_auc": float(roc_auc_score(y, p_pos)) if len(set(y.tolist())) == 2 else float("nan"),
        "ece_15_bins": expected_calibration_error(p_pos, y, 15),
        "log_loss": float(-np.mean(y * np.log(p_pos + 1e-12) + (1 - y) * np.log(1 - p_pos + 1e-12))),
        "uncertain_band": list(band),
        "uncertain_share": float(inside.mean()),
        "accuracy_outside_band": float(right[~inside].mean()) if (~inside).any() else float("nan"),
        "confusion_matrix": {
            "labels": ["negative", "positive"],
            "rows_true_cols_predicted": cm.tolist(),
        },
        "accuracy_by_length": by_length,
        "reliability_bins": reliability_bins(p_pos, y, 15),
    }


def _features(
    reviews: list[Review], meta: dict[str, Any], unsup_path: str | None
) -> tuple[TrainConfig, Corpus, Any]:
    """The artifact's configuration, the labeled reviews and their sentences as features, and (when the
    model self-trains) the unlabeled reviews' features."""
    cfg = TrainConfig.from_json(meta["hyperparameters"])
    corpus = build_corpus(reviews, cfg.spec, progress=False, valence=cfg.uses_valence)
    unsup = (
        load_unsup(unsup_path, int(meta["training"]["data"].get("max_unsup") or 0))
        if cfg.pseudo_fraction
        else []
    )
    u = build_matrix_and_lengths([r.text for r in unsup], cfg.spec)[0] if unsup else None
    return cfg, corpus, u


def cv_scores(
    reviews: list[Review], meta: dict[str, Any], unsup_path: str | None, folds: int = 5
) -> tuple[np.ndarray, HeldOut, np.ndarray]:
    """Out-of-fold, cross-fitted calibrated P(positive) of every review (GroupKFold by movie), and the
    held-out set (reviews, then their sentences) with all its scores."""
    cfg, corpus, u = _features(reviews, meta, unsup_path)
    _, held_out, p = cross_validate(reviews, corpus, u, cfg, folds, progress=False)
    return p[: len(reviews)], held_out, p


def holdout_scores(
    reviews: list[Review], meta: dict[str, Any], unsup_path: str | None
) -> tuple[np.ndarray, np.ndarray, HeldOut, np.ndarray]:
    """Held-out P(positive) and indices of the reviews, refit on the grouped train part, calibration
    cross-fitted on halves of the rest; and the held-out set (reviews, then sentences) with all its scores."""
    cfg, corpus, u = _features(reviews, meta, unsup_path)
    tr, va = grouped_split(reviews, cfg.val_size, cfg.seed)
    models = fit_models(corpus, tr, u, cfg, progress=False)
    held_out = HeldOut.score(models, corpus, va)
    review_of = np.concatenate([va, corpus.s_review[corpus.sentence_rows(va)]])
    p, _ = cross_fit_halves(held_out, review_of, cfg)
    return p[: len(va)], va, held_out, p


def _short_rows(name: str, s: dict[str, Any]) -> str:
    return (
        f"| {name} | {s['n']} | {s['accuracy']:.4f} | {s['ece_15_bins']:.4f} | {s['uncertain_share']:.1%} "
        f"| {s['accuracy_outside_band']:.4f} |"
    )


def to_markdown(report: dict[str, Any]) -> str:
    m = report["metrics"]
    cm = m["confusion_matrix"]["rows_true_cols_predicted"]
    band = m["uncertain_band"]
    short = report.get("short_texts", {})
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
        f"| share in the uncertain band [{band[0]}, {band[1]}] | {m['uncertain_share']:.1%} |",
        f"| accuracy outside the band | {m['accuracy_outside_band']:.4f} |",
        "",
        "Confusion matrix (rows: true, columns: predicted):",
        "",
        "| | negative | positive |",
        "| --- | ---: | ---: |",
        f"| negative | {cm[0][0]} | {cm[0][1]} |",
        f"| positive | {cm[1][0]} | {cm[1][1]} |",
        "",
        "By review length (words):",
        "",
        "| words | reviews | accuracy | ECE | in the uncertain band |",
        "| --- | ---: | ---: | ---: | ---: |",
        *[
            f"| {b['words']} | {b['count']} | {b['accuracy']:.4f} | {b['ece_15_bins']:.4f} "
            f"| {b['uncertain_share']:.1%} |"
            for b in m["accuracy_by_length"]
        ],
        "",
    ]
    if short:
        lines += [
            "Short texts:",
            "",
            "| set | texts | accuracy | ECE | in the uncertain band | accuracy outside the band |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            *[_short_rows(s["name"], s) for s in short.values()],
            "",
            *[f"- {s['name']}: {s['note']}" for s in short.values()],
            "",
        ]
    lines += [
        f"![reliability diagram]({report['png']})",
        "",
        f"![score histogram]({report['scores_png']})",
        "",
        *[f"![reliability diagram, {s['name']}]({s['png']})" for s in short.values() if s.get("png")],
        "",
        "Reliability diagrams: bars are the observed share of positive texts in each of 15 bins of predicted",
        "P(positive) with the number of texts of the bin above the bar, points sit at (mean predicted,",
        "observed), the dashed line is perfect calibration. The histogram stacks the scores of negative and",
        "positive reviews and shades the uncertain band.",
        "",
    ]
    return "\n".join(lines)


def _short_entry(name: str, note: str, p: np.ndarray, y: np.ndarray, band: Band) -> dict[str, Any]:
    right = (p >= 0.5) == y.astype(bool)
    inside = (p >= band[0]) & (p <= band[1])
    return {
        "name": name,
        "note": note,
        "n": len(y),
        "accuracy": float(right.mean()),
        "roc_auc": float(roc_auc_score(y, p)) if len(set(y.tolist())) == 2 else float("nan"),
        "ece_15_bins": expected_calibration_error(p, y, 15),
        "uncertain_share": float(inside.mean()),
        "accuracy_outside_band": float(right[~inside].mean()) if (~inside).any() else float("nan"),
        "reliability_bins": reliability_bins(p, y, 15),
    }


def short_text_entries(
    held_out: tuple[HeldOut, np.ndarray] | None,
    short_path: str | None,
    model: Any,
    band: Band,
    out: Path,
    name: str,
) -> dict[str, dict[str, Any]]:
    """The short-text rows of the report: the held-out reviews' sentences (cv and holdout modes) and a
    labeled short-text file scored by the shipped artifact (with its own reliability diagram)."""
    short: dict[str, dict[str, Any]] = {}
    if held_out is not None:
        h, p_all = held_out
        sel = h.is_sentence
        short["held_out_sentences"] = _short_entry(
            "sentences of held-out reviews",
            "every sentence of 3-40 words of the scored reviews, labeled with its review's label (noisy: a "
            "neutral or contrary sentence keeps the review's label), scored like the reviews; the scores "
            "target the clean label (the calibration corrects for the estimated flip rate), so against "
            "these noisy labels they look over-confident and this ECE is not the short-text calibration",
            p_all[sel],
            h.y[sel],
            band,
        )
    if short_path:
        short_reviews = read_reviews(short_path)
        sp_ = model.predict_proba([r.text for r in short_reviews])
        sy = np.array([r.label for r in short_reviews], dtype=np.int64)
        entry = _short_entry(
            f"`{Path(short_path).name}`",
            "labeled short texts never used for training or calibration, scored by the shipped artifact",
            sp_,
            sy,
            band,
        )
        entry["png"] = f"{name}_short_reliability.png"
        reliability_diagram(
            entry["reliability_bins"],
            out / entry["png"],
            title=f"Short texts ({Path(short_path).name}): ECE {entry['ece_15_bins']:.4f}",
        )
        short["short_set"] = entry
    return short


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.evaluate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--short", help="labeled short texts (JSON lines) to score with the shipped artifact")
    ap.add_argument("--artifact", default=str(DEFAULT_OUTPUT / "model.tar.gz"))
    ap.add_argument("--mode", choices=("cv", "holdout", "artifact"), default="cv")
    ap.add_argument("--split", default="train", help="aclImdb split to read (train or test)")
    ap.add_argument("--unsup", help="unlabeled reviews, when the model was self-trained (holdout mode)")
    ap.add_argument("--out", default=str(DEFAULT_OUTPUT))
    ap.add_argument("--name", default="evaluation", help="file name stem of the report")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    handler = load_endpoint_handler(args.artifact)
    model: Any = handler.model  # type: ignore[attr-defined]
    meta: dict[str, Any] = model.meta
    band: Band = (float(model.uncertain_band[0]), float(model.uncertain_band[1]))
    reviews = read_reviews(args.data, split=args.split)
    held_out: tuple[HeldOut, np.ndarray] | None = None
    if args.mode == "cv":
        p, h, p_all = cv_scores(reviews, meta, args.unsup)
        held_out = (h, p_all)
        idx = np.arange(len(reviews))
        note = (
            "5-fold GroupKFold by movie; a model fit without its movie scores each review; calibration "
            "cross-fitted"
        )
    elif args.mode == "holdout":
        p, idx, h, p_all = holdout_scores(reviews, meta, args.unsup)
        held_out = (h, p_all)
        note = "refit on the grouped train part, scored on the held-out movies, calibration cross-fitted"
    else:
        p = model.predict_proba([r.text for r in reviews])
        idx = np.arange(len(reviews))
        note = "the shipped artifact scores every review (meaningful only for reviews it was not trained on)"
    y = np.array([reviews[i].label for i in idx], dtype=np.int64)
    texts = [reviews[i].text for i in idx]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    short = short_text_entries(held_out, args.short, model, band, out, args.name)
    png, scores_png = f"{args.name}_reliability.png", f"{args.name}_scores.png"
    metrics = metrics_report(p, y, texts, band)
    report = {
        "model_version": meta["model_version"],
        "data": str(args.data),
        "mode": args.mode,
        "mode_note": note,
        "command": "python -m model.evaluate " + " ".join(argv if argv is not None else sys.argv[1:]),
        "metrics": metrics,
        "short_texts": short,
        "png": png,
        "scores_png": scores_png,
        "seconds": round(time.perf_counter() - started, 1),
    }
    reliability_diagram(
        metrics["reliability_bins"],
        out / png,
        title=f"Reviews ({args.mode}): ECE {metrics['ece_15_bins']:.4f}",
    )
    score_histogram(
        p, y, out / scores_png, title=f"Calibrated scores of the reviews ({args.mode})", band=band
    )
    (out / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / f"{args.name}.md").write_text(to_markdown(report), encoding="utf-8")
    print(to_markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
