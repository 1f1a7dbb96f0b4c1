"""The end-to-end benchmark's report: both clocks of an upload, CPU by function and per review."""

from __future__ import annotations

import os

from bench.emulator_memory import cpu_seconds
from bench.end_to_end import (
    cpu_by_kind,
    cpu_markdown,
    median_pass,
    poll_milliseconds,
    repeats_for,
    repeats_markdown,
    run_row,
)


def test_given_two_hosts_of_a_function_when_grouped_then_their_cpu_adds_up_under_the_function() -> None:
    by_process = {
        "emulator (moto, pollers, API)": 3.0,
        "InferenceFunction #1": 1.5,
        "InferenceFunction #2": 0.5,
        "SageMaker endpoint": 2.0,
    }

    kinds = cpu_by_kind(by_process)

    assert kinds == {
        "emulator (moto, pollers, API)": 3.0,
        "InferenceFunction": 2.0,
        "SageMaker endpoint": 2.0,
    }


def test_given_a_run_when_reported_then_cpu_is_per_review_with_the_cores_and_the_raw_write_beside_it() -> (
    None
):
    result = {
        "runs": [
            {
                "reviews": 1_000,
                "wall_seconds": 2.0,
                "cpu_seconds": {"SageMaker endpoint": 0.5, "emulator (moto, pollers, API)": 1.0},
            }
        ],
        "raw_items": 10_000,
        "raw_write_seconds": 8.0,
        "raw_client_cpu_seconds": 3.0,
        "raw_server_cpu_seconds": 5.0,
    }

    lines = cpu_markdown(result)

    # The emulator's column comes first; 1.5 CPU seconds over 1,000 reviews and 2 s of wall clock
    assert "| reviews | emulator (moto, pollers, API) | SageMaker endpoint | total | cores |" in lines
    assert "| 1,000 | 1.00 | 0.50 | **1.50** | 0.75 |" in lines
    assert any(
        "0.80 ms of CPU per item (0.30 in the writer, 0.50 in the emulator's process), 1.00 cores" in line
        for line in lines
    )


def test_given_this_process_when_its_cpu_is_read_then_it_grows_with_work_and_a_missing_one_is_none() -> None:
    before = cpu_seconds(os.getpid())
    sum(i * i for i in range(3_000_000))

    after = cpu_seconds(os.getpid())

    assert before is not None
    assert after is not None
    assert after > before
    assert cpu_seconds(2**22 + 12345) is None  # above Linux's largest pid


def test_given_an_upload_when_reported_then_both_clocks_have_their_rate_and_ratio_to_the_raw_write() -> None:
    # Given 5,000 reviews: 7.0 s from `aws s3 cp` to the job read back, 5.5 s from its S3 event to finished_at
    run = {
        "reviews": 5_000, "file_bytes": 7_000_000, "status": "COMPLETED",
        "counts": {"classified": 5_000, "rejected": 0},
        "wall_seconds": 7.0, "end_to_end_reviews_per_s": 5_000 / 7.0, "ratio": 5_000 / 7.0 / 1_000,
        "pipeline_seconds": 5.5, "pipeline_reviews_per_s": 5_000 / 5.5, "pipeline_ratio": 5_000 / 5.5 / 1_000,
        "inference_batches": 10, "emulator_peak_mb": 1_207.4,
    }  # fmt: skip

    row = run_row(run)

    # Then the row gives each clock with its rate and its ratio to a raw rate of 1,000 items/s
    assert row == (
        "| 5,000 | 7.0 MB | COMPLETED (5,000 classified, 0 rejected) | "
        "7.0 s | **714 reviews/s** | **0.71** | 5.5 s | **909 reviews/s** | **0.91** | 10 | 1,207 MB |"
    )


def test_given_sizes_when_repeated_then_only_short_runs_are_uploaded_more_than_once() -> None:
    assert [repeats_for(reviews) for reviews in (1_000, 5_000, 10_000, 50_000)] == [3, 3, 3, 1]


def test_given_a_repeated_size_when_reported_then_every_uploads_two_rates_are_listed() -> None:
    runs = [
        {
            "reviews": 5_000,
            "every_rate": [700.4, 771.0, 850.2],
            "every_pipeline_rate": [863.0, 967.0, 1_060.0],
        },
        {"reviews": 50_000, "every_rate": [955.0], "every_pipeline_rate": [1_013.0]},
    ]

    lines = repeats_markdown(runs)

    assert lines == [
        "5,000 reviews, 3 uploads (the median by wall clock is in the table): end to end 700, 771, 850 "
        "reviews/s; pipeline 863, 967, 1,060 reviews/s.",
        "",
    ]
    assert repeats_markdown(runs[1:]) == []


def test_given_raw_passes_before_and_after_the_uploads_when_combined_then_the_faster_middle_one_counts() -> (
    None
):
    # Given six passes of 1,000 items (seconds, writer CPU, server CPU), three before the uploads, three after
    passes = [
        (0.8, 0.3, 0.4),
        (1.0, 0.3, 0.5),
        (0.9, 0.3, 0.4),
        (1.1, 0.4, 0.5),
        (0.7, 0.2, 0.4),
        (1.2, 0.4, 0.6),
    ]

    raw = median_pass(1_000, passes)

    # Then the median is the faster of the two middle passes (0.9 s and 1.0 s), with its own CPU figures
    assert (raw["raw_write_seconds"], raw["raw_client_cpu_seconds"], raw["raw_server_cpu_seconds"]) == (
        0.9,
        0.3,
        0.4,
    )
    assert round(raw["raw_dynamodb_items_per_s"]) == 1_111
    assert [round(rate) for rate in raw["raw_pass_rates"]] == [1_250, 1_000, 1_111, 909, 1_429, 833]


def test_given_poll_round_trips_when_summarised_then_count_median_and_90th_percentile_are_in_ms() -> None:
    # Given ten polls of 10 to 100 ms, and no poll at all
    round_trips = [n / 100 for n in range(10, 0, -1)]

    summary, empty = poll_milliseconds(round_trips), poll_milliseconds([])

    # Then the median is between the middle two and the 90th percentile the ninth of ten (nearest rank), in ms
    assert summary == {"polls": 10, "median": 55.0, "p90": 90.0}
    assert empty == {"polls": 0, "median": 0.0, "p90": 0.0}
