"""The serving benchmark and the evaluation report, run small."""

from __future__ import annotations

import json
from pathlib import Path

from bench.model_serving import run, to_markdown, write_section
from model.evaluate import main as evaluate_main
from tests.unit.small_model import SAMPLE


def test_given_a_benchmark_doc_with_other_sections_when_written_then_only_model_serving_changes(
    tmp_path: Path,
) -> None:
    # Given docs/benchmarks.md with someone else's sections around an old Model serving section
    doc = tmp_path / "benchmarks.md"
    doc.write_text(
        "# Benchmarks\n\n## Ingest\n\nkeep me\n\n## Model serving\n\nold figures\n\n"
        "## Query API\n\nkeep too\n"
    )
    # When the new section is written
    write_section("## Model serving\n\nnew figures\n", doc)
    # Then the other sections are intact and the old figures are gone
    text = doc.read_text()
    assert "keep me" in text
    assert "keep too" in text
    assert "new figures" in text
    assert "old figures" not in text
    assert text.index("## Ingest") < text.index("## Model serving") < text.index("## Query API")


def test_given_sample_reviews_when_benchmarked_quickly_then_every_figure_is_reported() -> None:
    # When the benchmark runs on the committed sample
    result = run(quick=True, data=SAMPLE)
    # Then both models report throughput at batch 1, 100 and 1000, size and load time
    ours, baseline = result["models"]
    assert [row["batch"] for row in ours["throughput"]] == [1, 100, 1000]
    assert all(row["reviews_per_s"] > 0 for row in ours["throughput"] + baseline["throughput"])
    assert 0 < ours["load_seconds"] < 5
    assert ours["rss_delta_bytes"] > 0
    assert ours["artifact_bytes"] <= 25 * 1024 * 1024
    assert to_markdown(result).startswith("## Model serving")


def test_given_sample_when_evaluated_holdout_then_report_json_markdown_and_png_are_written(
    tmp_path: Path,
) -> None:
    # When the evaluation report is made on the sample (holdout mode refits the recorded hyperparameters)
    code = evaluate_main(["--data", str(SAMPLE), "--mode", "artifact", "--out", str(tmp_path)])
    # Then it has every metric, a markdown report and a real PNG
    assert code == 0
    report = json.loads((tmp_path / "evaluation.json").read_text())
    metrics = report["metrics"]
    assert set(metrics) >= {
        "accuracy",
        "macro_f1",
        "roc_auc",
        "ece_15_bins",
        "confusion_matrix",
        "accuracy_by_length",
    }
    assert sum(sum(row) for row in metrics["confusion_matrix"]["rows_true_cols_predicted"]) == 400
    assert sum(b["count"] for b in metrics["accuracy_by_length"]) == 400
    assert (tmp_path / "evaluation_reliability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| accuracy |" in (tmp_path / "evaluation.md").read_text()


def test_given_sample_model_when_evaluated_holdout_then_held_out_movies_are_scored(
    tmp_path: Path, small_artifact: Path
) -> None:
    # When holdout mode refits the small model's recorded hyperparameters on the grouped train part
    args = ["--data", str(SAMPLE), "--artifact", str(small_artifact), "--out", str(tmp_path), "--name", "h"]
    args += ["--mode", "holdout"]
    assert evaluate_main(args) == 0
    report = json.loads((tmp_path / "h.json").read_text())
    # Then only the held-out movies are scored: the size recorded at training, about 20% of the sample
    recorded = json.loads((small_artifact.parent / "model_card.json").read_text())["metrics"][
        "validation_size"
    ]
    assert report["mode"] == "holdout"
    assert report["metrics"]["n"] == recorded
    assert 40 <= recorded <= 120
    assert 0.5 < report["metrics"]["accuracy"] <= 1.0


def test_given_sample_model_when_evaluated_by_cross_validation_then_every_review_is_scored_out_of_fold(
    tmp_path: Path, small_artifact: Path
) -> None:
    # When the default (cv) mode refits the recorded hyperparameters in 5 folds grouped by movie
    args = ["--data", str(SAMPLE), "--artifact", str(small_artifact), "--out", str(tmp_path), "--name", "cv"]
    assert evaluate_main(args) == 0
    report = json.loads((tmp_path / "cv.json").read_text())
    # Then all 400 reviews are scored, each by a model that did not see its movie
    assert report["mode"] == "cv"
    assert report["metrics"]["n"] == 400
    assert 0.5 < report["metrics"]["accuracy"] < 1.0
