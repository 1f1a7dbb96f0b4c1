"""The end-to-end benchmark's CPU accounting: hosts grouped by function, per-review figures in the report."""

from __future__ import annotations

import os

from bench.emulator_memory import cpu_seconds
from bench.end_to_end import cpu_by_kind, cpu_markdown


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
