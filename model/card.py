"""The model card (model_card.json and model_card.md beside model.tar.gz): what the model is, where it
holds and where it does not, with the validation figures it was chosen on.

Training writes it; ``python -m model.card [model/artifact/model.tar.gz]`` writes it again from the
artifact's model.json (after the card's text changed, without retraining)."""

from __future__ import annotations

import argparse
import hashlib
import json
import tarfile
from pathlib import Path
from typing import Any

DOMAINS = [
    "English movie reviews (IMDb): the training domain.",
    "Short English review texts of one or two sentences (product, app, restaurant reviews): supported "
    "through the length-normalized component, the VADER lexicon valence (a general-purpose sentiment "
    "lexicon, not learned from movies) and the length-bucketed calibration; validated on short IMDb "
    "sentences only (no labeled product or restaurant reviews were available for development).",
]
LIMITATIONS = [
    "Trained on IMDb movie reviews only; words that matter in other domains but are rare in movie reviews "
    "(for example 'refund', 'battery') get weight only through the VADER lexicon, when it lists them.",
    "Calibration is fit on out-of-fold IMDb reviews and their sentences, whose labels are the review's "
    "label (a neutral or contrary sentence of a positive review counts as positive); the sentences' flip "
    "rates are estimated by confident learning per class and length bucket and corrected for, which "
    "assumes the flips depend on nothing else about the sentence. Calibration on other traffic is not "
    "guaranteed.",
    "Bag of n-grams: sarcasm, irony and long-range negation ('I expected to hate it, but ...') are often "
    "missed.",
    "English only; other languages get scores near the prior and are mostly flagged uncertain.",
    "Scores inside the uncertain band are close to a coin flip on validation data: treat them as 'unsure'.",
]


