"""Regenerate the sample files shipped in samples/ from the IMDb training set (deterministic).

    python samples/make_samples.py ../shared/data/imdb/train.jsonl.gz

The input is JSON lines with id, label, rating, movie_id and text (gzip or plain). The samples are committed,
so nothing at run time needs the input file:

    imdb_reviews.jsonl       200 reviews, JSON lines with id, movie_id, rating, label, text
    imdb_reviews.csv.gz      150 other reviews, gzip CSV with header text,id,movie_id,rating
    imperfect_reviews.jsonl  20 rows of which 5 are deliberately bad (empty text, rating 11, a line that is
                             not JSON, a duplicate id, markup only): the job ends COMPLETED_WITH_ERRORS
    aclImdb_sample.tar.gz    20 other reviews laid out as the published aclImdb_v1.tar.gz lays them out
                             (train/pos/<n>_<rating>.txt, train/neg/..., with its README, imdb.vocab and
                             urls_*.txt, which the pipeline skips and lists on the job)
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import random
import tarfile
from collections import Counter
from pathlib import Path
from typing import Any

SAMPLES_DIR = Path(__file__).resolve().parent
SEED = 20240607
JSONL_COUNT, CSV_COUNT, IMPERFECT_GOOD = 200, 150, 15
ARCHIVE_PER_LABEL = 10
VOCABULARY_WORDS = 200
MAX_TEXT_CHARS = 2_500  # short enough for readable demo output; most IMDb reviews are shorter anyway


def read_reviews(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def pick(reviews: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A shuffled, balanced selection of short-enough reviews (same input -> same output)."""
    short = sorted((r for r in reviews if len(r["text"]) <= MAX_TEXT_CHARS), key=lambda r: r["id"])
    random.Random(SEED).shuffle(short)
    wanted = JSONL_COUNT + CSV_COUNT + IMPERFECT_GOOD
    positives = [r for r in short if r["label"] == 1][: wanted // 2 + 1]
    negatives = [r for r in short if r["label"] == 0][: wanted - len(positives)]
    chosen = positives + negatives
    random.Random(SEED + 1).shuffle(chosen)
    return chosen


def pick_archive(reviews: list[dict[str, Any]], taken: set[str]) -> list[dict[str, Any]]:
    """ARCHIVE_PER_LABEL positive and negative short reviews that no other sample holds (deterministic)."""
    short = (r for r in reviews if len(r["text"]) <= MAX_TEXT_CHARS and r["id"] not in taken)
    rest = sorted(short, key=lambda r: r["id"])
    random.Random(SEED + 2).shuffle(rest)
    return [r for r in rest if r["label"] == 1][:ARCHIVE_PER_LABEL] + [r for r in rest if r["label"] == 0][
        :ARCHIVE_PER_LABEL
    ]


def acl_members(rows: list[dict[str, Any]]) -> dict[str, bytes]:
    """aclImdb's layout: a review `train_pos_12` rated 8 is train/pos/12_8.txt; beside the reviews, the
    dataset's README, vocabulary and IMDb URL lists (not reviews: the pipeline skips them)."""
    members: dict[str, bytes] = {}
    urls: dict[str, list[str]] = {"pos": [], "neg": []}
    for row in sorted(rows, key=lambda r: r["id"]):
        split, folder, number = row["id"].split("_")
        members[f"aclImdb/{split}/{folder}/{number}_{row['rating']}.txt"] = row["text"].encode("utf-8")
        urls[folder].append(f"http://www.imdb.com/title/{row['movie_id']}/usercomments")
    words = Counter(w for row in rows for w in row["text"].lower().split() if w.isalpha())
    vocabulary = sorted(words, key=lambda w: (-words[w], w))[:VOCABULARY_WORDS]
    members["aclImdb/README"] = (
        b"Large Movie Review Dataset v1.0 (Maas et al., 2011): a sample of its train folder, cut by "
        b"samples/make_samples.py\n"
    )
    members["aclImdb/imdb.vocab"] = "".join(f"{w}\n" for w in vocabulary).encode("utf-8")
    for folder, lines in urls.items():
        members[f"aclImdb/train/urls_{folder}.txt"] = "".join(f"{u}\n" for u in lines).encode("utf-8")
    return members


def write_tar_gz(path: Path, members: dict[str, bytes]) -> None:
    """Members in name order, with fixed times and owners: the same members give the same bytes."""
    with (
        path.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.USTAR_FORMAT) as archive,
    ):
        for name in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(members[name]), 0o644, 0
            archive.addfile(info, io.BytesIO(members[name]))


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            fields = {k: row[k] for k in ("id", "movie_id", "rating", "label", "text")}
            handle.write(json.dumps(fields, ensure_ascii=False) + "\n")


def write_csv_gz(path: Path, rows: list[dict[str, Any]]) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["text", "id", "movie_id", "rating"])
    for row in rows:
        writer.writerow([row["text"], row["id"], row["movie_id"], row["rating"]])
    # mtime=0 keeps the gzip bytes identical from run to run.
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as handle:
        handle.write(text.getvalue().encode("utf-8"))


def write_imperfect(path: Path, rows: list[dict[str, Any]]) -> None:
    fields = ("id", "movie_id", "rating", "text")
    lines = [json.dumps({k: r[k] for k in fields}, ensure_ascii=False) for r in rows]
    eleven = "Best film ever made, I would give it 11/10."
    again = "The same id as the first review, again."
    bad = [
        (3, json.dumps({"id": "bad-empty", "rating": 4, "text": ""})),
        (6, json.dumps({"id": "bad-rating", "rating": 11, "text": eleven})),
        (9, '{"id": "bad-json", "text": "this line was cut off in the middle'),
        (12, json.dumps({"id": rows[0]["id"], "rating": 8, "text": again})),
        (15, json.dumps({"id": "bad-markup", "text": "<br /><br />"})),
    ]
    for position, line in bad:
        lines.insert(position, line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path, help="IMDb JSON lines (e.g. ../shared/data/imdb/train.jsonl.gz)")
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR)
    args = parser.parse_args(argv)
    reviews = read_reviews(args.source)
    chosen = pick(reviews)
    jsonl_rows = chosen[:JSONL_COUNT]
    csv_rows = chosen[JSONL_COUNT : JSONL_COUNT + CSV_COUNT]
    imperfect_rows = chosen[JSONL_COUNT + CSV_COUNT :]
    args.out.mkdir(parents=True, exist_ok=True)
    write_jsonl(args.out / "imdb_reviews.jsonl", jsonl_rows)
    write_csv_gz(args.out / "imdb_reviews.csv.gz", csv_rows)
    write_imperfect(args.out / "imperfect_reviews.jsonl", imperfect_rows)
    archive_rows = pick_archive(reviews, {r["id"] for r in chosen})
    write_tar_gz(args.out / "aclImdb_sample.tar.gz", acl_members(archive_rows))
    print(
        f"wrote {len(jsonl_rows)} + {len(csv_rows)} + {len(imperfect_rows) + 5} + {len(archive_rows)} rows "
        f"to {args.out}"
    )


if __name__ == "__main__":
    main()
