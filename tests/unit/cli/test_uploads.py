"""Files and folders become uploads under incoming/, big ones in parts, each with its progress counted."""

from __future__ import annotations

import io
import re
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig

from review_pipeline.readers import InputReport, ParsedRow, read_rows
from review_sentiment_cli import uploads as uploads_module
from review_sentiment_cli.target import Target
from review_sentiment_cli.uploads import (
    MIB,
    NoReviewFilesError,
    PlannedUpload,
    TooManyFilesError,
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


def acl_folder(root: Path) -> Path:
    """An unpacked aclImdb folder in small: reviews under train/pos, train/neg and train/unsup, a URL list,
    and the dataset's vocabulary and README (not review files)."""
    folder = root / "aclImdb"
    files = {
        "train/pos/0_9.txt": "A wonderful film.",
        "train/neg/1_2.txt": "Two hours I will never get back.",
        "train/unsup/2_0.txt": "I saw it on a Sunday.",
        "train/urls_pos.txt": "http://www.imdb.com/title/tt0000001/usercomments\n",
        "imdb.vocab": "the\nfilm\n",
        "README": "Large Movie Review Dataset v1.0\n",
    }
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_a_folder_of_many_review_files_is_refused_unless_packed_or_sent_file_by_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a folder of 4 review files where more than 3 count as many
    monkeypatch.setattr(uploads_module, "MANY_FILES", 3)
    folder = acl_folder(tmp_path)
    # When the CLI plans its upload as it is, then it refuses, naming both ways out
    with pytest.raises(TooManyFilesError, match=r"4 review files would be 4 uploads.*--pack.*--each-file"):
        plan_uploads([folder], "incoming/")
    # And file by file it plans one upload a file, packed one upload of the folder's own name
    assert len(plan_uploads([folder], "incoming/", each_file=True)) == 4
    assert plan_uploads([folder], "incoming/", folder="team", pack=True) == [
        PlannedUpload(folder, "incoming/team/aclImdb.tar.gz", packed=True)
    ]


def test_a_packed_folder_is_one_tar_gz_whose_paths_still_give_ids_ratings_and_labels(
    bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an unpacked aclImdb folder, and a temporary folder of the test's own
    folder = acl_folder(tmp_path)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    target = Target(description="moto", api_url="", bucket=bucket, incoming_prefix="incoming/", region=REGION)
    # When the CLI uploads it packed
    with transfer_progress(disable=True) as progress:
        planned = plan_uploads([folder], "incoming/", pack=True)
        uploads = list(upload_files(target, planned, lambda key: [], progress))
    # Then the bucket holds one .tar.gz of its review files under the folder's name (not its README or
    # vocabulary), and no temporary file is left behind
    s3: Any = boto3.client("s3", region_name=REGION)
    body = s3.get_object(Bucket=bucket, Key="incoming/aclImdb.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        assert sorted(archive.getnames()) == [
            "aclImdb/train/neg/1_2.txt",
            "aclImdb/train/pos/0_9.txt",
            "aclImdb/train/unsup/2_0.txt",
            "aclImdb/train/urls_pos.txt",
        ]
    assert [(u.path, u.key, u.size) for u in uploads] == [(folder, "incoming/aclImdb.tar.gz", len(body))]
    assert list(scratch.iterdir()) == []
    # And the pipeline's reader takes each review's id, rating and label from its path, skipping the URL list
    report = InputReport()
    rows = list(read_rows(io.BytesIO(body), "incoming/aclImdb.tar.gz", report=report))
    fields = [r.fields for r in rows if isinstance(r, ParsedRow)]
    assert [(f["id"], f.get("rating"), f.get("label")) for f in fields] == [
        ("aclImdb/train/neg/1", 2, 0),
        ("aclImdb/train/pos/0", 9, 1),
        ("aclImdb/train/unsup/2", None, None),
    ]
    assert report.skipped_count == 1
