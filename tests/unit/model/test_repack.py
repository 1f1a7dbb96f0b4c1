"""python -m model.repack: the repository's serving code goes into an artifact only if every score stays."""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path

import pytest

from model.export import SERVING_DIR
from model.repack import DEFAULT_DATA, AnswersDifferError, main, read_texts, repack

# The earlier raw_tokens: the pattern over the whole text, whitespace collapsed first (the same tokens)
EARLIER_TOKENIZER = (
    'def raw_tokens(text: str) -> list[str]:\n    return _TOKEN_RE.findall(" ".join(text.split()))'
)


def artifact_with_code(small_artifact: Path, folder: Path, code: str) -> Path:
    """A copy of the small artifact in `folder` whose code/inference.py is `code`."""
    out = folder / "model.tar.gz"
    with tarfile.open(small_artifact) as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member) if member.isfile() else None
            if member.name == "code/inference.py":
                encoded = code.encode()
                member.size = len(encoded)
                data = io.BytesIO(encoded)
            dst.addfile(member, data)
    return out


def member(artifact: Path, name: str) -> bytes:
    with tarfile.open(artifact) as tar:
        found = tar.extractfile(name)
        assert found is not None
        return found.read()


def test_code_that_scores_the_same_is_shipped_and_the_version_stays(
    small_artifact: Path, tmp_path: Path
) -> None:
    # Given an artifact built with the earlier tokenizer (the pattern over the whole text), same tokens
    repo_code = (SERVING_DIR / "inference.py").read_text()
    whole_function = re.compile(r"def raw_tokens\(.*?(?=\n\n\ndef )", flags=re.DOTALL)
    earlier = whole_function.sub(lambda _: EARLIER_TOKENIZER, repo_code, count=1)
    assert earlier != repo_code
    artifact = artifact_with_code(small_artifact, tmp_path, earlier)
    model_json = member(artifact, "model.json")
    # When it is repacked, compared on the project's samples
    assert main(["--artifact", str(artifact)]) == 0
    # Then it serves the repository's code, with the same model and version, and its card says so
    assert member(artifact, "code/inference.py") == repo_code.encode()
    assert member(artifact, "model.json") == model_json
    card = json.loads((tmp_path / "model_card.json").read_text())
    assert card["model_version"] == json.loads(model_json)["model_version"]
    assert card["artifact"]["bytes"] == artifact.stat().st_size


def test_code_that_moves_one_score_is_refused_and_nothing_changes(
    small_artifact: Path, tmp_path: Path
) -> None:
    # Given an artifact whose tokenizer differs (no runs of ! or ? as tokens): other features, other scores
    repo_code = (SERVING_DIR / "inference.py").read_text()
    other = repo_code.replace("|[!?]+|", "|")
    assert other != repo_code
    artifact = artifact_with_code(small_artifact, tmp_path, other)
    before = artifact.read_bytes()
    texts = read_texts(DEFAULT_DATA, 1_000)
    # When it is repacked
    with pytest.raises(AnswersDifferError, match=r"scores differ .* retrain with python -m model\.train"):
        repack(artifact, texts)
    # Then the artifact is as it was, and no card was written
    assert artifact.read_bytes() == before
    assert not (tmp_path / "model_card.json").exists()


def test_the_default_comparison_reads_labeled_and_unlabeled_samples(tmp_path: Path) -> None:
    # Given the project's samples, and a file of unlabeled rows only
    unlabeled = tmp_path / "unlabeled.jsonl"
    unlabeled.write_text('{"id": "u1", "text": "No label on this one."}\n')
    # When their texts are read for the comparison
    texts = read_texts([*DEFAULT_DATA, unlabeled], 100_000)
    # Then every row is there, the samples' 200 labeled and 150 unlabeled reviews and the unlabeled one
    assert len(texts) == 200 + 150 + 1
    assert texts[-1] == "No label on this one."
