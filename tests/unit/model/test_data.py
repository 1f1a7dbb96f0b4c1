"""Readers: the aclImdb layout (folder and archive), JSON lines and CSV, plain or gzipped."""

from __future__ import annotations

import csv
import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from model.data import DataError, parse_label, read_reviews
from tests.unit.small_model import SAMPLE


def _write_aclimdb(root: Path) -> None:
    for cls, items in {
        "pos": [(0, 9, "Loved it.<br />Great!"), (1, 7, "Pretty good.")],
        "neg": [(0, 2, "Awful."), (1, 4, "Not great.")],
        "unsup": [(0, 0, "No label here.")],
    }.items():
        (root / "train" / cls).mkdir(parents=True)
        for num, rating, text in items:
            (root / "train" / cls / f"{num}_{rating}.txt").write_text(text, encoding="utf-8")
    (root / "train" / "urls_pos.txt").write_text(
        "http://www.imdb.com/title/tt0000001/usercomments\nhttp://www.imdb.com/title/tt0000002/usercomments\n"
    )
    (root / "train" / "urls_neg.txt").write_text("http://www.imdb.com/title/tt0000003/usercomments\n")


def test_given_aclimdb_folder_when_read_then_labels_ratings_and_movie_ids_come_from_the_layout(
    tmp_path: Path,
) -> None:
    # Given the aclImdb layout with urls_*.txt for some reviews
    _write_aclimdb(tmp_path / "aclImdb")
    # When the folder above aclImdb is read
    reviews = read_reviews(tmp_path)
    # Then every labeled review is there, in a stable order, with what the layout says
    by_id = {r.id: r for r in reviews}
    assert sorted(by_id) == ["train_neg_0", "train_neg_1", "train_pos_0", "train_pos_1"]
    assert by_id["train_pos_0"].label == 1
    assert by_id["train_pos_0"].rating == 9
    assert by_id["train_pos_1"].movie_id == "tt0000002"
    assert by_id["train_neg_0"].label == 0
    assert by_id["train_neg_0"].movie_id == "tt0000003"
    assert by_id["train_neg_1"].movie_id is None  # urls_neg.txt has only one line
    assert by_id["train_pos_0"].text == "Loved it.<br />Great!"  # raw text: normalization is the model's job


def test_given_aclimdb_archive_when_read_then_same_reviews_as_the_folder(tmp_path: Path) -> None:
    # Given the same layout packed as aclImdb_v1.tar.gz
    _write_aclimdb(tmp_path / "src" / "aclImdb")
    archive = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "aclImdb", arcname="aclImdb")
    # When both are read
    from_tar = read_reviews(archive)
    from_dir = read_reviews(tmp_path / "src" / "aclImdb")
    # Then they agree, and the unlabeled split is read on request only
    assert from_tar == from_dir
    assert [r.id for r in read_reviews(archive, unlabeled=True)] == ["train_unsup_0"]
    assert read_reviews(archive, unlabeled=True)[0].label is None


def test_given_jsonl_gz_when_read_then_fields_are_kept(tmp_path: Path) -> None:
    # Given JSON lines with an unlabeled row mixed in
    path = tmp_path / "reviews.jsonl.gz"
    rows = [
        {"id": "a", "label": 1, "rating": 8, "movie_id": "tt1", "text": "good"},
        {"id": "b", "label": "negative", "text": "bad"},
        {"id": "c", "label": None, "text": "unlabeled"},
    ]
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(json.dumps(r) for r in rows) + "\n\n")
    # When labeled and unlabeled rows are read
    labeled = read_reviews(path)
    unlabeled = read_reviews(path, unlabeled=True)
    # Then each kind comes back with its fields
    assert [(r.id, r.label, r.rating, r.movie_id) for r in labeled] == [
        ("a", 1, 8, "tt1"),
        ("b", 0, None, None),
    ]
    assert [r.id for r in unlabeled] == ["c"]


@pytest.mark.parametrize("gz", [False, True])
def test_given_csv_with_review_column_and_word_labels_when_read_then_parsed(tmp_path: Path, gz: bool) -> None:
    # Given a CSV with a header, a "review" column, word labels and a text holding commas and newlines
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["Review", "Sentiment", "movie_id"])
    writer.writerow(["Great, simply great.\nSee it.", "positive", "tt9"])
    writer.writerow(["Dull", "neg", ""])
    path = tmp_path / ("r.csv.gz" if gz else "r.csv")
    if gz:
        with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
            fh.write(buf.getvalue())
    else:
        path.write_text(buf.getvalue(), encoding="utf-8", newline="")
    # When read
    reviews = read_reviews(path)
    # Then labels are 0/1, ids default to the file line, and empty movie ids are None
    assert [(r.text, r.label, r.movie_id) for r in reviews] == [
        ("Great, simply great.\nSee it.", 1, "tt9"),
        ("Dull", 0, None),
    ]
    assert reviews[0].id.endswith(":2")


def test_given_sagemaker_channel_folder_when_read_then_labeled_files_are_read_and_unsup_files_skipped(
    tmp_path: Path,
) -> None:
    # Given a training channel holding the labeled sample and an unsup file
    (tmp_path / "train.jsonl.gz").write_bytes(SAMPLE.read_bytes())
    (tmp_path / "unsup.jsonl").write_text(json.dumps({"id": "u", "label": None, "text": "x"}) + "\n")
    # When the folder is read
    reviews = read_reviews(tmp_path)
    # Then it holds the 400 labeled reviews, balanced, each with a movie id
    assert len(reviews) == 400
    assert sum(r.label == 1 for r in reviews) == 200
    assert all(r.movie_id for r in reviews)
    assert [r.id for r in read_reviews(tmp_path, unlabeled=True)] == ["u"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), (0, 0), ("1", 1), ("pos", 1), ("Negative", 0), (True, 1), ("", None), (None, None)],
)
def test_given_label_spelling_when_parsed_then_zero_or_one(value: object, expected: int | None) -> None:
    assert parse_label(value) == expected


def test_given_bad_inputs_when_read_then_data_error_names_the_problem(tmp_path: Path) -> None:
    # Given a label outside 0/1, a CSV without a text column and an unknown format
    bad_label = tmp_path / "a.jsonl"
    bad_label.write_text(json.dumps({"text": "x", "label": 3}) + "\n")
    no_text = tmp_path / "b.csv"
    no_text.write_text("body,label\nx,1\n")
    unknown = tmp_path / "c.parquet"
    unknown.write_bytes(b"PAR1")
    # Then each raises DataError with a useful message
    with pytest.raises(DataError, match="not 0 or 1"):
        read_reviews(bad_label)
    with pytest.raises(DataError, match="text column"):
        read_reviews(no_text)
    with pytest.raises(DataError, match="unknown format"):
        read_reviews(unknown)
    with pytest.raises(DataError, match="no such file"):
        read_reviews(tmp_path / "missing.jsonl")
