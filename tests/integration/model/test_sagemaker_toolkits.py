"""model.tar.gz and model/train.py run by the open-source toolkits of the SageMaker scikit-learn image.

.tools/sagemaker/.venv (make setup, requirements/sagemaker.txt) holds the image's Python 3.12, NumPy 2.1.0 and
scikit-learn 1.4.2 with sagemaker-containers and sagemaker-training, in a process of its own (no PYTHONPATH,
no project code but what SageMaker would hand the container):

- serving: the artifact is extracted where SageMaker puts it (<base>/model), with the template's environment
  (SAGEMAKER_PROGRAM, SAGEMAKER_SUBMIT_DIRECTORY); the child does what the image's serving module
  (sagemaker_sklearn_container.serving, which is not on PyPI) does with them: a toolkit Transformer from
  inference.py's model_fn/input_fn/predict_fn/output_fn, wrapped in the toolkit's Flask Worker, asked through
  its WSGI app (gunicorn's part is left out);
- training: the config files SageMaker writes under <base>/input/config (hyperparameters as in
  model/sagemaker/hpo_job.json), the train channel, a source directory, and sagemaker-training's entry point
  runs model/train.py with the SM_* environment the toolkit builds, as the image's training module does.

The toolkits honour SAGEMAKER_BASE_DIR instead of /opt/ml, which is how they run outside a container.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from local.template import load_template
from tests.integration.model.model_dir import LOOSE_ARTIFACT_FILES, files_in, hyperparameters_of

REPO = Path(__file__).resolve().parents[3]
ARTIFACT = REPO / "model" / "artifact" / "model.tar.gz"
SAMPLE = REPO / "tests" / "unit" / "model" / "fixtures" / "imdb_sample.jsonl.gz"
HPO = json.loads((REPO / "model" / "sagemaker" / "hpo_job.json").read_text())
TOOLKIT_PYTHON = REPO / ".tools" / "sagemaker" / ".venv" / "bin" / "python"

# What sagemaker_sklearn_container.serving.main does, up to the WSGI app, then one request per stdin entry.
_SERVE = """
import collections, collections.abc, importlib, json, sys
collections.Mapping = collections.abc.Mapping  # the image's Dockerfile applies this same fix for Python 3.12
from sagemaker_containers.beta.framework import env, transformer, worker
serving_env = env.ServingEnv()
sys.path.insert(0, serving_env.module_dir)  # gunicorn's --pythonpath in the image
user_module = importlib.import_module(serving_env.module_name)
handler = transformer.Transformer(
    model_fn=user_module.model_fn, input_fn=user_module.input_fn,
    predict_fn=user_module.predict_fn, output_fn=user_module.output_fn,
)
handler.initialize()
app = worker.Worker(transform_fn=handler.transform, module_name=serving_env.module_name)
client = app.test_client()
answers = []
for request in json.load(sys.stdin):
    if request["method"] == "GET":
        response = client.get(request["path"])
    else:
        response = client.post(request["path"], data=request["body"].encode(),
                               content_type=request["content_type"], headers={"Accept": "application/json"})
    answers.append({"status": response.status_code, "content_type": response.content_type,
                    "body": response.get_data(as_text=True)})
print(json.dumps(answers))
"""

# What sagemaker_sklearn_container.training.main does.
_TRAIN = """
from sagemaker_training import entry_point, environment, runner
training_environment = environment.Environment()
entry_point.run(
    uri=training_environment.module_dir,
    user_entry_point=training_environment.user_entry_point,
    args=training_environment.to_cmd_args(),
    env_vars=training_environment.to_env_vars(),
    runner_type=runner.ProcessRunnerType,
)
"""


@pytest.fixture(scope="module")
def toolkit_python() -> Path:
    if not TOOLKIT_PYTHON.is_file():
        message = f"{TOOLKIT_PYTHON} is missing: `make setup` creates it from requirements/sagemaker.txt"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return TOOLKIT_PYTHON


def _run_toolkit(python: Path, script: str, base: Path, extra_env: dict[str, str], stdin: str = "") -> str:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(base),
        "SAGEMAKER_BASE_DIR": str(base),
        # sagemaker-containers' protobuf module predates protobuf 4: the pure-Python parser reads it.
        "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python",
        **extra_env,
    }
    done = subprocess.run(
        [str(python), "-W", "ignore", "-c", script],
        input=stdin,
        cwd=base,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def _serving_environment(base: Path) -> dict[str, str]:
    """The model container's Environment in template.yaml, with /opt/ml moved to `base`."""
    container = load_template()["Resources"]["SentimentModel"]["Properties"]["PrimaryContainer"]
    return {
        name: str(value).replace("/opt/ml", str(base))
        for name, value in container["Environment"].items()
        if isinstance(value, str)
    }


