"""Explanations of stored results: the chunk a result came from, the model's n-grams, and why not.

The model is the small one trained on the committed sample (tests/unit/conftest.py): these tests check what
the pipeline does with any sensible model's answer. What the shipped model says about these reviews (a
negative word leads a clearly negative review, "best"/"great" a positive one) is checked by the integration
tests of the explanation route (tests/integration/query_api/test_explanation_route.py).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from review_pipeline.api.errors import ResultNotFoundError, ReviewTextUnavailableError
from review_pipeline.dal import keys
from review_pipeline.dal.jobs import JobNotFoundError
from review_pipeline.dal.results import ResultStore
from review_pipeline.endpoint import EndpointError
from review_pipeline.logic.inference import ChunkClassifier
from review_pipeline.logic.query import QueryService
from review_pipeline.models import RejectedRow
from tests.staged_endpoint import StagedEndpoint
from tests.unit.inference.seed import REVIEW_TEXTS, seed_processing_job

# seed.py's texts repeat every 5 rows; row 2 is "Boring, dull and far too long: the worst film this year."
NEGATIVE_ROW = 2


def _forget_chunk_indexes(table: Any, job_id: str, rows: range) -> None:
    """Make results look like those stored before chunk_index was recorded."""
    for row in rows:
        table.update_item(
            Key={"pk": keys.job_pk(job_id), "sk": keys.result_sk(row)}, UpdateExpression="REMOVE chunk_index"
        )


# ------------------------------------------------------------------------------------------------ chunks
def test_given_a_classified_job_when_its_results_are_read_then_each_names_the_chunk_of_its_text(
    classified_job: str, table: Any
) -> None:
    # Given a job whose reviews were classified in two chunks
    # When its results are read back
    results = ResultStore(table).results_of_rows(classified_job, range(1, 8))

    # Then each result names the chunk its full text is in
    assert [(result.row, result.chunk_index) for result in results] == [
        (1, 0), (2, 0), (3, 0), (4, 0), (5, 1), (6, 1), (7, 1),
    ]  # fmt: skip


def test_given_results_stored_before_chunk_index_when_read_then_they_load_without_it(
    classified_job: str, table: Any
) -> None:
    _forget_chunk_indexes(table, classified_job, range(1, 3))

    page = ResultStore(table).list_results(classified_job, limit=10)

    assert [result.chunk_index for result in page.items] == [None, None, 0, 0, 1, 1, 1]


# ------------------------------------------------------------------------------------------------ explain
def test_given_a_clearly_negative_review_when_explained_then_negative_ngrams_of_its_text_weigh_most(
    service: QueryService, classified_job: str, table: Any, sentiment_endpoint: StagedEndpoint
) -> None:
    # Given a stored result of a clearly negative review
    stored = ResultStore(table).results_of_rows(classified_job, [NEGATIVE_ROW])[0]
    sentiment_endpoint.invocations.clear()

    # When it is explained
    explained = service.explain_review(classified_job, NEGATIVE_ROW)

    # Then the model explains the full text (explain=true): its negative side holds n-grams of that text,
    # heaviest first (which words lead is the model's business: see the module docstring)
    assert len(sentiment_endpoint.invocations) == 1
    request = json.loads(sentiment_endpoint.invocations[0].body)
    assert request == {"instances": [{"id": "2", "text": REVIEW_TEXTS[1]}], "explain": True}
    negative = explained.explanation.negative
    assert negative, "a clearly negative review has n-grams that weigh toward negative"
    assert all(item.weight < 0 for item in negative)
    assert [item.weight for item in negative] == sorted(item.weight for item in negative)
    assert all(word in REVIEW_TEXTS[1].lower() for item in negative for word in item.ngram.split())
    assert all(item.weight > 0 for item in explained.explanation.positive)
    # And what was stored is beside it: the same model, so the same label and score
    assert (explained.job_id, explained.review_id, explained.row) == (classified_job, "review-2", 2)
    assert (explained.stored_label, explained.stored_score) == (stored.label, stored.score)
    assert explained.label == stored.label
    assert explained.stored_model_version == explained.model_version == stored.model_version
    assert explained.score == pytest.approx(stored.score, abs=1e-6)


def test_given_a_positive_review_in_the_second_chunk_when_explained_then_its_own_ngrams_explain_it(
    service: QueryService, classified_job: str
) -> None:
    # Given row 5, the first of the second chunk: "The best thing I have seen in ages, simply great."
    # When it is explained
    explained = service.explain_review(classified_job, 5)

    # Then its text was read from the second chunk: it is row 5's review, explained by n-grams of its text,
    # and the model answers as it did when the result was stored
    positive = explained.explanation.positive
    assert (explained.row, explained.review_id, explained.label) == (5, "review-5", explained.stored_label)
    assert positive, "a clearly positive review has n-grams that weigh toward positive"
    assert [item.weight for item in positive] == sorted((item.weight for item in positive), reverse=True)
    assert all(word in REVIEW_TEXTS[4].lower() for item in positive for word in item.ngram.split())


def test_given_results_without_chunk_index_when_explained_then_their_chunk_is_found_by_row(
    classifier: ChunkClassifier, service: QueryService, table: Any, bucket: str
) -> None:
    # Given an older job of 5 chunks whose results do not say which chunk they came from
    for message in seed_processing_job(table, bucket, "old-job", [2, 2, 2, 2, 1]):
        classifier.classify(message)
    _forget_chunk_indexes(table, "old-job", range(1, 10))

    # When rows of the first, a middle and the last chunk are explained
    explained = [service.explain_review("old-job", row) for row in (1, 2, 5, 8, 9)]

    # Then each is the review of its own row
    assert [(item.row, item.review_id) for item in explained] == [
        (1, "review-1"), (2, "review-2"), (5, "review-5"), (8, "review-8"), (9, "review-9"),
    ]  # fmt: skip
    assert all(item.label == item.stored_label for item in explained)


# ------------------------------------------------------------------------------------------------ why not
def test_given_an_unknown_job_when_explained_then_job_not_found(service: QueryService) -> None:
    with pytest.raises(JobNotFoundError, match="No job with id 'nope'"):
        service.explain_review("nope", 1)


def test_given_a_rejected_row_when_explained_then_not_found_with_its_reason_and_where_to_look(
    classifier: ChunkClassifier, service: QueryService, table: Any, bucket: str
) -> None:
    for chunk in seed_processing_job(table, bucket, "job-r", [2], rejected=1):
        classifier.classify(chunk)
    ResultStore(table).put_rejected("job-r", [RejectedRow(row=3, reason="text: the review is empty")])

    with pytest.raises(ResultNotFoundError) as raised:
        service.explain_review("job-r", 3)

    message = str(raised.value)
    assert "Row 3 of job 'job-r' was rejected" in message
    assert "text: the review is empty" in message
    assert "GET /jobs/job-r/rejected" in message
    assert (raised.value.job_id, raised.value.row) == ("job-r", 3)


def test_given_a_row_past_the_end_of_the_file_when_explained_then_not_found_saying_how_many_rows(
    service: QueryService, classified_job: str
) -> None:
    with pytest.raises(ResultNotFoundError, match="does not exist: the file has 7 data rows"):
        service.explain_review(classified_job, 8)


def test_given_a_job_still_processing_when_a_pending_row_is_explained_then_not_found_yet(
    classifier: ChunkClassifier, service: QueryService, table: Any, bucket: str
) -> None:
    first, _second = seed_processing_job(table, bucket, "job-p", [2, 2])
    classifier.classify(first)

    with pytest.raises(ResultNotFoundError, match="no result yet: the job is PROCESSING"):
        service.explain_review("job-p", 3)
    assert service.explain_review("job-p", 1).row == 1  # what is classified already can be explained


def test_given_the_chunk_was_deleted_when_explained_then_text_unavailable_without_bucket_details(
    service: QueryService, classified_job: str, bucket: str
) -> None:
    boto3.client("s3").delete_object(Bucket=bucket, Key=f"processed/{classified_job}/chunk-00000.jsonl")

    with pytest.raises(ReviewTextUnavailableError) as raised:
        service.explain_review(classified_job, 2)

    assert "could not be read from the bucket" in str(raised.value)
    assert bucket not in str(raised.value)
    assert 'POST /predict with "explain": true' in str(raised.value)


def test_given_the_endpoint_fails_when_explained_then_endpoint_error(
    service: QueryService, classified_job: str, sentiment_endpoint: StagedEndpoint
) -> None:
    sentiment_endpoint.fail_next(424, "ModelError", "model crashed")

    with pytest.raises(EndpointError) as raised:
        service.explain_review(classified_job, 1)

    assert raised.value.code == "ModelError"


def test_given_an_endpoint_that_ignores_explain_when_explained_then_endpoint_error(
    service: QueryService, classified_job: str, sentiment_endpoint: StagedEndpoint
) -> None:
    def drop_explanations(answer: dict[str, Any]) -> dict[str, Any]:
        for prediction in answer["predictions"]:
            prediction.pop("explanation", None)
        return answer

    sentiment_endpoint.answer_rewriter = drop_explanations

    with pytest.raises(EndpointError, match="without the explanation") as raised:
        service.explain_review(classified_job, 1)

    assert raised.value.code == "MissingExplanation"
