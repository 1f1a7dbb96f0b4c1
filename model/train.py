"""Train the review sentiment model and write the artifact.

    python -m model.train --data PATH [--output model/artifact] [--unsup PATH] [--seed 42] [--C 0.1 ...]

Runs unchanged as a SageMaker script-mode training job: the data defaults to $SM_CHANNEL_TRAIN, the output
to $SM_MODEL_DIR (where the files are written loose; SageMaker tars them into model.tar.gz) and
hyperparameters arrive as ``--name value`` arguments. Locally the output folder gets model.tar.gz and the
model card (model_card.md, model_card.json).

Steps: read labeled reviews and split them into sentences; hash both into n-gram features; hold out a
validation split grouped by movie_id (no movie in both parts); fit the components (an NB-LR on binary
n-grams, a logistic regression on l2-normalized log-tf x idf fit on reviews and their sentences) on the rest
and report validation accuracy (the line ``validation_accuracy=0.9xxx`` is the SageMaker tuning objective);
cross-validate by movie to fit the length-bucketed calibration that combines the components on out-of-fold
margins and to choose the uncertain band; refit on all labeled reviews for the shipped artifact.
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

from model.calibration import (
    FlipRates,
    apply_length_calibration,
    expected_calibration_error,
    fit_length_calibration,
)
from model.card import write_model_card
from model.data import Review, read_reviews, review_sentences
from model.export import ExportComponent, make_tarball, today, write_model_dir
from model.nbsvm import NBParams, build_matrix_and_lengths, fit_nb
from model.noise import (
    bootstrap_flip_rates,
    confident_learning_flip_rate,
    flip_rates_by_bucket,
    out_of_fold_probabilities,
    single_flip_rate,
)
from model.serving.inference import (
    BINARY,
    L2_LOGTF_IDF,
    LEXICON_DIR,
    VADER_COMPOUND,
    VADER_LEXICON_FILE,
    FeatureSpec,
    LengthCalibration,
    read_lexicon,
    strip_markup,
    vader_compound,
)
from model.tfidf import L2Model, fit_l2_lr

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "artifact"
VADER_LEXICON = Path(__file__).resolve().parent / "serving" / LEXICON_DIR / VADER_LEXICON_FILE
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
    l2_C: float = 3.0  # the l2-normalized log-tf x idf logistic regression (0: NB-LR only)
    sentence_weight: float = 1.0  # sample weight of a review's sentences in that model (0: reviews only)
    length_buckets: tuple[int, ...] = (30, 150)  # calibration buckets: at most 30 tokens, 31-150, longer
    valence: str = "vader"  # a third component: VADER's compound score ("none": without it)
    # the sentences' flip rates: estimated first by confident learning per class and length bucket
    # ("confident-learning"), one symmetric rate estimated first ("confident-learning-single"), or one fit
    # jointly ("fit")
    sentence_noise: str = "confident-learning"
    uncertain_accuracy: float = 0.75  # the uncertain band holds scores whose validation accuracy is below
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
        base = f"nbsvm-hash-{lo}-{hi}" if self.l2_C <= 0 else f"nblr-tfidf-hash-{lo}-{hi}"
        if self.char_ngram[1] > 0:
            base += f"-char{self.char_ngram[0]}-{self.char_ngram[1]}"
        if self.pseudo_fraction > 0:
            base += "-st"
        if self.uses_valence:
            base += "-vader"
        return base

    @property
    def uses_valence(self) -> bool:
        return self.valence == "vader"

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extra")
        d["word_ngram"] = list(self.word_ngram)
        d["char_ngram"] = list(self.char_ngram)
        d["length_buckets"] = list(self.length_buckets)
        return d

    @classmethod
    def from_json(cls, hp: dict[str, Any]) -> TrainConfig:
        """The configuration recorded in a model.json (older artifacts lack the newer fields)."""
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        values = {k: v for k, v in hp.items() if k in known}
        for name in ("word_ngram", "char_ngram", "length_buckets"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)


@dataclass
class Fitted:
    weights: np.ndarray
    intercept: float

    def margins(self, x: sp.csr_matrix) -> np.ndarray:
        """Margins of binary features (x may hold counts: only presence counts)."""
        return np.asarray(_presence(x) @ self.weights, dtype=np.float64) + self.intercept


def _presence(x: sp.csr_matrix) -> sp.csr_matrix:
    if x.nnz and x.data.max() <= 1:
        return x
    out = x.copy()
    out.data = np.ones_like(out.data)
    return out


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


@dataclass
class Corpus:
    """The labeled reviews as hashed n-gram counts, with their sentences (each labeled like its review)."""

    x: sp.csr_matrix  # reviews x features, occurrence counts
    y: np.ndarray
    n_tokens: np.ndarray
    xs: sp.csr_matrix  # sentences x features, occurrence counts
    ys: np.ndarray
    s_tokens: np.ndarray
    s_review: np.ndarray  # the review each sentence comes from
    v: np.ndarray | None = None  # VADER compound of each review (None: no valence component)
    vs: np.ndarray | None = None  # and of each sentence

    def sentence_rows(self, review_rows: np.ndarray) -> np.ndarray:
        """Indices of the sentences of the given reviews."""
        return np.flatnonzero(np.isin(self.s_review, review_rows))


def valence_of(texts: list[str], lexicon: dict[str, float], batch: int = 10_000) -> np.ndarray:
    """VADER compound of each text, computed by the serving code (markup stripped, case kept)."""
    parts = [
        vader_compound([strip_markup(t) for t in texts[i : i + batch]], lexicon)
        for i in range(0, len(texts), batch)
    ]
    return np.concatenate(parts) if parts else np.zeros(0)


def build_corpus(
    reviews: list[Review], spec: FeatureSpec, progress: bool = True, valence: bool = False
) -> Corpus:
    say = log if progress else _quiet
    texts = [r.text for r in reviews]
    y = np.array([r.label for r in reviews], dtype=np.int64)
    x, n_tokens = build_matrix_and_lengths(texts, spec, progress=say, counts=True)
    s_text: list[str] = []
    s_review: list[int] = []
    for i, text in enumerate(texts):
        for sentence in review_sentences(text):
            s_text.append(sentence)
            s_review.append(i)
    say(f"{len(s_text)} sentences of 3-40 words from the reviews")
    xs, s_tokens = build_matrix_and_lengths(s_text, spec, progress=say, counts=True)
    s_idx = np.array(s_review, dtype=np.int64)
    corpus = Corpus(x, y, n_tokens, xs, y[s_idx], s_tokens, s_idx)
    if valence:
        lexicon = read_lexicon(str(VADER_LEXICON))
        corpus.v, corpus.vs = valence_of(texts, lexicon), valence_of(s_text, lexicon)
        say(f"VADER compound of {len(texts)} reviews and {len(s_text)} sentences")
    return corpus


def _quiet(_: str) -> None:
    return None


@dataclass
class Models:
    """The fitted components; margins() gives one column per component, in the shipped order."""

    nb: Fitted
    l2: L2Model | None
    valence: bool = False  # VADER's compound score as the last column

    @property
    def names(self) -> list[str]:
        return ["nblr", *(["tfidf"] if self.l2 is not None else []), *(["vader"] if self.valence else [])]

    def margins(self, counts: sp.csr_matrix, valence: np.ndarray | None = None) -> np.ndarray:
        cols = [self.nb.margins(counts)]
        if self.l2 is not None:
            cols.append(self.l2.margins(counts))
        if self.valence:
            if valence is None:
                raise ValueError("the model has a valence component: pass the texts' VADER compound")
            cols.append(np.asarray(valence, dtype=np.float64))
        return np.column_stack(cols)

    def export(self) -> list[ExportComponent]:
        out = [ExportComponent("nblr", BINARY, self.nb.weights, self.nb.intercept)]
        if self.l2 is not None:
            out.append(
                ExportComponent("tfidf", L2_LOGTF_IDF, self.l2.weights, self.l2.intercept, self.l2.idf)
            )
        if self.valence:
            out.append(ExportComponent("vader", VADER_COMPOUND, np.zeros(0, np.float32), 0.0))
        return out


def fit_models(
    c: Corpus, rows: np.ndarray, u: sp.csr_matrix | None, cfg: TrainConfig, progress: bool = True
) -> Models:
    """Fit every component on the given reviews (and, for the l2 model, their sentences)."""
    nb = fit_with_pseudo(c.x[rows], c.y[rows], u, cfg, progress)
    if cfg.l2_C <= 0:
        return Models(nb, None, cfg.uses_valence)
    srows = c.sentence_rows(rows) if cfg.sentence_weight > 0 else np.zeros(0, dtype=np.int64)
    l2 = fit_l2_lr(
        c.x[rows], c.y[rows], cfg.l2_C, cfg.min_df, c.xs[srows], c.ys[srows], cfg.sentence_weight, cfg.seed
    )
    return Models(nb, l2, cfg.uses_valence)


@dataclass
class HeldOut:
    """Margins of held-out reviews and of their sentences, with labels and token counts."""

    margins: np.ndarray
    y: np.ndarray
    n_tokens: np.ndarray
    is_sentence: np.ndarray

    @classmethod
    def score(cls, models: Models, c: Corpus, rows: np.ndarray) -> HeldOut:
        srows = c.sentence_rows(rows)
        v = None if c.v is None else c.v[rows]
        vs = None if c.vs is None else c.vs[srows]
        return cls(
            margins=np.vstack([models.margins(c.x[rows], v), models.margins(c.xs[srows], vs)]),
            y=np.concatenate([c.y[rows], c.ys[srows]]),
            n_tokens=np.concatenate([c.n_tokens[rows], c.s_tokens[srows]]),
            is_sentence=np.concatenate([np.zeros(len(rows), bool), np.ones(len(srows), bool)]),
        )


def uncertain_band(
    p: np.ndarray,
    y: np.ndarray,
    min_accuracy: float,
    window: float = 0.05,
    noisy: np.ndarray | None = None,
    flip_rate: float | tuple[np.ndarray, np.ndarray] | None = None,
) -> list[float]:
    """[0.5 - d, 0.5 + d] with d the smallest distance from 0.5 from which predictions are right at least
    min_accuracy of the time (accuracy of the scores whose distance to 0.5 is in [d, d + window)).

    Rows marked noisy (sentences with their review's label) count with the unbiased estimate of being right
    about the clean label, (right - r) / (1 - r10 - r01), with r10 = P(label positive | text negative),
    r01 = P(label negative | text positive) and r the one that turns a right prediction wrong (r10 for a
    positive prediction, r01 for a negative one). flip_rate: one symmetric rate, or per-row (r10, r01)."""
    dist = np.abs(np.asarray(p) - 0.5)
    pred = np.asarray(p) >= 0.5
    right = (pred == np.asarray(y).astype(bool)).astype(np.float64)
    if noisy is not None and flip_rate is not None:
        r10, r01 = (flip_rate, flip_rate) if isinstance(flip_rate, float) else flip_rate
        right = np.where(noisy, (right - np.where(pred, r10, r01)) / (1.0 - r10 - r01), right)
    for d in np.arange(0.0, 0.5, 0.01):
        sel = (dist >= d) & (dist < d + window)
        if sel.sum() >= 30 and right[sel].mean() >= min_accuracy:
            return [round(0.5 - float(d), 2), round(0.5 + float(d), 2)]
    return [0.0, 1.0]


def held_out_metrics(
    prefix: str, p: np.ndarray, h: HeldOut, band: list[float] | None = None
) -> dict[str, Any]:
    """Accuracy, ECE and log loss of calibrated scores on reviews, on sentences and per length bucket."""
    out: dict[str, Any] = {}
    right = (p >= 0.5) == h.y.astype(bool)
    for part, sel in (("", ~h.is_sentence), ("sentence_", h.is_sentence)):
        if not sel.any():
            continue
        ps, ys = p[sel], h.y[sel]
        out[f"{prefix}_{part}accuracy"] = float(right[sel].mean())
        out[f"{prefix}_{part}ece"] = expected_calibration_error(ps, ys)
        out[f"{prefix}_{part}log_loss"] = float(
            -np.mean(ys * np.log(ps + 1e-12) + (1 - ys) * np.log(1 - ps + 1e-12))
        )
        out[f"{prefix}_{part}size"] = int(sel.sum())
        if band is not None:
            inside = sel & (p >= band[0]) & (p <= band[1])
            out[f"{prefix}_{part}uncertain_share"] = float(inside.sum() / sel.sum())
            out[f"{prefix}_{part}accuracy_outside_band"] = float(right[sel & ~inside].mean())
    return out


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
    ap.add_argument(
        "--l2-C", "--l2_C", "--l2_c", dest="l2_C", type=float, default=d.l2_C, help="0: NB-LR only"
    )
    ap.add_argument("--sentence-weight", "--sentence_weight", type=float, default=d.sentence_weight)
    ap.add_argument(
        "--length-buckets",
        "--length_buckets",
        type=lambda t: tuple(int(v) for v in str(t).split(",") if v.strip()),
        default=d.length_buckets,
        help="upper token counts of the calibration buckets, e.g. 30,150",
    )
    ap.add_argument("--valence", choices=("vader", "none"), default=d.valence, help="none: no VADER input")
    ap.add_argument(
        "--sentence-noise",
        "--sentence_noise",
        choices=tuple(NOISE_METHODS),
        default=d.sentence_noise,
        help="the sentences' label flip rates: estimated by confident learning first, per class and length "
        "bucket (confident-learning) or one symmetric rate (confident-learning-single), or one fit jointly",
    )
    ap.add_argument("--uncertain-accuracy", "--uncertain_accuracy", type=float, default=d.uncertain_accuracy)
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
        seed=args.seed, l2_C=args.l2_C, sentence_weight=args.sentence_weight,
        length_buckets=args.length_buckets, uncertain_accuracy=args.uncertain_accuracy,
        valence=args.valence, sentence_noise=args.sentence_noise,
    )  # fmt: skip


def load_unsup(path: str | None, limit: int) -> list[Review]:
    if not path:
        return []
    reviews = read_reviews(path, unlabeled=True)
    return reviews[:limit] if limit > 0 else reviews


class Calibrator:
    """Fits the length calibration on parts of a held-out set. With cfg.sentence_noise
    "confident-learning", the sentences' flip rates per class and length bucket are estimated first, by
    confident learning on their out-of-fold P(label) (a plain calibration fit on the other folds'
    sentences), from the rows the calibration is fit on, and held fixed in the noise model;
    "confident-learning-single" estimates one symmetric rate the same way; with "fit" one rate is fit
    jointly."""

    def __init__(self, h: HeldOut, fold: np.ndarray, cfg: TrainConfig) -> None:
        self.h, self.cfg = h, cfg
        self.p_noisy: np.ndarray | None = None
        if cfg.sentence_noise != "fit" and h.is_sentence.any():
            s = h.is_sentence
            self.p_noisy = np.full(len(h.y), np.nan)
            self.p_noisy[s] = out_of_fold_probabilities(
                h.margins[s], h.n_tokens[s], h.y[s], fold[s], cfg.length_buckets
            )

    def flip_rates(self, rows: np.ndarray) -> FlipRates | None:
        if self.p_noisy is None:
            return None
        s = rows & self.h.is_sentence
        if self.cfg.sentence_noise == "confident-learning-single":
            return single_flip_rate(self.p_noisy[s], self.h.y[s], self.cfg.length_buckets)
        return flip_rates_by_bucket(self.p_noisy[s], self.h.y[s], self.h.n_tokens[s], self.cfg.length_buckets)

    def flip_rate(self, rows: np.ndarray) -> float | None:
        """The share of the sentences' labels that disagree with their class (one rate, for reports)."""
        if self.p_noisy is None:
            return None
        s = rows & self.h.is_sentence
        return confident_learning_flip_rate(self.p_noisy[s], self.h.y[s])

    def band_rates(self, rows: np.ndarray) -> float | tuple[np.ndarray, np.ndarray] | None:
        """The rates uncertain_band corrects the held-out set's sentences for (per row)."""
        rates = self.flip_rates(rows)
        return None if rates is None else rates.per_row(self.h.n_tokens)

    def fit(self, rows: np.ndarray) -> LengthCalibration:
        h = self.h
        return fit_length_calibration(
            h.margins[rows], h.n_tokens[rows], h.y[rows], self.cfg.length_buckets, h.is_sentence[rows],
            self.flip_rates(rows),
        )  # fmt: skip

    def bootstrap(self, groups: np.ndarray) -> dict[str, list[list[float]]] | None:
        """95% intervals of the per-class, per-bucket rates over movies (groups: the movie of each row)."""
        if self.p_noisy is None:
            return None
        s, h = self.h.is_sentence, self.h
        return bootstrap_flip_rates(
            self.p_noisy[s], h.y[s], h.n_tokens[s], self.cfg.length_buckets, groups[s], seed=self.cfg.seed
        )


def cross_fit_halves(h: HeldOut, review_of: np.ndarray, cfg: TrainConfig) -> tuple[np.ndarray, Calibrator]:
    """Calibrated scores of a held-out set, calibration fit on one half of its reviews (with their
    sentences) and applied to the other, both ways; and the calibrator over both halves."""
    reviews = np.unique(review_of)
    rng = np.random.default_rng(cfg.seed)
    first = set(rng.permutation(reviews)[: len(reviews) // 2].tolist())
    half = np.array([r in first for r in review_of.tolist()])
    calibrator = Calibrator(h, half.astype(np.int64), cfg)
    p = np.empty(len(h.y))
    for fit, apply in ((half, ~half), (~half, half)):
        cal = calibrator.fit(fit)
        p[apply] = apply_length_calibration(cal, h.margins[apply], h.n_tokens[apply])
    return p, calibrator


def validate(reviews: list[Review], c: Corpus, u: sp.csr_matrix | None, cfg: TrainConfig) -> dict[str, Any]:
    """Fit on the grouped train part, measure on the validation part (reviews and their sentences), with
    the calibration cross-fitted on halves of the validation reviews; returns metrics, split and model."""
    tr, va = grouped_split(reviews, cfg.val_size, cfg.seed)
    log(f"grouped validation split: {len(tr)} train / {len(va)} validation reviews, no movie in both")
    models = fit_models(c, tr, u, cfg)
    h = HeldOut.score(models, c, va)
    review_of = np.concatenate([va, c.s_review[c.sentence_rows(va)]])
    p, calibrator = cross_fit_halves(h, review_of, cfg)
    everything = np.ones(len(h.y), dtype=bool)
    cal = calibrator.fit(everything)
    band = uncertain_band(
        p, h.y, cfg.uncertain_accuracy, noisy=h.is_sentence, flip_rate=calibrator.band_rates(everything)
    )
    metrics = held_out_metrics("validation", p, h, band)
    metrics["validation_ece_cross_fitted"] = metrics.pop("validation_ece")
    metrics.update(noise_metrics(calibrator, everything, cfg))
    metrics["calibration"] = cal.to_json(models.names)
    metrics["uncertain_band"] = band
    return {"metrics": metrics, "train_idx": tr, "val_idx": va, "model": models, "calibration": cal}


NOISE_METHODS = {
    "confident-learning": "confident learning on out-of-fold sentence probabilities (Northcutt et al. 2021), "
    "per class and length bucket, held fixed",
    "confident-learning-single": "confident learning on out-of-fold sentence probabilities (Northcutt et al. "
    "2021), one symmetric rate, held fixed",
    "fit": "one symmetric rate fit jointly with the calibration",
}


def noise_metrics(calibrator: Calibrator, rows: np.ndarray, cfg: TrainConfig) -> dict[str, Any]:
    """The sentences' label-noise figures of a calibration fit on rows: the share of flipped labels (one
    number), the rates the noise model held fixed (per class and bucket) and the method."""
    rates = calibrator.flip_rates(rows)
    return {
        "sentence_flip_rate": calibrator.flip_rate(rows),
        "sentence_flip_rates": None if rates is None else rates.to_json(),
        "sentence_flip_rate_method": NOISE_METHODS[cfg.sentence_noise],
    }


def cross_validate(
    reviews: list[Review],
    c: Corpus,
    u: sp.csr_matrix | None,
    cfg: TrainConfig,
    folds: int,
    progress: bool = True,
) -> tuple[dict[str, Any], HeldOut, np.ndarray]:
    """GroupKFold by movie: out-of-fold margins for every review and sentence. The shipped calibration is
    fit on all of them; its metrics are measured fold by fold with the calibration fit on the other folds.
    Returns the metrics, the out-of-fold set (reviews first, in order, then sentences) and its
    cross-fitted calibrated P(positive)."""
    groups = [r.movie_id or f"review:{r.id}" for r in reviews]
    parts: list[HeldOut] = []
    fold_parts: list[np.ndarray] = []
    order: list[np.ndarray] = []
    accs = []
    for k, (tr, va) in enumerate(GroupKFold(n_splits=folds).split(np.zeros(len(c.y)), c.y, groups)):
        models = fit_models(c, tr, u, cfg, progress=False)
        h = HeldOut.score(models, c, va)
        parts.append(h)
        fold_parts.append(np.full(len(h.y), k))
        order.append(va)
        nb_right = (h.margins[~h.is_sentence, 0] > 0) == h.y[~h.is_sentence].astype(bool)
        accs.append(float(nb_right.mean()))
        if progress:
            log(f"cross-validation fold {k + 1}/{folds}: NB-LR accuracy {accs[-1]:.4f} on {len(va)} reviews")
    h = _merge(parts, order, len(c.y))
    fold_of = _merge_folds(parts, fold_parts, order, len(c.y))
    p = np.empty(len(h.y))
    fold_accs = []
    calibrator = Calibrator(h, fold_of, cfg)
    for k in range(folds):
        other, this = fold_of != k, fold_of == k
        cal_k = calibrator.fit(other)
        p[this] = apply_length_calibration(cal_k, h.margins[this], h.n_tokens[this])
        rev = this & ~h.is_sentence
        fold_accs.append(float(((p[rev] >= 0.5) == h.y[rev].astype(bool)).mean()))
    everything = np.ones(len(h.y), dtype=bool)
    cal = calibrator.fit(everything)
    band = uncertain_band(
        p, h.y, cfg.uncertain_accuracy, noisy=h.is_sentence, flip_rate=calibrator.band_rates(everything)
    )
    review_of = np.concatenate([np.arange(len(c.y)), *[c.s_review[c.sentence_rows(va)] for va in order]])
    intervals = calibrator.bootstrap(np.asarray(groups)[review_of])
    metrics: dict[str, Any] = {
        "cv_folds": folds,
        **held_out_metrics("cv", p, h, band),
        "cv_fold_accuracy": fold_accs,
        "cv_accuracy_std": float(np.std(fold_accs)),
        "cv_nblr_only_accuracy": float(np.mean(accs)),
        "calibration": cal.to_json(models.names),
        "calibration_fit_on": f"out-of-fold margins of {folds}-fold GroupKFold by movie "
        f"({int((~h.is_sentence).sum())} reviews and {int(h.is_sentence.sum())} of their sentences)",
        **noise_metrics(calibrator, everything, cfg),
        "sentence_flip_rates_bootstrap": intervals,
        "uncertain_band": band,
    }
    metrics["cv_accuracy_mean"] = metrics.pop("cv_accuracy")
    metrics["cv_ece_cross_fitted"] = metrics.pop("cv_ece")
    metrics["cv_log_loss_cross_fitted"] = metrics.pop("cv_log_loss")
    return metrics, h, p


def _merge(parts: list[HeldOut], order: list[np.ndarray], n_reviews: int) -> HeldOut:
    """Fold parts into one set: reviews in their original order, then every fold's sentences."""
    k = parts[0].margins.shape[1]
    margins = np.empty((n_reviews, k))
    y = np.empty(n_reviews, dtype=np.int64)
    n_tokens = np.empty(n_reviews, dtype=np.int64)
    for part, rows in zip(parts, order, strict=True):
        rev = ~part.is_sentence
        margins[rows], y[rows], n_tokens[rows] = part.margins[rev], part.y[rev], part.n_tokens[rev]
    sent = [(p.margins[p.is_sentence], p.y[p.is_sentence], p.n_tokens[p.is_sentence]) for p in parts]
    return HeldOut(
        margins=np.vstack([margins, *[m for m, _, _ in sent]]),
        y=np.concatenate([y, *[t for _, t, _ in sent]]),
        n_tokens=np.concatenate([n_tokens, *[n for _, _, n in sent]]),
        is_sentence=np.concatenate(
            [np.zeros(n_reviews, bool), np.ones(sum(len(t) for _, t, _ in sent), bool)]
        ),
    )


def _merge_folds(
    parts: list[HeldOut], fold_parts: list[np.ndarray], order: list[np.ndarray], n_reviews: int
) -> np.ndarray:
    """The fold of each row of _merge's result."""
    fold = np.empty(n_reviews, dtype=np.int64)
    for part, f, rows in zip(parts, fold_parts, order, strict=True):
        fold[rows] = f[~part.is_sentence]
    return np.concatenate([fold, *[f[p.is_sentence] for p, f in zip(parts, fold_parts, strict=True)]])


def write_outputs(
    args: argparse.Namespace,
    argv: list[str] | None,
    cfg: TrainConfig,
    reviews: list[Review],
    y: np.ndarray,
    unsup: list[Review],
    metrics: dict[str, Any],
    final: Models,
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
    band = metrics["uncertain_band"]
    extra["uncertainty"] = {
        "band": band,
        "rule": f"scores in [{band[0]}, {band[1]}] are flagged uncertain: out-of-fold predictions scored in "
        f"that band were right less than {cfg.uncertain_accuracy:.0%} of the time (reviews and sentences)",
    }
    with tempfile.TemporaryDirectory() as tmp:
        target = out if layout == "dir" else Path(tmp) / "model"
        meta = write_model_dir(
            target,
            cfg.spec,
            final.export(),
            metrics["calibration"],
            cfg.name(),
            today(epoch),
            cfg.to_json(),
            extra,
            label_noise={k: metrics.get(k) for k in ("sentence_flip_rate_method", "sentence_flip_rates")},
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
    corpus = build_corpus(reviews, spec, valence=cfg.uses_valence)
    u = build_matrix_and_lengths([r.text for r in unsup], spec, progress=log)[0] if unsup else None
    log(f"hyperparameters: {json.dumps(cfg.to_json())}")

    val = validate(reviews, corpus, u, cfg)
    metrics = val["metrics"]
    # The SageMaker tuning objective is read from this exact line.
    print(f"validation_accuracy={metrics['validation_accuracy']:.5f}", flush=True)
    print(f"validation_ece={metrics['validation_ece_cross_fitted']:.5f}", flush=True)
    rounded = {k: round(v, 5) if isinstance(v, float) else v for k, v in metrics.items()}
    log(f"validation: {json.dumps(rounded)}")
    if args.cv_folds > 1:
        cv, _, _ = cross_validate(reviews, corpus, u, cfg, args.cv_folds)
        metrics.update(cv)  # the shipped calibration and uncertain band come from the out-of-fold margins
        print(f"cv_accuracy={cv['cv_accuracy_mean']:.5f}", flush=True)
        print(f"cv_ece={cv['cv_ece_cross_fitted']:.5f}", flush=True)
        print(f"cv_sentence_accuracy={cv['cv_sentence_accuracy']:.5f}", flush=True)
        log(f"calibration from out-of-fold margins: {json.dumps(cv['calibration'])}")
    log(f"uncertain band: {metrics['uncertain_band']}")

    if args.no_refit:
        final = val["model"]
        log("--no-refit: shipping the model fit on the validation split's train part")
    else:
        log(f"refitting on all {len(reviews)} labeled reviews")
        final = fit_models(corpus, np.arange(len(reviews)), u, cfg)
    cal = LengthCalibration.from_json(metrics["calibration"])
    shipped_p = apply_length_calibration(cal, final.margins(corpus.x, corpus.v), corpus.n_tokens)
    train_acc = float(((shipped_p >= 0.5).astype(np.int64) == y).mean())
    log(f"training accuracy of the shipped model: {train_acc:.4f}")

    meta = write_outputs(args, argv, cfg, reviews, y, unsup, metrics, final, train_acc)
    log(f"model_version {meta['model_version']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
