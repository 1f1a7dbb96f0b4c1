"""Every format and encoding through the preprocess handler: one job per uploaded object, exact counts
(total = queued reviews + rejected rows), the reading report on the job; zero-byte and binary files under
every suffix."""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest

from review_pipeline.models import JobStatus
from review_pipeline.readers import accepted_suffixes
from tests.integration.preprocess.conftest import Pipeline


def tar_gz(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def queued_reviews(pipeline: Pipeline) -> int:
    return sum(message.review_count for message in pipeline.queued_messages())


def test_aclimdb_archive_is_one_job_with_labels_and_its_metadata_listed(pipeline: Pipeline) -> None:
    # Given an aclImdb-style .tar.gz: 60 labelled, 10 unlabelled reviews, one empty review, and metadata files
    members = {"aclImdb/README": b"Large Movie Review Dataset", "aclImdb/imdb.vocab": b"the\n"}
    members |= {f"aclImdb/train/pos/{n}_9.txt": f"Great film {n}.".encode() for n in range(30)}
    members |= {f"aclImdb/train/neg/{n}_2.txt": f"Awful film {n}.".encode() for n in range(30)}
    members |= {f"aclImdb/train/unsup/{n}_0.txt": f"A film {n}.".encode() for n in range(10)}
    members |= {
        "aclImdb/train/urls_pos.txt": b"http://www.imdb.com/title/tt0453418/",
        "aclImdb/test/neg/9_1.txt": b"",
    }
    obj = pipeline.upload("incoming/aclImdb_v1.tar.gz", tar_gz(members))
    # When delivered
    assert pipeline.invoke(pipeline.event_for(obj)) == {"batchItemFailures": []}
    # Then one job holds every review: 70 queued, the empty one rejected, the metadata skipped and listed
    job = pipeline.job_of("incoming/aclImdb_v1.tar.gz")
    assert (job.status, job.counts.total, job.counts.rejected) == (JobStatus.PROCESSING, 71, 1)
    assert queued_reviews(pipeline) == 70 == job.counts.total - job.counts.rejected
    assert job.input is not None
    assert (job.input.format, job.input.encoding, job.input.members_read, job.input.skipped_count) == (
        "Gzipped tar archive",
        "utf-8",
        71,
        3,
    )
    chunks = [pipeline.read_jsonl(key) for key in pipeline.keys_under(f"processed/{job.job_id}/")]
    records = [record for chunk in chunks for record in chunk]
    assert records[0]["review_id"] == "aclImdb/train/pos/0"
    assert (records[0]["given_label"], records[0]["rating"]) == (1, 9)
    assert (records[30]["given_label"], records[60]["given_label"], records[60]["rating"]) == (0, None, None)
    [rejected] = pipeline.rejected_in_table(job.job_id)
    assert rejected.reason.startswith("aclImdb/test/neg/9_1.txt: text")


@pytest.mark.parametrize(
    ("key", "body"),
    [
        ("incoming/utf16.csv", "id,Content\r\n1,Caf\u00e9 \u2603\r\n2,ok\r\n".encode("utf-16")),
        ("incoming/legacy.tsv", "id\treview\r\n1,Caf\u00e9 \u201cgood\u201d\r\n2\tok\r\n".encode("cp1252")),
        ("incoming/doc.json", b'{"source": "x", "reviews": [{"text": "a"}, {"text": "b"}, 3]}'),
        ("incoming/one_8.txt", b"\xef\xbb\xbfA single review.\r\n"),
    ],
)
def test_each_format_and_encoding_counts_every_row_once(pipeline: Pipeline, key: str, body: bytes) -> None:
    obj = pipeline.upload(key, body)
    assert pipeline.invoke(pipeline.event_for(obj)) == {"batchItemFailures": []}
    job = pipeline.job_of(key)
    assert job.status == JobStatus.PROCESSING
    assert job.counts.total == queued_reviews(pipeline) + job.counts.rejected
    assert job.counts.total == {"one_8.txt": 1, "doc.json": 3}.get(key.rsplit("/", 1)[-1], 2)


@pytest.mark.parametrize("suffix", accepted_suffixes())
@pytest.mark.parametrize("content", ["zero-byte", "binary"])
def test_zero_byte_and_binary_files_fail_their_job_or_reject_every_row(
    pipeline: Pipeline, suffix: str, content: str
) -> None:
    key = f"incoming/{content}{suffix}"
    body = b"" if content == "zero-byte" else bytes(range(256)) + os.urandom(2048)
    obj = pipeline.upload(key, body)
    # When delivered, the message is consumed either way (a retry would fail the same way)
    assert pipeline.invoke(pipeline.event_for(obj)) == {"batchItemFailures": []}
    job = pipeline.job_of(key)
    # Then nothing is queued, and either the job failed saying why, or its one empty review was rejected
    assert pipeline.queued_messages() == []
    if job.status == JobStatus.FAILED:
        assert job.error is not None
        assert job.error.startswith(f"{key}: ")
    else:
        assert (content, suffix.removesuffix(".gz")) == ("zero-byte", ".txt")
        assert (job.status, job.counts.total, job.counts.rejected) == (JobStatus.COMPLETED_WITH_ERRORS, 1, 1)


def test_over_long_review_is_classified_on_its_cut_and_a_row_over_the_line_limit_is_rejected(
    pipeline: Pipeline,
) -> None:
    # Given a 60,000-character review, and a line longer than a row may be (8 x MAX_TEXT_CHARS, at least 1 MB)
    long_review = "Opening. " + "middle " * 8_570 + "Verdict: superb."
    body = (
        json.dumps({"id": "long", "text": long_review}).encode()
        + b"\n"
        + json.dumps({"id": "huge", "text": "y" * 1_100_000}).encode()
        + b"\n"
    )
    obj = pipeline.upload("incoming/long.jsonl", body)
    # When delivered
    assert pipeline.invoke(pipeline.event_for(obj)) == {"batchItemFailures": []}
    # Then the long review is queued, cut to what the model sees and marked; the huge line is rejected alone
    job = pipeline.job_of("incoming/long.jsonl")
    assert (job.counts.total, job.counts.rejected, queued_reviews(pipeline)) == (2, 1, 1)
    [record] = pipeline.read_jsonl(pipeline.keys_under(f"processed/{job.job_id}/")[0])
    assert (record["truncated"], record["original_chars"]) == (True, len(long_review))
    assert len(record["text"]) <= 20_000
    assert record["text"].endswith("Verdict: superb.")
    [rejected] = pipeline.rejected_in_table(job.job_id)
    assert rejected.reason.startswith("line 2: the line is 1,100,")
    assert len(rejected.raw_excerpt) <= 1_000
