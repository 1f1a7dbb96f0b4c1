"""Files dropped in the emulator's bucket end as results and rejected rows, read back through the HTTP API."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from local.stack import LocalStack
from local.template import PROJECT_ROOT
from review_pipeline.models import ChunkMessage
from tests.e2e.conftest import Api, eventually, queue_depth, s3_notification

pytestmark = pytest.mark.e2e
SAMPLES = PROJECT_ROOT / "samples"
Upload = Callable[[str, bytes | Path], str]


def test_jsonl_and_csv_gz_files_are_fully_classified(api: Api, upload: Upload) -> None:
    # Given the two real sample files, JSON lines and gzip CSV
    jsonl_key = upload("formats/imdb_reviews.jsonl", SAMPLES / "imdb_reviews.jsonl")
    csv_key = upload("formats/imdb_reviews.csv.gz", SAMPLES / "imdb_reviews.csv.gz")
    # When the pipeline has finished both
    jsonl_job, csv_job = api.final_job(jsonl_key), api.final_job(csv_key)
    # Then every row is classified, and the positive/negative split adds up
    for job, rows in ((jsonl_job, 200), (csv_job, 150)):
        counts = job["counts"]
        assert job["status"] == "COMPLETED", job
        assert counts["total"] == counts["classified"] == rows
        assert counts["rejected"] == 0
        assert counts["positive"] + counts["negative"] == rows
        assert 0 < counts["positive"] < rows
        assert job["model_version"]
    # And the results page through in file order, each row once
    results, pages = api.all_pages(f"/jobs/{jsonl_job['job_id']}/reviews", limit=60)
    assert pages == 4
    assert [r["row"] for r in results] == list(range(1, 201))
    assert len({r["review_id"] for r in results}) == 200
    assert all(0.0 <= r["score"] <= 1.0 for r in results)
    # And the sentiment filter returns exactly the job's negatives
    negatives, _ = api.all_pages(f"/jobs/{jsonl_job['job_id']}/reviews", limit=100, sentiment="negative")
    assert len(negatives) == jsonl_job["counts"]["negative"]
    assert {r["label"] for r in negatives} == {"negative"}
    # And the model agrees with IMDb's own labels on most of them
    labels = {
        json.loads(line)["id"]: json.loads(line)["label"]
        for line in (SAMPLES / "imdb_reviews.jsonl").read_text(encoding="utf-8").split("\n")
        if line
    }
    agree = sum((r["label"] == "positive") == (labels[r["review_id"]] == 1) for r in results)
    assert agree / len(results) > 0.8


def test_the_aclimdb_sample_archive_is_read_as_the_published_dataset_lays_it_out(
    api: Api, upload: Upload
) -> None:
    # Given the shipped archive laid out as aclImdb_v1.tar.gz: train/pos and train/neg reviews named
    # <n>_<rating>.txt, beside the dataset's README, vocabulary and URL lists
    archive = SAMPLES / "aclImdb_sample.tar.gz"
    with tarfile.open(archive) as members:
        names = members.getnames()
    reviews = [name for name in names if name.endswith(".txt") and "/urls_" not in name]
    stems = [name.removesuffix(".txt").rsplit("_", 1) for name in reviews]
    # aclImdb/train/pos/12_8.txt: id aclImdb/train/pos/12, rating 8, the file's label positive
    expected = {stem: (int(rating), stem.split("/")[2]) for stem, rating in stems}
    # When it has been processed
    key = upload("formats/aclImdb_sample.tar.gz", archive)
    job = api.final_job(key)
    # Then every review in it is classified, and the other members are skipped and listed, not rejected
    assert job["status"] == "COMPLETED", job
    assert job["counts"]["total"] == job["counts"]["classified"] == len(expected) == 20
    assert job["input"]["members_read"] == 20
    assert job["input"]["skipped_count"] == len(names) - 20 == 4
    assert sorted(line.split(":")[0] for line in job["input"]["skipped"]) == sorted(set(names) - set(reviews))
    # And each review's id, rating and label come from its path: the folder pos or neg is IMDb's label
    results, _ = api.all_pages(f"/jobs/{job['job_id']}/reviews", limit=100)
    words = {"pos": "positive", "neg": "negative"}
    assert {r["review_id"]: (r["rating"], r["given_label"]) for r in results} == {
        stem: (rating, words[folder]) for stem, (rating, folder) in expected.items()
    }


def test_imperfect_file_completes_with_each_bad_row_rejected_for_its_reason(api: Api, upload: Upload) -> None:
    # Given a file with an empty text, a rating of 11, a broken JSON line, a duplicate id and markup only
    key = upload("imperfect/imperfect_reviews.jsonl", SAMPLES / "imperfect_reviews.jsonl")
    # When it has been processed
    job = api.final_job(key)
    # Then the good rows are classified and every other row is rejected with a reason
    assert job["status"] == "COMPLETED_WITH_ERRORS"
    counts = job["counts"]
    assert (counts["total"], counts["classified"], counts["rejected"]) == (20, 15, 5)
    assert counts["classified"] + counts["rejected"] == counts["total"]
    rejected, _ = api.all_pages(f"/jobs/{job['job_id']}/rejected", limit=100)
    reasons = {row["row"]: row["reason"] for row in rejected}
    assert sorted(reasons) == [4, 7, 10, 13, 16]
    assert "empty" in reasons[4]
    assert "between 1 and 10" in reasons[7]
    assert "JSON" in reasons[10]
    assert "duplicate id" in reasons[13]
    assert "empty" in reasons[16]
    results, _ = api.all_pages(f"/jobs/{job['job_id']}/reviews", limit=100)
    assert len(results) == 15


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("broken/no_text_column.csv", b"id,rating\n1,7\n2,3\n", ("text",)),
        ("broken/not_really.jsonl.gz", b"this is not gzip data at all", ("gzip",)),
    ],
)
def test_broken_file_fails_its_job_with_a_readable_error(
    api: Api, upload: Upload, name: str, content: bytes, words: tuple[str, ...]
) -> None:
    # Given a file the pipeline cannot read
    key = upload(name, content)
    # When it has been processed
    job = api.final_job(key)
    # Then its job FAILED with a message naming the problem
    assert job["status"] == "FAILED"
    assert job["error"]
    for word in words:
        assert word in job["error"].lower()


@pytest.mark.local_only  # re-sends S3's notification and a chunk message straight onto the emulator's queues
def test_same_content_under_a_new_key_is_a_new_job_and_redeliveries_do_not_double_count(
    stack: LocalStack, api: Api, upload: Upload
) -> None:
    assert stack.info is not None
    content = (SAMPLES / "imdb_reviews.jsonl").read_bytes()
    # Given a completed job
    first_key = upload("repeat/first.jsonl", content)
    first = api.final_job(first_key)
    # When the same bytes are uploaded under another key
    second = api.final_job(upload("repeat/second.jsonl", content))
    # Then that is a job of its own, with the same counts
    assert second["job_id"] != first["job_id"]
    assert second["counts"] == first["counts"]

    # When S3's notification of the first upload and its first chunk's message are delivered again
    sqs, s3 = stack.client("sqs"), stack.client("s3")
    notification = s3_notification(stack, first_key)
    chunk_key = s3.list_objects_v2(Bucket=stack.info.bucket, Prefix=f"processed/{first['job_id']}/")[
        "Contents"
    ][0]["Key"]
    chunk = ChunkMessage(
        job_id=first["job_id"],
        bucket=stack.info.bucket,
        key=chunk_key,
        chunk_index=0,
        review_count=first["counts"]["total"],
    )
    before = {p.source.function_id: p.stats.records for p in stack.pollers}
    sqs.send_message(QueueUrl=stack.queue_urls["IngestQueue"], MessageBody=json.dumps(notification))
    sqs.send_message(QueueUrl=stack.queue_urls["InferenceQueue"], MessageBody=chunk.model_dump_json())
    eventually(
        lambda: (
            all(p.stats.records > before[p.source.function_id] for p in stack.pollers)
            and queue_depth(stack, "IngestQueue") == 0
            and queue_depth(stack, "InferenceQueue") == 0
        ),
        timeout=30,
    )
    # Then there is still one job for that key, with the same counts
    jobs = api.jobs_of(first_key)
    assert [j["job_id"] for j in jobs] == [first["job_id"]]
    assert jobs[0]["counts"] == first["counts"]
    assert jobs[0]["status"] == "COMPLETED"


def test_predict_classifies_reviews_on_demand(api: Api) -> None:
    # Given two reviews of opposite sentiment
    body = {
        "reviews": [
            {"id": "good", "text": "A wonderful, moving film with superb acting. I loved every minute."},
            {
                "id": "bad",
                "text": "Dull, predictable and far too long. The worst film I have seen this year.",
            },
        ],
        "explain": True,
    }
    # When they are posted to /predict
    response = api.http.post(f"{api.base_url}/predict", json=body, timeout=30)
    # Then each gets its label, a probability and the n-grams behind it
    assert response.status_code == 200, response.text
    answer = response.json()
    predictions = {p["id"]: p for p in answer["predictions"]}
    assert predictions["good"]["label"] == "positive"
    assert predictions["bad"]["label"] == "negative"
    assert predictions["good"]["score"] > 0.5 > predictions["bad"]["score"]
    assert predictions["good"]["explanation"]["positive"]
    assert answer["model_version"]


def test_openapi_document_and_unknown_routes(api: Api) -> None:
    # Given the API
    # When its OpenAPI document and a path it does not have are requested
    document = api.get("/openapi.json")
    missing = api.http.get(f"{api.base_url}/no/such/route", timeout=10)
    # Then the document lists the routes and the unknown path is API Gateway's 404
    assert "/jobs/{job_id}/reviews" in document["paths"]
    assert "/predict" in document["paths"]
    assert missing.status_code == 404
    assert missing.json() == {"message": "Not Found"}
    assert api.get("/health")["status"] == "ok"


@pytest.mark.local_only  # needs the emulator's 3 s visibility timeout and its queue URLs
def test_message_the_function_keeps_failing_ends_in_the_dead_letter_queue(stack: LocalStack) -> None:
    # Given a message on the ingest queue that is not an S3 notification (the function fails it every time)
    sqs = stack.client("sqs")
    sent = sqs.send_message(QueueUrl=stack.queue_urls["IngestQueue"], MessageBody='{"not": "an S3 event"}')
    # When it has been received maxReceiveCount (3) times, with a 3 s visibility timeout
    dead = eventually(
        lambda: sqs.receive_message(
            QueueUrl=stack.queue_urls["IngestDeadLetterQueue"], AttributeNames=["All"], WaitTimeSeconds=1
        ).get("Messages"),
        timeout=40,
    )
    # Then it is in the ingest DLQ, after three failed receives
    assert dead[0]["MessageId"] == sent["MessageId"]
    assert int(dead[0]["Attributes"]["ApproximateReceiveCount"]) >= 3
    assert queue_depth(stack, "IngestQueue") == 0
