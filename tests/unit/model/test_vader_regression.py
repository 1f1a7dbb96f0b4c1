"""The NumPy VADER valence gives exactly the scores of the version the shipped model was trained with.

vader_compound was restructured for speed (token properties by C-level maps over a batch's distinct tokens,
neighbours computed once per offset); the shipped calibration weighs its output, so it must not move. The
expected scores were written by the previous vader_compound (inference.py of main at 6c80833) with
    python -m tests.unit.model.test_vader_regression
on the texts below: the committed sample's 400 reviews and their sentences (3,017 texts, markup stripped as
the model does), and every 5th of them with every 3rd word in capitals (capital emphasis, capital boosters).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from model.data import read_reviews, review_sentences
from model.serving.inference import read_lexicon, strip_markup, vader_compound
from tests.unit.small_model import SAMPLE

REPO = Path(__file__).resolve().parents[3]
LEXICON = REPO / "model" / "serving" / "lexicon" / "vader_lexicon.txt"
EXPECTED = Path(__file__).resolve().parent / "fixtures" / "vader_compound_expected.json.gz"
BATCH = 256


def regression_texts() -> list[str]:
    plain = [strip_markup(t) for r in read_reviews(SAMPLE) for t in [r.text, *review_sentences(r.text)]]
    shouted = [" ".join(w.upper() if i % 3 == 0 else w for i, w in enumerate(t.split())) for t in plain[::5]]
    return plain + shouted


def scores(texts: list[str]) -> np.ndarray:
    lexicon = read_lexicon(str(LEXICON))
    batches = [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]
    return np.concatenate([vader_compound(batch, lexicon) for batch in batches])


def test_given_review_texts_when_scored_then_compound_is_exactly_the_previous_versions() -> None:
    # Given the texts and the scores the previous version gave them
    texts = regression_texts()
    expected = json.loads(gzip.decompress(EXPECTED.read_bytes()))
    assert expected["n_texts"] == len(texts) > 3000
    # When scored by the current code
    ours = scores(texts)
    # Then every score is the same float
    np.testing.assert_array_equal(ours, np.array(expected["compound"], dtype=np.float64))
    assert (ours != 0).mean() > 0.8  # the texts exercise the lexicon, not just empty scores


def test_given_texts_when_scored_one_by_one_or_in_batches_then_the_scores_are_the_same() -> None:
    texts = regression_texts()[::25]
    lexicon = read_lexicon(str(LEXICON))
    one_by_one = np.concatenate([vader_compound([t], lexicon) for t in texts])
    np.testing.assert_array_equal(one_by_one, scores(texts))


if __name__ == "__main__":
    all_texts = regression_texts()
    payload = {"n_texts": len(all_texts), "compound": scores(all_texts).tolist()}
    EXPECTED.write_bytes(gzip.compress(json.dumps(payload).encode(), mtime=0))
    print(f"wrote {len(all_texts)} scores to {EXPECTED}")
