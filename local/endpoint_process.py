"""The SageMaker endpoint stand-in in a process of its own, serving the shipped model artifact.

Why a process: scoring a batch is mostly Python (tokenizing, hashing n-grams), so in the emulator's process it
held the interpreter lock the moto server needs, and model time and DynamoDB time added up instead of
overlapping (docs/benchmarks.md, "End to end"). On AWS the endpoint is a machine of its own too.

The child is `python -m local.endpoint_process --name N --artifact A`: it loads the model, serves it with the
same EndpointServer (same answers, errors included) on a free 127.0.0.1 port, prints its URL on stdout and
stops when its stdin closes, so it never outlives the emulator that started it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from local.endpoint import (
    DEFAULT_ARTIFACT,
    EndpointHandler,
    EndpointServer,
    load_model_handler,
    require_artifact,
)
from local.template import PROJECT_ROOT

START_TIMEOUT_SECONDS = 180.0  # loading the model on a loaded 2-core machine


class EndpointProcess:
    """A child process serving `endpoint_name` with the model in `artifact`; `url` once started."""

    def __init__(self, endpoint_name: str, artifact: Path, log_path: Path) -> None:
        self.endpoint_name = endpoint_name
        self.artifact = artifact
        self.log_path = log_path
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        python_path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
        argv = [sys.executable, "-m", "local.endpoint_process", "--name", self.endpoint_name]
        with self.log_path.open("a") as log:
            # S603: argv is sys.executable and our own module with our own arguments, no shell.
            self._process = subprocess.Popen(  # noqa: S603
                [*argv, "--artifact", str(self.artifact)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                cwd=PROJECT_ROOT,
                env={**os.environ, "PYTHONPATH": python_path},
            )
        assert self._process.stdout is not None
        self.url = _first_line(self._process.stdout, START_TIMEOUT_SECONDS)
        if not self.url.startswith("http://"):
            self.stop()
            raise RuntimeError(
                f"the local SageMaker endpoint did not start (see {self.log_path}): {self.url!r}"
            )

    def stop(self) -> None:
        """Close the child's stdin (it shuts its server down), then wait; terminate it if it hangs."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def local_endpoint(
    name: str, handler: EndpointHandler | None, artifact: Path, state_dir: Path
) -> EndpointServer | EndpointProcess:
    """The emulator's endpoint, not started: a test's own handler is served in-process; the shipped model from
    a process of its own (logging to <state_dir>/logs/endpoint.log), so that scoring does not hold the moto
    server's interpreter lock. A missing artifact raises FileNotFoundError here."""
    if handler is not None:
        return EndpointServer(name, handler)
    require_artifact(artifact)
    return EndpointProcess(name, artifact, state_dir / "logs" / "endpoint.log")


def _first_line(stream: IO[str], timeout: float) -> str:
    """The stream's first line, or "" if none came within timeout seconds (or the stream ended)."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0].strip() if lines else ""


def serve(endpoint_name: str, artifact: Path) -> None:
    """Serve the artifact's model until stdin closes (the child's side)."""
    server = EndpointServer(endpoint_name, load_model_handler(artifact))
    server.start()
    print(server.url, flush=True)
    try:
        sys.stdin.read()  # returns at EOF: the emulator stopped it, or died
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="the endpoint name to answer for")
    parser.add_argument("--artifact", type=Path, default=DEFAULT_ARTIFACT, help="model.tar.gz to serve")
    arguments = parser.parse_args(argv)
    serve(arguments.name, arguments.artifact)


if __name__ == "__main__":
    main()
