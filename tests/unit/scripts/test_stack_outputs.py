"""`make outputs` and `make env-json`: a deployed stack (in moto) read as a user's AWS credentials see it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.functions import SERVERLESS_FUNCTION
from local.template import resources_of_type
from review_sentiment_cli.target import StackOutputs
from scripts.stack_outputs import format_outputs, function_environments, main, write_env_json
from tests.conftest import REGION

STACK = "review-sentiment-dev"
FUNCTION_IDS = sorted(resources_of_type(SERVERLESS_FUNCTION))


def deployed_function(logical_id: str) -> dict[str, Any]:
    """A plain Lambda function standing where sam deploys the template's function of that logical id."""
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "FunctionName": f"{STACK}-{logical_id}-AbC123",
            "Runtime": "python3.13",
            "Handler": "app.lambda_handler",
            "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"ZipFile": "def lambda_handler(event, context):\n    return event\n"},
            "Environment": {"Variables": {"TABLE_NAME": f"{STACK}-ReviewsTable-XYZ", "FUNCTION": logical_id}},
        },
    }


@pytest.fixture
def deployed_stack(aws: None) -> None:
    assume = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": assume}},
            **{logical_id: deployed_function(logical_id) for logical_id in FUNCTION_IDS},
        },
        "Outputs": {"BucketName": {"Value": "reviews-bucket"}, "TableName": {"Value": "reviews-table"}},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=STACK, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"]
    )


def test_env_json_holds_each_template_functions_deployed_environment(
    deployed_stack: None, tmp_path: Path
) -> None:
    # Given the stack deployed from the template, each function with its resolved environment
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    # When env.json is filled from it
    environments = function_environments(STACK, cloudformation, boto3.client("lambda", region_name=REGION))
    path = tmp_path / "env.json"
    write_env_json(environments, path)
    # Then each function of the template has its own deployed variables, keyed by its logical id
    written = json.loads(path.read_text())
    assert sorted(written) == FUNCTION_IDS
    assert {"PreprocessFunction", "InferenceFunction", "QueryApiFunction"} <= set(written)
    for logical_id in FUNCTION_IDS:
        assert written[logical_id] == {"FUNCTION": logical_id, "TABLE_NAME": f"{STACK}-ReviewsTable-XYZ"}


def test_outputs_are_listed_by_name(deployed_stack: None) -> None:
    # Given the deployed stack's outputs
    outputs = StackOutputs.read(STACK, boto3.client("cloudformation", region_name=REGION))
    # When they are printed
    text = format_outputs(outputs)
    # Then each output is on its own line, after the stack and region
    assert text.splitlines() == [
        f"{STACK} ({REGION})",
        "  BucketName  reviews-bucket",
        "  TableName   reviews-table",
    ]


def test_an_unknown_stack_is_a_clear_error(aws: None, tmp_path: Path, capsys: Any) -> None:
    # Given a samconfig environment naming a stack that does not exist
    config = tmp_path / "samconfig.toml"
    config.write_text(
        f'version = 0.1\n[default.global.parameters]\nstack_name = "gone"\nregion = "{REGION}"\n'
    )
    # When `make outputs` runs
    status = main(["--config-file", str(config), "outputs"])
    # Then it exits 2 with CloudFormation's message naming the stack
    assert status == 2
    assert "gone" in capsys.readouterr().err
