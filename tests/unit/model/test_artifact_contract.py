"""A model trained on the committed sample: artifact format, SageMaker container contract, wire contract."""

from __future__ import annotations

import importlib.util
import json
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from model.calibration import apply_length_calibration
from model.data import read_reviews
from model.nbsvm import build_matrix_and_lengths
from model.serving import load_endpoint_handler
from model.serving.inference import load_model, strip_markup, vader_compound
from model.tfidf import L2Model
from tests.integration.model.model_dir import LOOSE_ARTIFACT_FILES
from tests.unit.small_model import SAMPLE, train_small

REPO = Path(__file__).resolve().parents[3]


def _import_artifact_code(model_dir: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "artifact_inference_under_test", model_dir / "code" / "inference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    import sys

    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _request(instances: list[dict[str, Any]], **extra: Any) -> bytes:
    return json.dumps({"instances": instances, **extra}).encode()


def test_given_sample_trained_artifact_then_it_holds_json_npz_and_the_repo_serving_code_only(
    small_artifact: Path,
) -> None:
    # Given the artifact trained on the sample
    with tarfile.open(small_artifact) as tar:
        names = sorted(m.name for m in tar.getmembers() if m.isfile())
        code = tar.extractfile("code/inference.py")
        assert code is not None
        shipped_code = code.read()
        lexicon = tar.extractfile("lexicon/vader_lexicon.txt")
        assert lexicon is not None
        shipped_lexicon = lexicon.read()
    # Then it has exactly the documented files, code/inference.py is a copy of the single source, and the
    # VADER lexicon ships unchanged with its MIT notice
    assert names == LOOSE_ARTIFACT_FILES
    serving = REPO / "model" / "serving"
    assert shipped_code == (serving / "inference.py").read_bytes()
    assert shipped_lexicon == (serving / "lexicon" / "vader_lexicon.txt").read_bytes()
    assert "MIT License" in (serving / "lexicon" / "LICENSE.txt").read_text()


def test_given_model_dir_then_model_json_describes_the_model_and_weights_load_without_pickle(
    small_model_dir: Path,
) -> None:
    meta = json.loads((small_model_dir / "model.json").read_text())
    assert meta["classes"] == ["negative", "positive"]
    assert meta["model_version"].startswith("nblr-tfidf-hash-1-3-vader-")
    kinds = [(c["name"], c["kind"]) for c in meta["components"]]
    assert kinds == [("nblr", "binary"), ("tfidf", "l2-logtf-idf"), ("vader", "vader-compound")]
    assert meta["components"][2]["lexicon"] == "lexicon/vader_lexicon.txt"
    calibration = meta["calibration"]
    assert calibration["method"] == "logistic-by-length"
    assert [b["max_tokens"] for b in calibration["buckets"]] == [30, 150, None]
    assert all(len(b["coef"]) == 3 for b in calibration["buckets"])
    assert calibration["components"] == ["nblr", "tfidf", "vader"]
    assert 0.0 < meta["metrics"]["sentence_flip_rate"] < 0.5
    low, high = meta["uncertainty"]["band"]
    assert 0.0 <= low <= 0.5 <= high <= 1.0
    assert meta["features"]["word_ngram"] == [1, 3]
    assert meta["features"]["word_bits"] == 18
    assert meta["hyperparameters"]["C"] == 1.0
    assert meta["hyperparameters"]["seed"] == 7
    assert 0.0 <= meta["metrics"]["validation_accuracy"] <= 1.0
    with np.load(small_model_dir / "weights.npz", allow_pickle=False) as npz:
        per_component = {"values", "scale", "intercept"}
        expected = {"feature_index_deltas"} | {f"nblr_{a}" for a in per_component}
        assert set(npz.files) == expected | {f"tfidf_{a}" for a in per_component | {"idf"}}
        n_used = npz["feature_index_deltas"].shape[0]
        assert npz["nblr_values"].dtype == np.float16
        assert npz["tfidf_values"].dtype == np.float16
        assert npz["nblr_values"].shape == npz["tfidf_idf"].shape == (n_used,)


def test_given_same_seed_and_date_when_trained_twice_then_artifacts_are_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a fixed SOURCE_DATE_EPOCH (the date in model_version and the archive's mtimes)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    # When the same training command runs twice (the command is recorded in model.json)
    first = train_small(tmp_path / "out").read_bytes()
    second = train_small(tmp_path / "out").read_bytes()
    # Then the artifacts are identical
    assert first == second


def test_given_model_dir_when_container_functions_are_chained_then_wire_contract_holds(
    small_model_dir: Path,
) -> None:
    # Given the artifact's own code/inference.py, imported as the SageMaker container does
    inference = _import_artifact_code(small_model_dir)
    model = inference.model_fn(str(small_model_dir))
    body = _request(
        [{"id": "r1", "text": "A wonderful, moving film."}, {"id": "r2", "text": "Boring and awful."}]
    )
    # When model_fn -> input_fn -> predict_fn -> output_fn run
    data = inference.input_fn(body, "application/json")
    prediction = inference.predict_fn(data, model)
    out, content_type = inference.output_fn(prediction, "application/json")
    # Then the response is the wire contract
    assert content_type == "application/json"
    answer = json.loads(out)
    assert set(answer) == {"predictions", "model_version", "uncertain_band"}
    low, high = answer["uncertain_band"]
    assert [p["id"] for p in answer["predictions"]] == ["r1", "r2"]
    for p in answer["predictions"]:
        assert set(p) == {"id", "label", "score", "uncertain"}
        assert 0.0 <= p["score"] <= 1.0
        assert p["label"] == ("positive" if p["score"] >= 0.5 else "negative")
        assert p["uncertain"] is (low <= p["score"] <= high)


def test_given_endpoint_handler_when_explain_requested_then_top_ngrams_per_side_come_back(
    small_artifact: Path,
) -> None:
    # Given the in-process endpoint the local emulator uses
    handler = load_endpoint_handler(small_artifact)
    text = "This film is great, the acting is wonderful. The plot is bad and boring though."
    # When a prediction is explained
    out, content_type = handler(_request([{"id": 7, "text": text}], explain=True), "application/json", "*/*")
    pred = json.loads(out)["predictions"][0]
    # Then each side lists at most 5 n-grams of the text, strongest first, with the right sign
    assert content_type == "application/json"
    assert pred["id"] == "7"
    exp = pred["explanation"]
    assert set(exp) == {"positive", "negative"}
    assert 0 < len(exp["positive"]) <= 5
    assert 0 < len(exp["negative"]) <= 5
    pos_w = [e["weight"] for e in exp["positive"]]
    neg_w = [e["weight"] for e in exp["negative"]]
    assert all(w > 0 for w in pos_w)
    assert pos_w == sorted(pos_w, reverse=True)
    assert all(w < 0 for w in neg_w)
    assert neg_w == sorted(neg_w)
    words = set(text.lower().replace(",", " ,").replace(".", " .").split())
    for e in exp["positive"] + exp["negative"]:
        assert set(e["ngram"].split()) <= words


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"not json", "application/json", "not valid JSON"),
        (b'{"texts": ["x"]}', "application/json", "instances"),
        (b'{"instances": []}', "application/json", "non-empty list"),
        (b'{"instances": [{"id": "a", "text": "  "}]}', "application/json", "non-empty string"),
        (b'{"instances": [{"id": "a"}]}', "application/json", "non-empty string"),
        (b'{"instances": ["just text"]}', "application/json", "must be an object"),
        (b'{"instances": [{"id": "a", "text": "ok"}], "explain": "yes"}', "application/json", "explain"),
        (b'{"instances": [{"id": "a", "text": "ok"}]}', "text/csv", "content type"),
        (b"\xff\xfe", "application/json", "UTF-8"),
    ],
)
def test_given_bad_request_when_handled_then_value_error_explains_it(
    small_artifact: Path, body: bytes, content_type: str, message: str
) -> None:
    handler = load_endpoint_handler(small_artifact)
    with pytest.raises(ValueError, match=message):
        handler(body, content_type, "application/json")


