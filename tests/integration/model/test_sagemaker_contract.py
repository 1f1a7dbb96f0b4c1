"""The training script and the artifact as SageMaker runs them: script mode, a container without sklearn."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.model.model_dir import LOOSE_ARTIFACT_FILES, files_in, hyperparameters_of

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "tests" / "unit" / "model" / "fixtures" / "imdb_sample.jsonl.gz"
HPO = json.loads((REPO / "model" / "sagemaker" / "hpo_job.json").read_text())

# What the SageMaker scikit-learn serving container does with model.tar.gz, in a process where importing
# scikit-learn or SciPy fails: extract to model_dir, import code/inference.py, chain the four functions.
_SERVE = """
import importlib.util, json, sys
sys.modules["sklearn"] = None
sys.modules["scipy"] = None
model_dir = sys.argv[1]
spec = importlib.util.spec_from_file_location("inference", model_dir + "/code/inference.py")
inference = importlib.util.module_from_spec(spec)
sys.modules["inference"] = inference
spec.loader.exec_module(inference)
model = inference.model_fn(model_dir)
body = json.dumps({"instances": [{"id": "a", "text": "A superb film, loved it."}], "explain": True})
data = inference.input_fn(body.encode(), "application/json")
out, ctype = inference.output_fn(inference.predict_fn(data, model), "application/json")
print(ctype)
print(out)
"""


@pytest.fixture(scope="module")
def sm_model_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Run model/train.py as a file, the way SageMaker script mode does, with SM_* variables."""
    root = tmp_path_factory.mktemp("sagemaker")
    channel, model_dir = root / "input" / "data" / "train", root / "model"
    channel.mkdir(parents=True)
    model_dir.mkdir()
    shutil.copy(SAMPLE, channel / "train.jsonl.gz")
    env = {**os.environ, "SM_CHANNEL_TRAIN": str(channel), "SM_MODEL_DIR": str(model_dir)}
    env.pop("PYTHONPATH", None)
    args = ["--word_bits", "18", "--C", "1.0", "--alpha", "1.0", "--word_ngram", "1,3", "--seed", "42"]
    done = subprocess.run(
        [sys.executable, str(REPO / "model" / "train.py"), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return model_dir, done.stdout


def test_given_sm_environment_when_train_py_runs_as_a_file_then_model_dir_gets_loose_artifact_files(
    sm_model_dir: tuple[Path, str],
) -> None:
    model_dir, _ = sm_model_dir
    assert files_in(model_dir) == LOOSE_ARTIFACT_FILES
    assert hyperparameters_of(model_dir)["word_bits"] == 18


def test_given_training_log_when_tuning_regexes_apply_then_objective_metric_is_found(
    sm_model_dir: tuple[Path, str],
) -> None:
    _, stdout = sm_model_dir
    metrics = HPO["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"]
    objective = HPO["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"]
    found = {m["Name"]: re.findall(m["Regex"], stdout) for m in metrics}
    assert len(found[objective]) == 1
    assert 0.0 < float(found[objective][0]) <= 1.0
    ranges = HPO["HyperParameterTuningJobConfig"]["ParameterRanges"]
    names = {r["Name"] for kind in ranges.values() for r in kind}
    assert names <= {
        "C",
        "alpha",
        "beta",
        "char_C",
        "char_mix",
        "pseudo_fraction",
        "min_df",
        "word_ngram",
        "char_ngram",
    }


def test_given_container_without_sklearn_or_scipy_when_serving_then_wire_contract_holds(
    sm_model_dir: tuple[Path, str],
) -> None:
    model_dir, _ = sm_model_dir
    done = subprocess.run(
        [sys.executable, "-c", _SERVE, str(model_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    ctype, body = done.stdout.strip().splitlines()
    answer = json.loads(body)
    assert ctype == "application/json"
    assert answer["predictions"][0]["id"] == "a"
    assert 0.0 <= answer["predictions"][0]["score"] <= 1.0
    assert set(answer["predictions"][0]["explanation"]) == {"positive", "negative"}
