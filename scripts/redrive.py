"""`make redrive`: move every dead-lettered message back to the queue it came from, and clear the STALLED mark
of its job, so the work carries on (redelivery is idempotent, so a job finishes with exact counts).

    python -m scripts.redrive --local              # the emulator started by `make local` (.local/stack.json)
    python -m scripts.redrive --stack-json PATH    # an emulator whose state is elsewhere (tests)
    python -m scripts.redrive --stack NAME         # a deployed stack (its outputs name the queues and table)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import boto3

from review_pipeline.dal.jobs import JobStore
from review_pipeline.logic.dead_letters import redrive

LOCAL_STACK = Path(__file__).resolve().parent.parent / ".local" / "stack.json"
# dead-letter queue -> (source queue, which messages it holds), by the template's logical ids / output keys
QUEUES = {
    "IngestDeadLetterQueue": ("IngestQueue", "ingest"),
    "InferenceDeadLetterQueue": ("InferenceQueue", "inference"),
}


def local_session(stack_json: Path = LOCAL_STACK) -> tuple[Any, dict[str, str], str, str]:
    """boto3 client arguments, queue URLs by logical id, table name and incoming prefix of the emulator."""
    info = json.loads(stack_json.read_text(encoding="utf-8"))
    kwargs = {
        "endpoint_url": info["aws_endpoint_url"],
        "region_name": info["region"],
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
    }
    return kwargs, info["queues"], info["table_name"], info["incoming_prefix"]


def stack_session(stack: str) -> tuple[Any, dict[str, str], str, str]:
    described = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}
    queues = {name: outputs[f"{name}Url"] for name in [*QUEUES, *(source for source, _ in QUEUES.values())]}
    return {}, queues, outputs["TableName"], "incoming/"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.redrive", description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--local", action="store_true", help="the running local emulator")
    where.add_argument("--stack", help="a deployed stack's name")
    where.add_argument("--stack-json", type=Path, help="an emulator's stack.json")
    args = parser.parse_args(argv)
    if args.stack:
        kwargs, queues, table_name, prefix = stack_session(args.stack)
    else:
        kwargs, queues, table_name, prefix = local_session(args.stack_json or LOCAL_STACK)
    sqs = boto3.client("sqs", **kwargs)
    jobs = JobStore(boto3.resource("dynamodb", **kwargs).Table(table_name))
    for dead_letter, (source, kind) in QUEUES.items():
        moved = redrive(sqs, queues[dead_letter], queues[source], kind, jobs, prefix)
        print(f"{dead_letter}: {moved} message(s) moved back to {source}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
