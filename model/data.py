"""Readers for labeled (and unlabeled) movie reviews.

Supported inputs:
  * the aclImdb layout, as a folder or a ``.tar.gz`` archive: ``<split>/pos/*.txt`` and ``<split>/neg/*.txt``
    named ``<id>_<rating>.txt``; ``<split>/urls_pos.txt`` (one IMDb URL per review id, in id order) gives
    the movie id where present; ``<split>/unsup`` holds unlabeled reviews;
  * JSON lines (``.jsonl`` / ``.jsonl.gz``): objects with ``text`` (or ``review``), ``label`` and optional
    ``id``, ``movie_id``, ``rating``;
  * CSV with a header (``.csv`` / ``.csv.gz``): the same columns;
  * a folder holding any of the above (the SageMaker ``SM_CHANNEL_TRAIN`` directory, for example).

Labels may be 0/1, "0"/"1", true/false or pos/neg/positive/negative. A row without a label is unlabeled.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import sys
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

_POSITIVE = {"1", "pos", "positive", "true", "1.0"}
_NEGATIVE = {"0", "neg", "negative", "false", "0.0"}
_FILE_RE = re.compile(r"^(\d+)_(\d+)\.txt$")
_MOVIE_RE = re.compile(r"(tt\d+)")
TEXT_COLUMNS = ("text", "review")
LABEL_COLUMNS = ("label", "sentiment")


class DataError(ValueError):
    """The input cannot be read as reviews."""


@dataclass(frozen=True)
class Review:
    id: str
    text: str
    label: int | None  # 1 positive, 0 negative, None unlabeled
    movie_id: str | None = None
    rating: int | None = None


def parse_label(value: Any) -> int | None:
    """0/1 from the many ways a label is written; None for a missing label; DataError for anything else."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        if value in (0, 1):
            return int(value)
        raise DataError(f"label {value!r} is not 0 or 1")
    text = str(value).strip().lower()
    if text in ("", "null", "none", "nan"):
        return None
    if text in _POSITIVE:
        return 1
    if text in _NEGATIVE:
        return 0
    raise DataError(f"label {value!r} is not one of 0/1, pos/neg, positive/negative")


def _parse_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _from_mapping(row: dict[str, Any], default_id: str) -> Review:
    text = next((row[c] for c in TEXT_COLUMNS if c in row and row[c] is not None), None)
    if not isinstance(text, str):
        raise DataError(f"row {default_id}: no text column (one of {', '.join(TEXT_COLUMNS)})")
    label_col = next((c for c in LABEL_COLUMNS if c in row), None)
    label = parse_label(row[label_col]) if label_col else None
    rid = row.get("id")
    movie = row.get("movie_id")
    return Review(
        id=str(rid) if rid not in (None, "") else default_id,
        text=text,
        label=label,
        movie_id=str(movie) if movie not in (None, "") else None,
        rating=_parse_int(row.get("rating")),
    )