def test_given_unsupported_accept_when_handled_then_value_error(small_artifact: Path) -> None:
    handler = load_endpoint_handler(small_artifact)
    with pytest.raises(ValueError, match="accept"):
        handler(_request([{"id": "a", "text": "fine"}]), "application/json; charset=utf-8", "text/csv")


def test_given_training_features_when_served_then_scores_equal_training_time_margins(
    small_model_dir: Path,
) -> None:
    # Given the sample reviews, featurized by the training code, and the served model
    reviews = read_reviews(SAMPLE)
    model = load_model(str(small_model_dir))
    texts = [r.text for r in reviews]
    counts, n_tokens = build_matrix_and_lengths(texts, model.spec, batch_size=64, counts=True)
    nblr, tfidf, vader = model.components
    assert vader.lexicon is not None
    dense = {
        name: values[model.slot_of] for name, values in (("nblr", nblr.weights), ("tfidf", tfidf.weights))
    }
    idf = tfidf.idf[model.slot_of]  # type: ignore[index]
    # When the training-side margins and the serving-side margins are computed
    presence = counts.copy()
    presence.data[:] = 1
    train_nblr = presence @ dense["nblr"].astype(np.float64) + nblr.intercept
    l2 = L2Model(weights=dense["tfidf"], intercept=tfidf.intercept, idf=idf)
    valence = vader_compound([strip_markup(t) for t in texts], vader.lexicon)
    train_side = np.column_stack([train_nblr, l2.margins(counts), valence])
    serve_side, serve_tokens = model.component_margins(texts)
    # Then they agree (no training/serving skew), so do the calibrated scores; the model learned the sample
    np.testing.assert_allclose(serve_side, train_side, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(serve_tokens, n_tokens)
    train_scores = apply_length_calibration(model.calibration, train_side, n_tokens)
    np.testing.assert_allclose(model.predict_proba(texts), train_scores, atol=1e-9)
    y = np.array([r.label for r in reviews])
    assert ((model.predict_proba(texts) >= 0.5) == y).mean() > 0.95


def test_given_weights_hashed_by_another_featurizer_when_loaded_then_value_error(
    small_model_dir: Path, tmp_path: Path
) -> None:
    # Given a copy of the model whose model.json says it was hashed differently
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(small_model_dir, copy)
    meta = json.loads((copy / "model.json").read_text())
    meta["features"]["hash"] = "some-other-hash-v0"
    (copy / "model.json").write_text(json.dumps(meta))
    # Then loading refuses instead of serving wrong scores
    with pytest.raises(ValueError, match="hash"):
        load_model(str(copy))
