"""Train the review sentiment model and write the artifact.

    python -m model.train --data PATH [--output model/artifact] [--unsup PATH] [--seed 42] [--C 0.1 ...]

Runs unchanged as a SageMaker script-mode training job: the data defaults to $SM_CHANNEL_TRAIN, the output
to $SM_MODEL_DIR (where the files are written loose; SageMaker tars them into model.tar.gz) and
hyperparameters arrive as ``--name value`` arguments. Locally the output folder gets model.tar.gz and the
model card (model_card.md, model_card.json).

Steps: read labeled reviews; hash them into binary n-gram features; hold out a validation split grouped by
movie_id (no movie in both parts); fit on the rest and report validation accuracy (the line
``validation_accuracy=0.9xxx`` is the SageMaker tuning objective); fit Platt calibration on the validation
margins; refit on all labeled reviews for the shipped artifact.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file (SageMaker script mode: python model/train.py --C 0.1 ...)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import hashlib
import json
import os
import shlex
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import GroupKFold, GroupShuffleSplit

from model.calibration import apply_platt, cross_fitted_ece, expected_calibration_error, fit_platt
from model.data import Review, read_reviews
from model.export import make_tarball, today, write_model_dir
from model.nbsvm import NBParams, build_matrix, fit_nb
from model.serving.inference import FeatureSpec

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "artifact"
_T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - _T0:7.1f}s] {msg}", flush=True)


def _pair(text: str) -> tuple[int, int]:
    parts = [int(p) for p in str(text).replace("-", ",").split(",") if p.strip()]
    if len(parts) == 1:
        parts = [parts[0], parts[0]]
    if len(parts) != 2 or parts[0] > parts[1] or parts[0] < 0:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX (e.g. 1,3), got {text!r}")
    return parts[0], parts[1]


@dataclass
class TrainConfig:
    """Every hyperparameter; the defaults are the shipped model's."""

    word_ngram: tuple[int, int] = (1, 3)
    word_bits: int = 23
    char_ngram: tuple[int, int] = (0, 0)
    char_bits: int = 22
    C: float = 0.3
    alpha: float = 1.5
    beta: float = 0.5  # Wang & Manning interpolation toward the mean |w| (1.0: plain NB-LR)
    min_df: int = 2
    loss: str = "logistic"
    char_C: float = 0.1
    char_alpha: float = 1.0
    char_min_df: int = 2
    char_mix: float = 0.5  # weight of the character model's log-odds in the ensemble (0..1)
    pseudo_fraction: float = 0.0  # share of unlabeled reviews (most confident first) added as pseudo-labels
    pseudo_weight: float = 1.0  # sample weight of a pseudo-labeled review
    val_size: float = 0.2
    seed: int = 42
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> FeatureSpec:
        return FeatureSpec(
            word_ngram=self.word_ngram,
            word_bits=self.word_bits,
            char_ngram=self.char_ngram,
            char_bits=self.char_bits,
        )

    def word_params(self) -> NBParams:
        return NBParams(C=self.C, alpha=self.alpha, beta=self.beta, min_df=self.min_df, loss=self.loss)

    def char_params(self) -> NBParams:
        return NBParams(
            C=self.char_C, alpha=self.char_alpha, beta=self.beta, min_df=self.char_min_df, loss=self.loss
        )

    def name(self) -> str:
        lo, hi = self.word_ngram
        base = f"nbsvm-hash-{lo}-{hi}"
        if self.char_ngram[1] > 0:
            base += f"-char{self.char_ngram[0]}-{self.char_ngram[1]}"
        if self.pseudo_fraction > 0:
            base += "-st"
        return base

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extra")
        d["word_ngram"] = list(self.word_ngram)
        d["char_ngram"] = list(self.char_ngram)
        return d


@dataclass
class Fitted:
    weights: np.ndarray
    intercept: float

    def margins(self, x: sp.csr_matrix) -> np.ndarray:
        return np.asarray(x @ self.weights, dtype=np.float64) + self.intercept


def fit_ensemble(
    x: sp.csr_matrix, y: np.ndarray, cfg: TrainConfig, sample_weight: np.ndarray | None = None
) -> Fitted:
    """Word n-gram NB-LR, plus a character n-gram NB-LR averaged in log-odds space when enabled."""
    n_word = 1 << cfg.word_bits
    if cfg.char_ngram[1] == 0:
        m = fit_nb(x, y, cfg.word_params(), seed=cfg.seed, sample_weight=sample_weight)
        return Fitted(m.weights, m.intercept)
    mw = fit_nb(x[:, :n_word].tocsr(), y, cfg.word_params(), seed=cfg.seed, sample_weight=sample_weight)
    mc = fit_nb(x[:, n_word:].tocsr(), y, cfg.char_params(), seed=cfg.seed, sample_weight=sample_weight)
    lam = cfg.char_mix
    weights = np.concatenate([(1.0 - lam) * mw.weights, lam * mc.weights]).astype(np.float32)
    return Fitted(weights, (1.0 - lam) * mw.intercept + lam * mc.intercept)