def write_model_card(out: Path, meta: dict[str, Any], tar_sha256: str, tar_size: int) -> None:
    """model_card.json (machine-readable) and model_card.md beside model.tar.gz."""
    m = meta["metrics"]
    card = {
        "model_version": meta["model_version"],
        "model_type": meta["model_type"],
        "artifact": {"file": "model.tar.gz", "sha256": tar_sha256, "bytes": tar_size},
        "intended_use": "Binary sentiment (positive/negative) of English reviews, long or short.",
        "domains": DOMAINS,
        "classes": meta["classes"],
        "features": meta["features"],
        "components": meta["components"],
        "hyperparameters": meta["hyperparameters"],
        "calibration": meta["calibration"],
        "uncertainty": meta["uncertainty"],
        "metrics": m,
        "training": meta["training"],
        "limitations": LIMITATIONS,
    }
    (out / "model_card.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / "model_card.md").write_text(_markdown(meta, card, tar_sha256, tar_size), encoding="utf-8")


def _metric_rows(m: dict[str, Any]) -> list[str]:
    rows = [
        f"| validation accuracy, reviews | {m['validation_accuracy']:.4f} ({m['validation_size']} reviews) |",
        "| validation ECE, reviews (calibration cross-fitted on halves) | "
        f"{m['validation_ece_cross_fitted']:.4f} |",
    ]
    if "validation_sentence_accuracy" in m:
        rows.append(
            f"| validation accuracy, sentences of those reviews (noisy labels) | "
            f"{m['validation_sentence_accuracy']:.4f} ({m['validation_sentence_size']} sentences) |"
        )
    if "cv_folds" in m:
        rows += [
            f"| {m['cv_folds']}-fold grouped CV accuracy, reviews | {m['cv_accuracy_mean']:.4f} "
            f"(std {m['cv_accuracy_std']:.4f}) |",
            f"| CV ECE, reviews, calibration fit on the other folds | {m['cv_ece_cross_fitted']:.4f} |",
            f"| CV log loss, reviews | {m['cv_log_loss_cross_fitted']:.4f} |",
            f"| CV accuracy / ECE, sentences of held-out reviews (noisy labels; scores target the clean "
            f"label) | {m['cv_sentence_accuracy']:.4f} / {m['cv_sentence_ece']:.4f} "
            f"({m['cv_sentence_size']} sentences) |",
            f"| CV share of reviews / sentences in the uncertain band | {m['cv_uncertain_share']:.1%} / "
            f"{m['cv_sentence_uncertain_share']:.1%} |",
            f"| CV accuracy outside the band, reviews / sentences | {m['cv_accuracy_outside_band']:.4f} / "
            f"{m['cv_sentence_accuracy_outside_band']:.4f} |",
        ]
    if m.get("sentence_flip_rate") is not None:
        rows.append(
            "| share of sentence labels flipped, all lengths and classes "
            f"({m.get('sentence_flip_rate_method', 'estimated')}) | "
            f"{m['sentence_flip_rate']:.3f} |"
        )
    rates = m.get("sentence_flip_rates")
    if rates is not None:
        rows.append(
            "| sentence flip rates held fixed per length bucket, label positive for a negative sentence / "
            "label negative for a positive one | "
            + "; ".join(_rate_cells(rates, m.get("sentence_flip_rates_bootstrap")))
            + " |"
        )
    rows.append(f"| training accuracy of the shipped (refit) model | {m['train_accuracy_shipped']:.4f} |")
    return rows


def _rate_cells(rates: dict[str, Any], boot: dict[str, Any] | None) -> list[str]:
    """'<= 30 tokens: 0.200 / 0.243' per bucket, with the bootstrap intervals when there are some (a bucket
    with too few sentences of its own has the overall rates)."""
    edges = [*rates["max_tokens"], None]
    cells = []
    for b, edge in enumerate(edges):
        name = f"<= {edge} tokens" if edge is not None else "longer"
        if [rates["to_positive"][b], rates["to_negative"][b]] == list(rates["overall"]):
            name += " (too few sentences: the rates of all sentences)"
        cell = f"{name}: {rates['to_positive'][b]:.3f} / {rates['to_negative'][b]:.3f}"
        if boot:
            (p_lo, p_hi), (n_lo, n_hi) = boot["to_positive"][b], boot["to_negative"][b]
            cell += f" (95% over movies {p_lo:.3f}-{p_hi:.3f} / {n_lo:.3f}-{n_hi:.3f})"
        cells.append(cell)
    return cells


def _markdown(meta: dict[str, Any], card: dict[str, Any], tar_sha256: str, tar_size: int) -> str:
    hp = meta["hyperparameters"]
    data = meta["training"]["data"]
    band = meta["uncertainty"]["band"]
    cal_rows = [
        f"| {'<= ' + str(b['max_tokens']) if b['max_tokens'] is not None else 'longer'} | "
        + ", ".join(f"{c:.3f}" for c in b["coef"])
        + f" | {b['intercept']:.3f} |"
        for b in meta["calibration"]["buckets"]
    ]
    lines = [
        f"# Model card: {meta['model_version']}",
        "",
        f"- **Model**: {meta['model_type']}; word n-grams {hp['word_ngram'][0]}-{hp['word_ngram'][1]} hashed "
        f"into 2^{hp['word_bits']} buckets; components combined and calibrated per text length",
        f"- **Artifact**: `model.tar.gz`, {tar_size / 1e6:.2f} MB, sha256 `{tar_sha256}`",
        "- **Intended use**: positive/negative sentiment of English reviews; `score` is the calibrated "
        f"P(positive); `uncertain` is true when the score is in [{band[0]}, {band[1]}].",
        f"- **Training data**: {data['n_reviews']} labeled IMDb reviews ({data['n_movies']} movies), "
        f"sha256 `{data['sha256']}`, and their sentences of 3-40 words (each with its review's label)",
        f"- **Command**: `{meta['training']['command']}`",
        "",
        "## Domains",
        "",
        *[f"- {d}" for d in card["domains"]],
        "",
        "## Metrics",
        "",
        "Validation: 20% of the movies of the training set held out (GroupShuffleSplit by movie_id), the",
        "model fit on the other 80%. Cross-validation: GroupKFold by movie_id over all labeled reviews.",
        "Short texts: the sentences of the held-out reviews, labeled with their review's label (so some",
        "labels are wrong: the figures are a lower bound). The IMDb test set was not used.",
        "",
        "| metric | value |",
        "| --- | --- |",
        *_metric_rows(meta["metrics"]),
        "",
        "## Calibration (shipped)",
        "",
        "P(positive) = sigmoid(intercept + coefficients . margins) with the margins of the components "
        f"({', '.join(meta['calibration']['components'])}), one row per text length in tokens; fit on "
        "out-of-fold margins.",
        "",
        "| tokens | coefficients | intercept |",
        "| --- | --- | --- |",
        *cal_rows,
        "",
        "## Uncertainty",
        "",
        f"Band [{band[0]}, {band[1]}]: {meta['uncertainty']['rule']}.",
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
    return "\n".join(lines)


def rewrite_card(tar_path: Path) -> dict[str, Any]:
    """Write the model card beside an artifact from its model.json, digest and size; returns model.json."""
    with tarfile.open(tar_path) as tar:
        member = tar.extractfile("model.json")
        if member is None:
            raise FileNotFoundError(f"{tar_path} has no model.json")
        meta: dict[str, Any] = json.loads(member.read())
    data = tar_path.read_bytes()
    write_model_card(tar_path.parent, meta, hashlib.sha256(data).hexdigest(), len(data))
    return meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.card", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "artifact", nargs="?", default=str(Path(__file__).resolve().parent / "artifact" / "model.tar.gz")
    )
    tar_path = Path(ap.parse_args(argv).artifact)
    try:
        meta = rewrite_card(tar_path)
    except FileNotFoundError as missing:
        raise SystemExit(str(missing)) from missing
    print(f"wrote {tar_path.parent / 'model_card.md'} for {meta['model_version']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
