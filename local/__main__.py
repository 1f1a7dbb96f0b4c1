"""`make local`: start the emulator on 127.0.0.1 and keep it running until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from local.stack import LocalStack, StackInfo


def how_to(info: StackInfo, state_file: str) -> str:
    incoming = f"s3://{info.bucket}/{info.incoming_prefix}"
    return "\n".join(
        [
            "Local emulator running (everything on 127.0.0.1; Ctrl-C stops it).",
            f"  AWS (moto: S3, SQS, DynamoDB)  {info.aws_endpoint_url}",
            f"  HTTP API                       {info.api_url}",
            f"  results dashboard              {info.dashboard_url}",
            f"  SageMaker runtime endpoint     {info.sagemaker_runtime_url}  ({info.endpoint_name})",
            f"  upload files to                {incoming}",
            f"  state                          {state_file}   logs  {info.logs_dir}/",
            "Upload with any AWS client pointed at the emulator (fake credentials), e.g.:",
            f"  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws --region {info.region} "
            f"--endpoint-url {info.aws_endpoint_url} s3 cp samples/imdb_reviews.jsonl {incoming}",
            f"  curl -s {info.api_url}/jobs",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    parser.add_argument("--api-port", type=int, default=0, help="port of the HTTP API (default: a free one)")
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        default=None,
        help="override every queue's VisibilityTimeout (seconds) so failed messages retry sooner",
    )
    parser.add_argument("--max-concurrency", type=int, default=2, help="execution environments per function")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stack = LocalStack(
        api_port=args.api_port,
        visibility_timeout=args.visibility_timeout,
        max_concurrency=args.max_concurrency,
    )
    with stack:
        assert stack.info is not None
        print(how_to(stack.info, str(stack.state_dir / "stack.json")), flush=True)
        while not stopping.wait(0.5):
            pass
        print("Stopping the local emulator...", flush=True)
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
