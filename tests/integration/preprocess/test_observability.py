"""The preprocess handler's log lines and metrics: each line names the job and the uploaded key, and rejected
rows are counted by reason (a dimension with a fixed vocabulary, never the free-text sentence)."""

from __future__ import annotations

import json

import pytest

from tests.integration.preprocess.conftest import Pipeline
from tests.observability import emf_records, log_lines, metric_values


def test_every_log_line_names_the_job_and_rejected_rows_are_counted_by_reason(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a file with two good reviews, a broken line, a repeated id and a review with no text left
    rows = [
        json.dumps({"id": "a", "text": "A fine film."}),
        '{"text": "broken',
        json.dumps({"id": "a", "text": "The same id again."}),
        json.dumps({"id": "c", "text": "<br /><br />"}),
        json.dumps({"id": "d", "text": "Another fine film."}),
    ]
    key = "incoming/observed.jsonl"
    uploaded = pipeline.upload(key, ("\n".join(rows) + "\n").encode())
    capsys.readouterr()  # only what the invocation prints

    # When the handler processes its notification
    with log_lines(pipeline.handler.logger) as logs:
        pipeline.invoke(pipeline.event_for(uploaded))

    # Then every log line of the invocation carries the job's id and the uploaded key
    metrics = emf_records(capsys.readouterr().out)
    job = pipeline.job_of(key)
    assert logs, "the handler logged nothing"
    for line in logs:
        assert (line.get("job_id"), line.get("source_key")) == (job.job_id, key), line
    # And rejected rows are one metric per reason kind
    rejected = {dimensions["reason"]: value for dimensions, value in metric_values(metrics, "RejectedRows")}
    assert rejected == {"unreadable_row": [1.0], "duplicate_id": [1.0], "empty_text": [1.0]}
    # And the next message's lines do not inherit this job's keys
    with log_lines(pipeline.handler.logger) as after:
        pipeline.handler.logger.info("after the invocation")
    assert "job_id" not in after[-1]
