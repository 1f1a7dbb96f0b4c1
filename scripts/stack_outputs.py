"""A deployed stack's outputs, and events/env.json filled from what its functions really run with.

    python -m scripts.stack_outputs --config-env prod outputs
    python -m scripts.stack_outputs --config-env default env-json [--path events/env.json]

The stack and region come from samconfig.toml's environment (as `sam deploy --config-env` uses them).
env.json gives `sam local invoke` each function's environment: it is read from the deployed functions
themselves (Lambda GetFunctionConfiguration), so every !Ref and !GetAtt is already resolved by CloudFormation.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from local.functions import SERVERLESS_FUNCTION
from local.template import PROJECT_ROOT, resources_of_type
from review_sentiment_cli.target import StackOutputs
from scripts.samconfig import DEFAULT_ENVIRONMENT, SAMCONFIG_PATH, SamConfigError, region, stack_name

ENV_JSON_PATH = PROJECT_ROOT / "events" / "env.json"


def function_environments(
    stack: str, cloudformation: Any, lambda_client: Any, template: dict[str, Any] | None = None
) -> dict[str, dict[str, str]]:
    """Logical id of each function of the template -> the environment its deployed function has."""
    environments: dict[str, dict[str, str]] = {}
    for logical_id in sorted(resources_of_type(SERVERLESS_FUNCTION, template)):
        resource = cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
        name = resource["StackResourceDetail"]["PhysicalResourceId"]
        configuration = lambda_client.get_function_configuration(FunctionName=name)
        environments[logical_id] = dict(
            sorted(configuration.get("Environment", {}).get("Variables", {}).items())
        )
    return environments


def write_env_json(environments: dict[str, dict[str, str]], path: Path = ENV_JSON_PATH) -> None:
    path.write_text(json.dumps(environments, indent=2) + "\n", encoding="utf-8")


def format_outputs(outputs: StackOutputs) -> str:
    width = max((len(key) for key in outputs.values), default=0)
    lines = [f"{outputs.stack_name} ({outputs.region})"]
    lines += [f"  {key:<{width}}  {value}" for key, value in sorted(outputs.values.items())]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.stack_outputs", description=__doc__)
    parser.add_argument("--config-env", default=DEFAULT_ENVIRONMENT, help="samconfig environment")
    parser.add_argument("--config-file", type=Path, default=SAMCONFIG_PATH)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("outputs", help="print the stack's outputs")
    env_json = commands.add_parser("env-json", help="write events/env.json from the deployed functions")
    env_json.add_argument("--path", type=Path, default=ENV_JSON_PATH)
    args = parser.parse_args(argv)
    try:
        stack = stack_name(args.config_env, args.config_file)
        session = boto3.session.Session(region_name=region(args.config_env, args.config_file))
        cloudformation = session.client("cloudformation")
        if args.command == "outputs":
            print(format_outputs(StackOutputs.read(stack, cloudformation)))
            return 0
        environments = function_environments(stack, cloudformation, session.client("lambda"))
        write_env_json(environments, args.path)
        print(f"{args.path}: the environment of {', '.join(environments)} in stack {stack}")
    except (SamConfigError, ClientError, BotoCoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
