"""A tiny throwaway template and function folder, so the emulator is tested apart from the real pipeline; and
the template's table in moto with local/moto_scale.py installed."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import moto_scale
from local.stack import LocalStack
from local.template import table_definition

REGION = "us-east-1"

WORKER_CODE = textwrap.dedent(
    """
    import importlib.util
    import json
    import os
    import time

    import boto3

    import tiny_layer

    def lambda_handler(event, context):
        if "Records" in event:
            failures = []
            s3 = boto3.client("s3")
            for record in event["Records"]:
                if "fail" in record["body"]:
                    failures.append({"itemIdentifier": record["messageId"]})
                    continue
                key = "seen/" + record["messageId"]
                seen = {**record, "invocation_trace": os.environ.get("_X_AMZN_TRACE_ID")}
                s3.put_object(Bucket=os.environ["BUCKET_NAME"], Key=key, Body=json.dumps(seen))
            return {"batchItemFailures": failures}
        if event["rawPath"] == "/slow":
            time.sleep(5)
        if event["rawPath"] == "/hungry":
            held = b"x" * (600 << 20)  # written, so resident: over the 256 MB MemorySize
            time.sleep(1)
            return {"statusCode": 200, "body": str(len(held))}
        print("a log line for the log file, not for the protocol")
        names = ["TABLE_NAME", "BUCKET_NAME", "QUEUE_URL", "LOG_LEVEL", "ENDPOINT_NAME", "AWS_ENDPOINT_URL",
                 "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "POWERTOOLS_TRACE_DISABLED", "CALLER_SECRET"]
        body = {
            "event": event,
            "env": {name: os.environ.get(name) for name in names},
            "layer": tiny_layer.NAME,
            "project_importable": importlib.util.find_spec("tests") is not None,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "function_name": context.function_name,
        }
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "cookies": ["seen=1"],
                "body": json.dumps(body)}
    """
)


def tiny_template() -> dict[str, Any]:
    key = [{"AttributeName": "pk", "KeyType": "HASH"}]
    http = {"Type": "HttpApi", "Properties": {"Path": "/things/{thing_id}", "Method": "GET"}}
    return {
        "Parameters": {
            "Stage": {"Type": "String", "Default": "dev"},
            "ExistingEndpointName": {"Type": "String", "Default": ""},
        },
        "Conditions": {
            "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
            "CreateEndpoint": {"Fn::Equals": [{"Ref": "ExistingEndpointName"}, ""]},
        },
        "Globals": {
            "Function": {
                "Handler": "app.lambda_handler",
                "Timeout": 2,
                "MemorySize": 256,
                "Layers": [{"Ref": "TinyLayer"}],
                "Environment": {
                    "Variables": {
                        "TABLE_NAME": {"Ref": "TinyTable"},
                        "BUCKET_NAME": {"Ref": "TinyBucket"},
                        "LOG_LEVEL": {"Fn::If": ["IsProd", "INFO", "DEBUG"]},
                        "ENDPOINT_NAME": {
                            "Fn::If": [
                                "CreateEndpoint",
                                {"Fn::GetAtt": ["TinyEndpoint", "EndpointName"]},
                                {"Ref": "ExistingEndpointName"},
                            ]
                        },
                    }
                },
            }
        },
        "Resources": {
            "TinyLayer": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "layer/"}},
            "TinyBucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "NotificationConfiguration": {
                        "QueueConfigurations": [
                            {
                                "Event": "s3:ObjectCreated:*",
                                "Queue": {"Fn::GetAtt": ["WorkQueue", "Arn"]},
                                "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "incoming/"}]}},
                            }
                        ]
                    }
                },
            },
            "TinyTable": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": key,
                },
            },
            "WorkQueue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "VisibilityTimeout": 1800,
                    "RedrivePolicy": {
                        "deadLetterTargetArn": {"Fn::GetAtt": ["WorkDeadLetterQueue", "Arn"]},
                        "maxReceiveCount": 2,
                    },
                },
            },
            "WorkDeadLetterQueue": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "TinyEndpoint": {
                "Type": "AWS::SageMaker::Endpoint",
                "Condition": "CreateEndpoint",
                "Properties": {},
            },
            "Worker": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": "worker/",
                    "Environment": {"Variables": {"QUEUE_URL": {"Ref": "WorkQueue"}}},
                    "Events": {
                        "Work": {
                            "Type": "SQS",
                            "Properties": {
                                "Queue": {"Fn::GetAtt": ["WorkQueue", "Arn"]},
                                "BatchSize": 5,
                                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                            },
                        },
                        "GetThing": http,
                        "Slow": {"Type": "HttpApi", "Properties": {"Path": "/slow", "Method": "GET"}},
                        "Hungry": {"Type": "HttpApi", "Properties": {"Path": "/hungry", "Method": "GET"}},
                    },
                },
            },
        },
    }


def echo_model(body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    """A stand-in model for the endpoint's protocol tests: echoes the request, fails on 'boom'."""
    if b"boom" in body:
        raise ValueError("the model cannot read this payload")
    return b'{"echo": ' + body + b', "content_type": "' + content_type.encode() + b'"}', "application/json"


def make_project(root: Path) -> Path:
    (root / "worker").mkdir(parents=True)
    (root / "worker" / "app.py").write_text(WORKER_CODE)
    (root / "layer").mkdir()
    (root / "layer" / "tiny_layer.py").write_text('NAME = "tiny layer"\n')
    return root


@pytest.fixture(scope="module")
def tiny_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The emulator on the tiny template, with a 1 s visibility timeout so retries are observable."""
    root = make_project(tmp_path_factory.mktemp("tiny-project"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CALLER_SECRET", "must not reach the function")
        stack = LocalStack(
            template=tiny_template(),
            project_root=root,
            stack_name="tiny-local",
            visibility_timeout=1,
            endpoint_handler=echo_model,
            state_dir=root / ".local",
        )
        stack.__enter__()  # stops what it started if it fails
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def scaled_table() -> Iterator[Any]:
    """The template's table, empty, in moto in this process with local/moto_scale.py installed."""
    with mock_aws():
        moto_scale.install()
        boto3.client("dynamodb", region_name=REGION).create_table(TableName="t", **table_definition())
        yield boto3.resource("dynamodb", region_name=REGION).Table("t")