@pytest.fixture(scope="module")
def served(toolkit_python: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    base = tmp_path_factory.mktemp("opt_ml")
    with tarfile.open(ARTIFACT) as tar:
        tar.extractall(base / "model", filter="data")
    requests = [
        {"method": "GET", "path": "/ping"},
        {
            "method": "POST",
            "path": "/invocations",
            "content_type": "application/json",
            "body": json.dumps(
                {
                    "instances": [
                        {"id": "a", "text": "A superb film, moving and beautifully acted. Loved it."},
                        {"id": "b", "text": "Dull, badly written and far too long. A waste of time."},
                    ],
                    "explain": True,
                }
            ),
        },
        {"method": "POST", "path": "/invocations", "content_type": "application/json", "body": "{not json"},
    ]
    stdout = _run_toolkit(toolkit_python, _SERVE, base, _serving_environment(base), json.dumps(requests))
    answers: list[dict[str, Any]] = json.loads(stdout.strip().splitlines()[-1])
    return answers


def test_given_the_image_toolkit_when_pinged_then_the_worker_is_healthy(served: list[dict[str, Any]]) -> None:
    assert served[0]["status"] == 200


def test_given_the_image_toolkit_when_invoked_then_our_functions_answer_the_wire_contract(
    served: list[dict[str, Any]],
) -> None:
    answer = served[1]
    body = json.loads(answer["body"])

    assert answer["status"] == 200
    assert answer["content_type"].startswith("application/json")
    assert [p["id"] for p in body["predictions"]] == ["a", "b"]
    assert [p["label"] for p in body["predictions"]] == ["positive", "negative"]
    assert all(0.0 <= p["score"] <= 1.0 for p in body["predictions"])
    assert set(body["predictions"][0]["explanation"]) == {"positive", "negative"}


def test_given_the_image_toolkit_when_the_body_is_not_json_then_the_container_answers_500(
    served: list[dict[str, Any]],
) -> None:
    """The toolkit does not catch input_fn's ValueError: a 500, which InvokeEndpoint reports as ModelError."""
    assert served[2]["status"] == 500
    assert "predictions" not in served[2]["body"]


@pytest.fixture(scope="module")
def trained(toolkit_python: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """model/train.py run by sagemaker-training's entry point, configured as a SageMaker training job."""
    base = tmp_path_factory.mktemp("opt_ml")
    source = base / "sourcedir"
    serving = REPO / "model" / "serving"
    for path in [*(REPO / "model").glob("*.py"), *serving.glob("*.py"), *(serving / "lexicon").glob("*")]:
        # what docs/model.md packs into sourcedir.tar.gz: the code and the VADER lexicon, no artifact
        target = source / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    channel = base / "input" / "data" / "train"
    channel.mkdir(parents=True)
    shutil.copy(SAMPLE, channel / "train.jsonl.gz")
    static = HPO["TrainingJobDefinition"]["StaticHyperParameters"]
    hyperparameters = {
        **{k: v for k, v in static.items() if k != "sagemaker_region"},
        # a local directory instead of the S3 sourcedir.tar.gz; small hashing spaces for the 400-review sample
        "sagemaker_submit_directory": json.dumps(str(source)),
        "word_bits": "18",
        "char_bits": "16",
    }
    config = base / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": "localhost", "hosts": ["localhost"], "network_interface_name": "lo"})
    )
    channels = HPO["TrainingJobDefinition"]["InputDataConfig"]
    (config / "inputdataconfig.json").write_text(
        json.dumps(
            {c["ChannelName"]: {"TrainingInputMode": "File"} for c in channels if c["ChannelName"] == "train"}
        )
    )
    stdout = _run_toolkit(toolkit_python, _TRAIN, base, {})
    return base / "model", stdout


def test_given_a_training_job_config_when_the_toolkit_runs_train_py_then_the_model_dir_holds_the_artifact(
    trained: tuple[Path, str],
) -> None:
    model_dir, _ = trained

    assert files_in(model_dir) == LOOSE_ARTIFACT_FILES
    assert hyperparameters_of(model_dir)["word_bits"] == 18


def test_given_a_training_job_when_the_toolkit_runs_it_then_the_tuning_objective_is_logged_once(
    trained: tuple[Path, str],
) -> None:
    _, stdout = trained
    metric = HPO["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"][0]

    values = re.findall(metric["Regex"], stdout)

    assert metric["Name"] == "validation_accuracy"
    assert len(values) == 1
    assert 0.5 < float(values[0]) <= 1.0
