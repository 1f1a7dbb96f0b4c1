"""Files and folders become uploads under incoming/, big ones in parts, each with its progress counted."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig

from review_sentiment_cli.target import Target
from review_sentiment_cli.uploads import (
    MIB,
    NoReviewFilesError,
    PlannedUpload,
    plan_uploads,
    transfer_progress,
    upload_files,
)
from tests.conftest import REGION


def test_a_file_goes_under_incoming_and_a_folder_keeps_its_relative_paths(tmp_path: Path) -> None:
    # Given a file and a folder of review files, with a note and a hidden file beside them
    single = tmp_path / "one.csv.gz"
    single.write_bytes(b"x")
    folder = tmp_path / "batch"
    (folder / "2024").mkdir(parents=True)
    for name in ("a.jsonl", "2024/b.csv", "README.md", ".hidden.jsonl"):
        (folder / name).write_text("x")
    # When the CLI plans the upload into the sub-folder "team"
    planned = plan_uploads([single, folder], "incoming/", folder="/team/")
    # Then only review files go, each under incoming/team/
    assert planned == [
        PlannedUpload(single, "incoming/team/one.csv.gz"),
        PlannedUpload(folder / "2024/b.csv", "incoming/team/2024/b.csv"),
        PlannedUpload(folder / "a.jsonl", "incoming/team/a.jsonl"),
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("notes.docx", "not a review file"),
        ("missing.csv", "no such file"),
        ("empty-folder", "no review files"),
    ],
)
def test_nothing_to_upload_is_a_clear_error(tmp_path: Path, name: str, message: str) -> None:
    # Given a path that names no review file
    if name == "notes.docx":
        (tmp_path / name).write_text("x")
    if name == "empty-folder":
        (tmp_path / name).mkdir()
    # When the CLI plans the upload
    # Then it refuses before uploading anything, naming the path
    with pytest.raises(NoReviewFilesError, match=message):
        plan_uploads([tmp_path / name], "incoming/")


def test_a_big_file_is_uploaded_in_parts_and_its_progress_reaches_its_size(
    bucket: str, tmp_path: Path
) -> None:
    # Given an 11 MiB file and a transfer that splits above 5 MiB (S3's smallest part)
    big = tmp_path / "big.jsonl"
    big.write_bytes(b'{"text": "fine"}\n' * (11 * MIB // 17 + 1))
    target = Target(description="moto", api_url="", bucket=bucket, incoming_prefix="incoming/", region=REGION)
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=2)
    seen: list[str] = []

    def earlier_jobs(key: str) -> list[str]:
        seen.append(key)
        return ["older-job"]

    # When the CLI uploads it
    with transfer_progress(disable=True) as progress:
        uploads = list(upload_files(target, plan_uploads([big], "incoming/"), earlier_jobs, progress, config))
    # Then S3 holds it whole, as a multipart object of 3 parts
    s3: Any = boto3.client("s3", region_name=REGION)
    head = s3.head_object(Bucket=bucket, Key="incoming/big.jsonl")
    assert head["ContentLength"] == big.stat().st_size
    assert head["ETag"].strip('"').endswith("-3")
    # And the progress bar counted every byte, and the key's earlier jobs were noted before the upload
    assert progress.tasks[0].completed == big.stat().st_size == progress.tasks[0].total
    assert uploads[0].earlier_job_ids == frozenset({"older-job"})
    assert seen == ["incoming/big.jsonl"]


def test_every_s3_request_of_an_upload_carries_its_own_trace_header(
    bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an 11 MiB file (three parts) and a small one, and the headers the CLI's S3 client sends
    big, small = tmp_path / "big.jsonl", tmp_path / "small.jsonl"
    big.write_bytes(b'{"text": "fine"}\n' * (11 * MIB // 17 + 1))
    small.write_bytes(b'{"text": "fine"}\n')
    target = Target(description="moto", api_url="", bucket=bucket, incoming_prefix="incoming/", region=REGION)
    client = target.client("s3")
    sent: list[tuple[str, bytes | None]] = []
    client.meta.events.register(
        "before-send.s3",
        lambda request, **_: sent.append((request.method, request.headers.get("X-Amzn-Trace-Id"))),
    )
    monkeypatch.setattr(Target, "client", lambda self, service: client)
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=2)

    # When the CLI uploads both
    with transfer_progress(disable=True) as progress:
        uploads = list(
            upload_files(target, plan_uploads([big, small], "incoming/"), lambda key: [], progress, config)
        )

    # Then each upload has a trace id of its own, in X-Ray's format
    big_trace, small_trace = (upload.trace_id for upload in uploads)
    assert big_trace != small_trace
    assert all(re.fullmatch(r"1-[0-9a-f]{8}-[0-9a-f]{24}", t or "") for t in (big_trace, small_trace))
    # And every request of the big one (create, 3 parts, complete) and the small one's PutObject sent it
    headers = [(header or b"").decode() for _, header in sent]
    assert headers.count(f"Root={big_trace};Sampled=1") == 5
    assert headers.count(f"Root={small_trace};Sampled=1") == 1
    assert len(headers) == 6