def fit_with_pseudo(
    x: sp.csr_matrix, y: np.ndarray, u: sp.csr_matrix | None, cfg: TrainConfig, progress: bool = True
) -> Fitted:
    """Fit on labeled rows; with pseudo_fraction > 0, label the most confident unlabeled rows and refit."""
    model = fit_ensemble(x, y, cfg)
    if u is None or cfg.pseudo_fraction <= 0 or u.shape[0] == 0:
        return model
    mu = model.margins(u)
    k = round(cfg.pseudo_fraction * u.shape[0])
    chosen = np.argsort(-np.abs(mu), kind="stable")[:k]
    yu = (mu[chosen] > 0).astype(np.int64)
    if progress:
        edge = abs(mu[chosen[-1]])
        log(f"self-training: {k} pseudo-labeled reviews ({yu.mean():.1%} positive), |margin| >= {edge:.2f}")
    xa = sp.vstack([x, u[chosen]]).tocsr()
    ya = np.concatenate([y, yu])
    sw = np.concatenate([np.ones(len(y)), np.full(k, cfg.pseudo_weight)])
    return fit_ensemble(xa, ya, cfg, sample_weight=sw)


def grouped_split(reviews: list[Review], val_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of (train, validation), grouped by movie_id (a review without one is its own group)."""
    groups = [r.movie_id or f"review:{r.id}" for r in reviews]
    splitter = GroupShuffleSplit(n_splits=1, test_size=val_size, random_state=seed)
    tr, va = next(splitter.split(np.zeros(len(reviews)), groups=groups))
    return np.sort(tr), np.sort(va)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    d = TrainConfig()
    ap = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--data", default=os.environ.get("SM_CHANNEL_TRAIN"), help="labeled reviews (file or folder)"
    )
    ap.add_argument(
        "--unsup", default=os.environ.get("SM_CHANNEL_UNSUP"), help="unlabeled reviews (self-training)"
    )
    ap.add_argument("--output", default=os.environ.get("SM_MODEL_DIR", str(DEFAULT_OUTPUT)))
    ap.add_argument(
        "--layout",
        choices=("auto", "tar", "dir"),
        default="auto",
        help="tar: model.tar.gz + model card; dir: loose files (SageMaker); auto: dir under SM_MODEL_DIR",
    )
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--val-size", "--val_size", type=float, default=d.val_size)
    ap.add_argument("--word-ngram", "--word_ngram", type=_pair, default=d.word_ngram)
    ap.add_argument("--word-bits", "--word_bits", type=int, default=d.word_bits)
    ap.add_argument("--char-ngram", "--char_ngram", type=_pair, default=d.char_ngram, help="0,0 disables")
    ap.add_argument("--char-bits", "--char_bits", type=int, default=d.char_bits)
    ap.add_argument("--C", "--c", dest="C", type=float, default=d.C)
    ap.add_argument("--alpha", type=float, default=d.alpha)
    ap.add_argument("--beta", type=float, default=d.beta)
    ap.add_argument("--min-df", "--min_df", type=int, default=d.min_df)
    ap.add_argument("--loss", choices=("logistic", "squared_hinge"), default=d.loss)
    ap.add_argument("--char-C", "--char_C", "--char_c", dest="char_C", type=float, default=d.char_C)
    ap.add_argument("--char-alpha", "--char_alpha", type=float, default=d.char_alpha)
    ap.add_argument("--char-min-df", "--char_min_df", type=int, default=d.char_min_df)
    ap.add_argument("--char-mix", "--char_mix", type=float, default=d.char_mix)
    ap.add_argument("--pseudo-fraction", "--pseudo_fraction", type=float, default=d.pseudo_fraction)
    ap.add_argument("--pseudo-weight", "--pseudo_weight", type=float, default=d.pseudo_weight)
    ap.add_argument("--max-unsup", "--max_unsup", type=int, default=0, help="use at most N unlabeled reviews")
    ap.add_argument(
        "--cv-folds",
        "--cv_folds",
        type=int,
        default=5,
        help="grouped K-fold for calibration and a steadier accuracy estimate (0: calibrate on the split)",
    )
    ap.add_argument("--limit", type=int, default=0, help="use only the first N labeled reviews (smoke tests)")
    ap.add_argument("--no-refit", action="store_true", help="ship the validation-split model (quick checks)")
    args, unknown = ap.parse_known_args(argv)
    if unknown:
        log(f"ignoring unknown arguments: {unknown}")
    if not args.data:
        ap.error("--data is required (or set SM_CHANNEL_TRAIN)")
    return args


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        word_ngram=args.word_ngram, word_bits=args.word_bits,
        char_ngram=args.char_ngram, char_bits=args.char_bits,
        C=args.C, alpha=args.alpha, beta=args.beta, min_df=args.min_df, loss=args.loss, char_C=args.char_C,
        char_alpha=args.char_alpha, char_min_df=args.char_min_df, char_mix=args.char_mix,
        pseudo_fraction=args.pseudo_fraction, pseudo_weight=args.pseudo_weight, val_size=args.val_size,
        seed=args.seed,
    )  # fmt: skip


def load_unsup(path: str | None, limit: int) -> list[Review]:
    if not path:
        return []
    reviews = read_reviews(path, unlabeled=True)
    return reviews[:limit] if limit > 0 else reviews


def validate(
    reviews: list[Review], x: sp.csr_matrix, y: np.ndarray, u: sp.csr_matrix | None, cfg: TrainConfig
) -> dict[str, Any]:
    """Fit on the grouped train part, measure on the validation part; returns metrics and Platt (a, b)."""
    tr, va = grouped_split(reviews, cfg.val_size, cfg.seed)
    log(f"grouped validation split: {len(tr)} train / {len(va)} validation reviews, no movie in both")
    model = fit_with_pseudo(x[tr], y[tr], u, cfg)
    mv = model.margins(x[va])
    acc = float(((mv > 0).astype(np.int64) == y[va]).mean())
    a, b = fit_platt(mv, y[va])
    p = apply_platt(mv, a, b)
    metrics = {
        "validation_accuracy": acc,
        "validation_size": len(va),
        "validation_ece_cross_fitted": cross_fitted_ece(mv, y[va], seed=cfg.seed),
        "validation_ece_in_sample": expected_calibration_error(p, y[va]),
        "validation_log_loss": float(
            -np.mean(y[va] * np.log(p + 1e-12) + (1 - y[va]) * np.log(1 - p + 1e-12))
        ),
        "calibration_a": a,
        "calibration_b": b,
    }
    return {"metrics": metrics, "train_idx": tr, "val_idx": va, "model": model, "val_margins": mv}


def cross_validate(
    reviews: list[Review],
    x: sp.csr_matrix,
    y: np.ndarray,
    u: sp.csr_matrix | None,
    cfg: TrainConfig,
    folds: int,
    progress: bool = True,
) -> tuple[dict[str, Any], np.ndarray]:
    """GroupKFold by movie: out-of-fold margins for every review. Platt (a, b) is fit on all of them (the
    shipped calibration); its ECE is measured fold by fold with Platt fit on the other folds' margins.
    Returns the metrics and the cross-fitted calibrated P(positive) of every review."""
    groups = [r.movie_id or f"review:{r.id}" for r in reviews]
    oof = np.empty(len(y), dtype=np.float64)
    fold_of = np.empty(len(y), dtype=np.int64)
    accs = []
    for k, (tr, va) in enumerate(GroupKFold(n_splits=folds).split(np.zeros(len(y)), y, groups)):
        model = fit_with_pseudo(x[tr], y[tr], u, cfg, progress=False)
        oof[va] = model.margins(x[va])
        fold_of[va] = k
        accs.append(float(((oof[va] > 0) == y[va]).mean()))
        if progress:
            log(f"cross-validation fold {k + 1}/{folds}: accuracy {accs[-1]:.4f} on {len(va)} reviews")
    probs = np.empty(len(y), dtype=np.float64)
    for k in range(folds):
        other, this = fold_of != k, fold_of == k
        a_k, b_k = fit_platt(oof[other], y[other])
        probs[this] = apply_platt(oof[this], a_k, b_k)
    a, b = fit_platt(oof, y)
    metrics = {
        "cv_folds": folds,
        "cv_accuracy_mean": float(np.mean(accs)),
        "cv_accuracy_std": float(np.std(accs)),
        "cv_fold_accuracy": accs,
        "cv_ece_cross_fitted": expected_calibration_error(probs, y),
        "cv_log_loss_cross_fitted": float(
            -np.mean(y * np.log(probs + 1e-12) + (1 - y) * np.log(1 - probs + 1e-12))
        ),
        "calibration_a": a,
        "calibration_b": b,
        "calibration_fit_on": f"out-of-fold margins of {folds}-fold GroupKFold by movie ({len(y)} reviews)",
    }
    return metrics, probs


def write_outputs(
    args: argparse.Namespace,
    argv: list[str] | None,
    cfg: TrainConfig,
    reviews: list[Review],
    y: np.ndarray,
    unsup: list[Review],
    metrics: dict[str, Any],
    final: Fitted,
    train_acc: float,
) -> dict[str, Any]:
    """The artifact (model.tar.gz + model card, or loose files under SM_MODEL_DIR); returns model.json."""
    data_path = Path(args.data)
    out = Path(args.output)
    sm_dir = os.environ.get("SM_MODEL_DIR")
    layout = args.layout
    if layout == "auto":
        layout = "dir" if sm_dir and out.resolve() == Path(sm_dir).resolve() else "tar"
    epoch = float(os.environ["SOURCE_DATE_EPOCH"]) if os.environ.get("SOURCE_DATE_EPOCH") else None
    command = "python -m model.train " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    data_info = {
        "path": str(data_path),
        "sha256": sha256_of(data_path),
        "n_reviews": len(reviews),
        "n_movies": len({r.movie_id for r in reviews}),
        "positive_fraction": float(y.mean()),
        "unsup_path": str(args.unsup) if unsup else None,
        "unsup_sha256": sha256_of(Path(args.unsup)) if unsup else None,
        "n_unsup": len(unsup),
    }
    extra = {
        "metrics": {**metrics, "train_accuracy_shipped": train_acc},
        "training": {"command": command, "data": data_info, "validation": "GroupShuffleSplit by movie_id"},
    }
    a, b = metrics["calibration_a"], metrics["calibration_b"]
    with tempfile.TemporaryDirectory() as tmp:
        target = out if layout == "dir" else Path(tmp) / "model"
        meta = write_model_dir(
            target,
            cfg.spec,
            final.weights,
            final.intercept,
            (a, b),
            cfg.name(),
            today(epoch),
            cfg.to_json(),
            extra,
        )
        if layout == "tar":
            tar_path = out / "model.tar.gz"
            digest = make_tarball(target, tar_path, mtime=int(epoch or 0))
            size = tar_path.stat().st_size
            log(f"wrote {tar_path} ({size / 1e6:.2f} MB, sha256 {digest[:12]})")
            write_model_card(out, meta, digest, size)
        else:
            log(f"wrote model files to {out}")
    return meta


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = config_from_args(args)
    np.random.seed(cfg.seed)
    data_path = Path(args.data)
    log(f"reading labeled reviews from {data_path}")
    reviews = read_reviews(data_path)
    if args.limit:
        reviews = reviews[: args.limit]
    y = np.array([r.label for r in reviews], dtype=np.int64)
    n_movies = len({r.movie_id for r in reviews})
    log(f"{len(reviews)} labeled reviews ({y.mean():.1%} positive), {n_movies} movies")
    unsup = load_unsup(args.unsup, args.max_unsup) if cfg.pseudo_fraction > 0 else []
    if unsup:
        log(f"{len(unsup)} unlabeled reviews from {args.unsup}")
    spec = cfg.spec
    log(f"features: {json.dumps(spec.to_json())}")
    x = build_matrix([r.text for r in reviews], spec, progress=log)
    u = build_matrix([r.text for r in unsup], spec, progress=log) if unsup else None
    log(f"hyperparameters: {json.dumps(cfg.to_json())}")

    val = validate(reviews, x, y, u, cfg)
    metrics = val["metrics"]
    # The SageMaker tuning objective is read from this exact line.
    print(f"validation_accuracy={metrics['validation_accuracy']:.5f}", flush=True)
    print(f"validation_ece={metrics['validation_ece_cross_fitted']:.5f}", flush=True)
    rounded = {k: round(v, 5) if isinstance(v, float) else v for k, v in metrics.items()}
    log(f"validation: {json.dumps(rounded)}")
    if args.cv_folds > 1:
        cv, _ = cross_validate(reviews, x, y, u, cfg, args.cv_folds)
        metrics.update(cv)  # the shipped calibration comes from the out-of-fold margins
        print(f"cv_accuracy={cv['cv_accuracy_mean']:.5f}", flush=True)
        print(f"cv_ece={cv['cv_ece_cross_fitted']:.5f}", flush=True)
        log(f"calibration from out-of-fold margins: a={cv['calibration_a']:.5f} b={cv['calibration_b']:.5f}")

    if args.no_refit:
        final = val["model"]
        log("--no-refit: shipping the model fit on the validation split's train part")
    else:
        log(f"refitting on all {len(reviews)} labeled reviews")
        final = fit_with_pseudo(x, y, u, cfg)
    train_acc = float(((final.margins(x) > 0).astype(np.int64) == y).mean())
    log(f"training accuracy of the shipped model: {train_acc:.4f}")

    meta = write_outputs(args, argv, cfg, reviews, y, unsup, metrics, final, train_acc)
    log(f"model_version {meta['model_version']}")
    return 0


def write_model_card(out: Path, meta: dict[str, Any], tar_sha256: str, tar_size: int) -> None:
    """model_card.json (machine-readable) and model_card.md beside model.tar.gz."""
    m = meta["metrics"]
    card = {
        "model_version": meta["model_version"],
        "model_type": meta["model_type"],
        "artifact": {"file": "model.tar.gz", "sha256": tar_sha256, "bytes": tar_size},
        "intended_use": "Binary sentiment (positive/negative) of English movie or product reviews.",
        "classes": meta["classes"],
        "features": meta["features"],
        "hyperparameters": meta["hyperparameters"],
        "calibration": meta["calibration"],
        "metrics": m,
        "training": meta["training"],
        "limitations": [
            "Trained on IMDb movie reviews (English); other domains and languages will score worse.",
            "Scores are calibrated on a held-out split of the same distribution, not on the target traffic.",
            "Bag of n-grams: sarcasm and long-range negation are often missed.",
        ],
    }
    (out / "model_card.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    hp = meta["hyperparameters"]
    lines = [
        f"# Model card: {meta['model_version']}",
        "",
        f"- **Model**: {meta['model_type']} (NBSVM-style, Wang & Manning 2012); "
        f"word n-grams {hp['word_ngram'][0]}-{hp['word_ngram'][1]}"
        + (f", char n-grams {hp['char_ngram'][0]}-{hp['char_ngram'][1]}" if hp["char_ngram"][1] else "")
        + (
            f", self-training on {hp['pseudo_fraction']:.0%} of the unlabeled reviews"
            if hp["pseudo_fraction"]
            else ""
        ),
        f"- **Artifact**: `model.tar.gz`, {tar_size / 1e6:.2f} MB, sha256 `{tar_sha256}`",
        "- **Intended use**: positive/negative sentiment of English reviews; "
        "`score` is the calibrated P(positive).",
        f"- **Training data**: {meta['training']['data']['n_reviews']} labeled IMDb reviews "
        f"({meta['training']['data']['n_movies']} movies), sha256 `{meta['training']['data']['sha256']}`"
        + (
            f"; {meta['training']['data']['n_unsup']} unlabeled reviews"
            if meta["training"]["data"]["n_unsup"]
            else ""
        ),
        f"- **Command**: `{meta['training']['command']}`",
        "",
        "## Metrics",
        "",
        "Validation: 20% of the movies of the training set held out (GroupShuffleSplit by movie_id), the",
        "model fit on the other 80%. Cross-validation: GroupKFold by movie_id over all labeled reviews.",
        "",
        "| metric | value |",
        "| --- | --- |",
        f"| validation accuracy | {m['validation_accuracy']:.4f} ({m['validation_size']} reviews) |",
        "| validation ECE, 15 bins, Platt fit on the other half (cross-fitted) | "
        f"{m['validation_ece_cross_fitted']:.4f} |",
        *(
            [
                f"| {m['cv_folds']}-fold grouped CV accuracy | {m['cv_accuracy_mean']:.4f} "
                f"(std {m['cv_accuracy_std']:.4f}) |",
                f"| CV ECE, 15 bins, Platt fit on the other folds | {m['cv_ece_cross_fitted']:.4f} |",
                f"| CV log loss (calibrated, cross-fitted) | {m['cv_log_loss_cross_fitted']:.4f} |",
            ]
            if "cv_folds" in m
            else [f"| validation log loss (calibrated) | {m['validation_log_loss']:.4f} |"]
        ),
        f"| Platt calibration a, b (shipped) | {m['calibration_a']:.5f}, {m['calibration_b']:.5f} |",
        f"| training accuracy of the shipped (refit) model | {m['train_accuracy_shipped']:.4f} |",
        "",
        "The shipped model is refit on all labeled reviews with the same hyperparameters; its calibration is",
        "fit on out-of-fold margins (cross-validation) or the validation margins. The IMDb test set was not",
        "used; see docs/model.md for how validation relates to the test set.",
        "",
        "## Hyperparameters",
        "",
        "```json",
        json.dumps(hp, indent=2, sort_keys=True),
        "```",
        "",
        "## Limitations",
        "",
        *[f"- {x}" for x in card["limitations"]],
        "",
    ]
    (out / "model_card.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
