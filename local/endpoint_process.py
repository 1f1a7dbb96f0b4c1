"""The SageMaker endpoint stand-in in a process of its own, serving the shipped model artifact.

Why a process: scoring a batch is mostly Python (tokenizing, hashing n-grams), so in the emulator's process it
held the interpreter lock the moto server needs, and model time and DynamoDB time added up instead of
overlapping (docs/benchmarks.md, "End to end"). On AWS the endpoint is a machine of its own too.

The child is `python -m local.endpoint_process --name N --artifact A`: it loads the model, serves it with the
same EndpointServer (same answers, errors included) on a free 127.0.0.1 port, prints its URL on stdout and
stops when its stdin closes, so it never outlives the emulator that started it.

The emulator runs the endpoint as `EndpointWorkers`: as many such processes as it runs environments of a
function (2), each answering one request at a time from one listening socket they share (`--listen-fd`).
The template's serverless endpoint serves up to EndpointMaxConcurrency (5) invocations at once, and the
SageMaker scikit-learn container runs one server worker per vCPU; with one process, two inference
environments' calls took turns on one interpreter lock: an inference invocation spent 73% of its time
waiting for the endpoint's answers (py-spy, docs/benchmarks.md "End to end").
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from local.endpoint import (
    DEFAULT_ARTIFACT,
    EndpointHandler,
    EndpointServer,
    EndpointWorker,
    load_model_handler,
    require_artifact,
)
from local.template import PROJECT_ROOT

START_TIMEOUT_SECONDS = 180.0  # loading the model on a loaded 2-core machine


class EndpointProcess:
    """A child process serving `endpoint_name` with the model in `artifact`; `url` once started."""

    def __init__(
        self, endpoint_name: str, artifact: Path, log_path: Path, listener: socket.socket | None = None
    ) -> None:
        """With `listener`, the child answers one request at a time from that socket (an EndpointWorker)."""
        self.endpoint_name = endpoint_name
        self.artifact = artifact
        self.log_path = log_path
        self.url = ""
        self._listener = listener
        self._process: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        python_path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
        argv = [sys.executable, "-m", "local.endpoint_process", "--name", self.endpoint_name]
        argv += ["--artifact", str(self.artifact)]
        shared = (self._listener.fileno(),) if self._listener is not None else ()
        argv += [f"--listen-fd={fd}" for fd in shared]
        with self.log_path.open("a") as log:
            # S603: argv is sys.executable and our own module with our own arguments, no shell.
            self._process = subprocess.Popen(  # noqa: S603
                argv,
                pass_fds=shared,
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


class EndpointWorkers:
    """`workers` EndpointProcess children answering at one URL, from one listening socket they share."""

    def __init__(self, endpoint_name: str, artifact: Path, log_path: Path, workers: int) -> None:
        self.endpoint_name = endpoint_name
        self.url = ""
        self._artifact, self._log_path, self._workers = artifact, log_path, max(1, workers)
        self._started: list[EndpointProcess] = []

    @property
    def pids(self) -> list[int]:
        return [pid for process in self._started if (pid := process.pid) is not None]

    def start(self) -> None:
        listener = socket.create_server(("127.0.0.1", 0))  # the children keep it open; ours closes below
        try:
            for _ in range(self._workers):
                process = EndpointProcess(self.endpoint_name, self._artifact, self._log_path, listener)
                self._started.append(process)
                process.start()
            self.url = self._started[0].url
        except BaseException:
            self.stop()
            raise
        finally:
            listener.close()

    def stop(self) -> None:
        started, self._started = self._started, []
        for process in started:
            process.stop()


def local_endpoint(
    name: str, handler: EndpointHandler | None, artifact: Path, state_dir: Path, workers: int = 1
) -> EndpointServer | EndpointWorkers:
    """The emulator's endpoint, not started: a test's own handler is served in-process; the shipped model from
    `workers` processes of their own (logging to <state_dir>/logs/endpoint.log), so that scoring does not
    hold the moto server's interpreter lock, nor one caller's scoring another's. A missing artifact raises
    FileNotFoundError here."""
    if handler is not None:
        return EndpointServer(name, handler)
    require_artifact(artifact)
    return EndpointWorkers(name, artifact, state_dir / "logs" / "endpoint.log", workers)


def _first_line(stream: IO[str], timeout: float) -> str:
    """The stream's first line, or "" if none came within timeout seconds (or the stream ended)."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0].strip() if lines else ""


def serve(endpoint_name: str, artifact: Path, listen_fd: int | None = None) -> None:
    """Serve the artifact's model until stdin closes (the child's side); one request at a time from the
    inherited listening socket `listen_fd` when given (a worker), else threaded on a port of its own."""
    handler = load_model_handler(artifact)
    if listen_fd is None:
        server = EndpointServer(endpoint_name, handler)
        server.start()
        url = server.url
        stop = server.stop
    else:
        worker = EndpointWorker(endpoint_name, handler, socket.socket(fileno=listen_fd))
        threading.Thread(target=worker.serve_forever, name="endpoint-worker", daemon=True).start()
        url = f"http://127.0.0.1:{worker.server_address[1]}"
        stop = worker.shutdown
    print(url, flush=True)
    try:
        sys.stdin.read()  # returns at EOF: the emulator stopped it, or died
    finally:
        stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="the endpoint name to answer for")
    parser.add_argument("--artifact", type=Path, default=DEFAULT_ARTIFACT, help="model.tar.gz to serve")
    parser.add_argument("--listen-fd", type=int, help="serve as a worker on this inherited listening socket")
    arguments = parser.parse_args(argv)
    serve(arguments.name, arguments.artifact, arguments.listen_fd)


if __name__ == "__main__":
    main()
