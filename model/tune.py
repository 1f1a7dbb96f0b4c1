"""Hyperparameter search for the NB-LR model, grouped by movie_id, logged as JSON lines.

    python -m model.tune --data ../shared/data/imdb/train.jsonl.gz
        [--unsup ../shared/data/imdb/unsup.jsonl.gz] [--trials 40] [--folds 3] [--log FILE] [--seed 42]

Each trial draws hyperparameters from SPACE (random search, seeded), fits on the training folds of a
GroupKFold by movie_id and records the mean held-out accuracy (and per-fold values) as one JSON line, so an
interrupted search can be read back and resumed (trials already in the log are skipped). Feature matrices
are cached per feature setting. The same ranges are in model/sagemaker/hpo_job.json for SageMaker.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import GroupKFold

from model.data import read_reviews
from model.nbsvm import build_matrix
from model.train import TrainConfig, fit_with_pseudo, load_unsup, log

# name: ("log", lo, hi) | ("uniform", lo, hi) | ("choice", [values])
SPACE: dict[str, tuple[Any, ...]] = {
    "C": ("log", 0.02, 1.0),
    "alpha": ("uniform", 0.25, 2.0),
    "beta": ("choice", [1.0, 0.75, 0.5, 0.25]),
    "min_df": ("choice", [1, 2, 3]),
    "word_ngram": ("choice", [(1, 2), (1, 3)]),
    "char_ngram": ("choice", [(0, 0), (2, 5), (1, 4), (3, 6)]),
    "char_C": ("log", 0.01, 0.5),
    "char_mix": ("uniform", 0.1, 0.6),
    "pseudo_fraction": ("choice", [0.0, 0.3, 0.6]),
}


def sample(rng: random.Random, space: dict[str, tuple[Any, ...]], use_unsup: bool) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, dist in space.items():
        if dist[0] == "log":
            params[name] = round(math.exp(rng.uniform(math.log(dist[1]), math.log(dist[2]))), 5)
        elif dist[0] == "uniform":
            params[name] = round(rng.uniform(dist[1], dist[2]), 4)
        else:
            params[name] = rng.choice(dist[1])
    if not use_unsup:
        params["pseudo_fraction"] = 0.0
    return params


def evaluate(
    params: dict[str, Any],
    matrices: dict[tuple[Any, ...], tuple[sp.csr_matrix, sp.csr_matrix | None]],
    texts: list[str],
    unsup_texts: list[str],
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    seed: int,
) -> list[float]:
    cfg = TrainConfig(**params, seed=seed)
    key = (cfg.word_ngram, cfg.word_bits, cfg.char_ngram, cfg.char_bits, cfg.pseudo_fraction > 0)
    if key not in matrices:
        x = build_matrix(texts, cfg.spec)
        u = build_matrix(unsup_texts, cfg.spec) if unsup_texts and cfg.pseudo_fraction > 0 else None
        matrices[key] = (x, u)
    x, u = matrices[key]
    accs = []
    for tr, va in folds:
        model = fit_with_pseudo(x[tr], y[tr], u, cfg, progress=False)
        accs.append(float(((model.margins(x[va]) > 0) == y[va]).mean()))
    return accs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.tune", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--unsup")
    ap.add_argument("--max-unsup", type=int, default=0)
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--log", type=Path, default=Path("model/work/tune.jsonl"))
    ap.add_argument(
        "--fixed", default="{}", help='JSON of hyperparameters to hold fixed, e.g. {"char_ngram": [0, 0]}'
    )
    args = ap.parse_args(argv)
    fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(args.fixed).items()}
    reviews = read_reviews(args.data)
    texts = [r.text for r in reviews]
    y = np.array([r.label for r in reviews], dtype=np.int64)
    groups = [r.movie_id or f"review:{r.id}" for r in reviews]
    folds = [(tr, va) for tr, va in GroupKFold(n_splits=args.folds).split(texts, y, groups)]
    unsup_texts = [r.text for r in load_unsup(args.unsup, args.max_unsup)] if args.unsup else []
    log(f"{len(reviews)} reviews, {args.folds} folds grouped by movie, {len(unsup_texts)} unlabeled")
    args.log.parent.mkdir(parents=True, exist_ok=True)
    done = {}
    if args.log.exists():
        for line in args.log.read_text().splitlines():
            rec = json.loads(line)
            done[json.dumps(rec["params"], sort_keys=True)] = rec
    rng = random.Random(args.seed)
    matrices: dict[tuple[Any, ...], tuple[sp.csr_matrix, sp.csr_matrix | None]] = {}
    for trial in range(args.trials):
        params = {**sample(rng, SPACE, bool(unsup_texts)), **fixed}
        key = json.dumps(params, sort_keys=True)
        if key in done:
            continue
        started = time.perf_counter()
        accs = evaluate(params, matrices, texts, unsup_texts, y, folds, args.seed)
        rec = {
            "trial": trial,
            "params": json.loads(key),
            "mean_accuracy": float(np.mean(accs)),
            "fold_accuracy": accs,
            "seconds": round(time.perf_counter() - started, 1),
        }
        done[key] = rec
        with args.log.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
        best = max(done.values(), key=lambda r: r["mean_accuracy"])
        log(f"trial {trial}: {rec['mean_accuracy']:.4f} {key} | best {best['mean_accuracy']:.4f}")
    best = max(done.values(), key=lambda r: r["mean_accuracy"])
    print(json.dumps({"best": best}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