def _open_text(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_jsonl(path: Path) -> Iterator[Review]:
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not JSON: {exc}") from exc
            if not isinstance(row, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object")
            yield _from_mapping(row, default_id=f"{path.name}:{lineno}")


def read_csv(path: Path) -> Iterator[Review]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with _open_text(path) as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip().lower() for f in (reader.fieldnames or [])]
        if not any(c in fields for c in TEXT_COLUMNS):
            raise DataError(
                f"{path}: the header needs a text column ({' or '.join(TEXT_COLUMNS)}), got {fields}"
            )
        for lineno, row in enumerate(reader, 2):
            clean = {(k or "").strip().lower(): v for k, v in row.items()}
            yield _from_mapping(clean, default_id=f"{path.name}:{lineno}")


def _movie_ids(lines: Iterable[str]) -> list[str | None]:
    out: list[str | None] = []
    for line in lines:
        m = _MOVIE_RE.search(line)
        out.append(m.group(1) if m else None)
    return out


def _acl_review(split: str, cls: str, name: str, text: str, movies: dict[str, list[str | None]]) -> Review:
    m = _FILE_RE.match(name)
    if not m:
        raise DataError(f"{split}/{cls}/{name}: expected <id>_<rating>.txt")
    num, rating = int(m.group(1)), int(m.group(2))
    urls = movies.get(cls, [])
    return Review(
        id=f"{split}_{cls}_{num}",
        text=text,
        label={"pos": 1, "neg": 0}.get(cls),
        movie_id=urls[num] if num < len(urls) else None,
        rating=rating if cls != "unsup" else None,
    )


def read_aclimdb_dir(
    root: Path, split: str = "train", classes: tuple[str, ...] = ("pos", "neg")
) -> list[Review]:
    base = root / split if (root / split).is_dir() else root
    movies: dict[str, list[str | None]] = {}
    for cls in classes:
        urls = base / f"urls_{cls}.txt"
        if urls.is_file():
            movies[cls] = _movie_ids(urls.read_text(encoding="utf-8").splitlines())
    out: list[Review] = []
    for cls in classes:
        folder = base / cls
        if not folder.is_dir():
            continue
        for f in sorted(folder.glob("*.txt"), key=lambda p: _sort_key(p.name)):
            out.append(_acl_review(split, cls, f.name, f.read_text(encoding="utf-8"), movies))
    return out


def _sort_key(name: str) -> tuple[int, str]:
    m = _FILE_RE.match(name)
    return (int(m.group(1)) if m else sys.maxsize, name)


def read_aclimdb_tar(
    path: Path, split: str = "train", classes: tuple[str, ...] = ("pos", "neg")
) -> list[Review]:
    texts: dict[tuple[str, str], str] = {}
    movies: dict[str, list[str | None]] = {}
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            if not member.isfile():
                continue
            parts = member.name.split("/")
            if split not in parts:
                continue
            rest = parts[parts.index(split) + 1 :]
            fh = tar.extractfile(member)
            if fh is None:
                continue
            if len(rest) == 2 and rest[0] in classes and rest[1].endswith(".txt"):
                texts[(rest[0], rest[1])] = fh.read().decode("utf-8")
            elif len(rest) == 1 and rest[0].startswith("urls_") and rest[0][5:-4] in classes:
                movies[rest[0][5:-4]] = _movie_ids(fh.read().decode("utf-8").splitlines())
    ordered = sorted(texts, key=lambda k: (classes.index(k[0]), _sort_key(k[1])))
    return [_acl_review(split, cls, name, texts[(cls, name)], movies) for cls, name in ordered]


def _is_aclimdb_dir(path: Path) -> bool:
    return any(
        (path / sub / cls).is_dir() for sub in ("train", "test", ".") for cls in ("pos", "neg", "unsup")
    )


def _data_files(folder: Path) -> list[Path]:
    suffixes = (".jsonl", ".jsonl.gz", ".csv", ".csv.gz", ".tar.gz", ".tgz")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(suffixes))


def read_reviews(path: str | Path, split: str = "train", unlabeled: bool = False) -> list[Review]:
    """Every review in a file or folder (see the module docstring for the formats).

    ``unlabeled=False`` reads the labeled reviews (pos/neg; rows without a label are left out);
    ``unlabeled=True`` reads the unlabeled ones (aclImdb ``unsup``; rows whose label is missing).
    """
    p = Path(path)
    classes = ("unsup",) if unlabeled else ("pos", "neg")
    if not p.exists():
        raise DataError(f"{p}: no such file or folder")
    if p.is_dir():
        if (p / "aclImdb").is_dir():
            p = p / "aclImdb"
        if _is_aclimdb_dir(p):
            reviews = read_aclimdb_dir(p, split, classes)
        else:
            files = [f for f in _data_files(p) if ("unsup" in f.name) == unlabeled]
            if not files:
                raise DataError(f"{p}: no aclImdb folders and no .jsonl(.gz), .csv(.gz) or .tar.gz files")
            reviews = [r for f in files for r in read_reviews(f, split, unlabeled)]
    elif p.name.endswith((".tar.gz", ".tgz", ".tar")):
        reviews = read_aclimdb_tar(p, split, classes)
    elif p.name.endswith((".jsonl", ".jsonl.gz", ".json.gz", ".ndjson")):
        reviews = list(read_jsonl(p))
    elif p.name.endswith((".csv", ".csv.gz")):
        reviews = list(read_csv(p))
    else:
        raise DataError(f"{p}: unknown format (use an aclImdb folder or .tar.gz, .jsonl(.gz) or .csv(.gz))")
    if p.is_file() and not p.name.endswith((".tar.gz", ".tgz", ".tar")):
        reviews = [r for r in reviews if (r.label is None) == unlabeled]
    if not reviews:
        kind = "unlabeled" if unlabeled else "labeled"
        raise DataError(f"{path}: no {kind} reviews found")
    return reviews


# A sentence ends at . ! or ? followed by space and a capital letter, a quote or a parenthesis.
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
_BREAK_RE = re.compile(r"<\s*br\s*/?\s*>")


def review_sentences(text: str, min_words: int = 3, max_words: int = 40) -> list[str]:
    """The sentences of a review with min_words to max_words words (line breaks count as spaces).

    Used to train and validate on short texts: each sentence inherits its review's label, which is noisy
    (a positive review has neutral and even negative sentences), so they are a stand-in for short reviews,
    not a clean labeled set."""
    flat = _BREAK_RE.sub(" ", text)
    return [s.strip() for s in _SENTENCE_END_RE.split(flat) if min_words <= len(s.split()) <= max_words]
