"""A Lambda execution environment in a subprocess, and the parent-side handle that invokes it.

Child (`python -m local.function_host --code-uri functions/preprocess --handler app.lambda_handler ...`):
sys.path is the function's code directory then its layers, like /var/task and /opt/python on Lambda, so each
function has its own environment variables and module cache. It imports the handler once (the cold start),
then answers each JSON line on stdin (an invocation, in a trace of its own) with one on a private copy of
stdout; fd 1 goes to stderr, which the parent sends to `.local/logs/<Function>.log` (CloudWatch's part), with
Lambda's START, END and REPORT lines (duration, MemorySize, Max Memory Used) around each invocation.

Parent (`FunctionHost`, `FunctionPool`): starts children, restarts one that died, and kills and replaces one
that outlives the template's Timeout (as Lambda discards a timed-out environment) or whose resident memory
(sampled every 0.1 s from /proc, on Linux) goes over its MemorySize (with Lambda's out-of-memory error).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from local.functions import FunctionSpec
from local.lambda_context import LambdaContext, error_response, peak_resident_mb, report_line

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_MEMORY_SAMPLE_SECONDS = 0.1  # how often a running invocation's resident memory is compared with MemorySize
# Variables a Lambda environment has that do not come from the template; nothing else leaks from the caller.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


class OutOfMemoryError(Exception):
    """A child's resident memory (MB, the argument) went over its function's MemorySize."""


def resident_mb(pid: int) -> float | None:
    """A process's resident memory in MB (Linux /proc); None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class Invocation:
    """What an invocation returned: the handler's result, or Lambda's error shape."""

    ok: bool
    payload: Any = None
    error_type: str = ""
    error_message: str = ""
    duration_ms: float = 0.0


# ---------------------------------------------------------------------------------------------------------
# child side
# ---------------------------------------------------------------------------------------------------------
def _serve(protocol: IO[str], args: argparse.Namespace) -> None:
    code_dir = str(Path(args.code_uri).resolve())
    layers = [str(Path(layer).resolve()) for layer in args.layer]
    # Only the function's own code and its layers are importable, not the project (local/, tests/, model/).
    root = str(PROJECT_ROOT)
    sys.path[:] = [code_dir, *layers, *(p for p in sys.path if p not in {"", ".", root, *layers, code_dir})]
    os.chdir(code_dir)  # Lambda's working directory is /var/task

    module_name, _, function_name = args.handler.rpartition(".")
    handler: Any = None
    init_error: dict[str, Any] | None = None
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as error:
        init_error = error_response(error, "Runtime.ImportModuleError")
        traceback.print_exc()
    region = os.environ.get("AWS_REGION", "us-east-1")
    context = LambdaContext(args.function_name, args.memory, args.timeout, region)
    protocol.write(json.dumps({"ready": True}) + "\n")
    protocol.flush()

    for line in sys.stdin:
        request = json.loads(line)
        context.start(request["request_id"])
        print(f"START RequestId: {context.aws_request_id} Version: $LATEST")
        started = time.monotonic()
        if init_error is not None:
            response = init_error
        else:
            try:
                result = handler(request["event"], context)
                response = {"ok": True, "payload": json.loads(json.dumps(result))}
            except TypeError as error:
                response = error_response(error, "Runtime.MarshalError")
                traceback.print_exc()
            except Exception as error:
                response = error_response(error)
                traceback.print_exc()
        print(f"END RequestId: {context.aws_request_id}")
        duration_ms = (time.monotonic() - started) * 1000
        print(
            report_line(context.aws_request_id, duration_ms, context.memory_limit_in_mb, peak_resident_mb())
        )
        sys.stdout.flush()
        sys.stderr.flush()
        protocol.write(json.dumps(response) + "\n")
        protocol.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Run one Lambda function handler as a local execution environment"
    )
    parser.add_argument("--code-uri", required=True)
    parser.add_argument("--handler", required=True)
    parser.add_argument("--layer", action="append", default=[])
    parser.add_argument("--function-name", default="function")
    parser.add_argument("--memory", type=int, default=128)
    parser.add_argument("--timeout", type=int, default=3)
    args = parser.parse_args(argv)
    # The protocol gets a private copy of stdout; fd 1 (print, logging, EMF metrics) goes to stderr: the log.
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    _serve(protocol, args)


# ---------------------------------------------------------------------------------------------------------
# parent side
# ---------------------------------------------------------------------------------------------------------
class FunctionHost:
    """One execution environment of a function: a child process that handles one invocation at a time."""

    _instances = itertools.count(1)

    def __init__(self, spec: FunctionSpec, extra_environment: dict[str, str], log_path: Path) -> None:
        self.spec = spec
        self._extra_environment = extra_environment
        self._log_path = log_path
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self.instance = next(self._instances)
        self.cold_starts = 0

    def environment(self) -> dict[str, str]:
        inherited = {name: os.environ[name] for name in _INHERITED if name in os.environ}
        return {
            **inherited,
            **self.spec.environment,
            **self._extra_environment,
            "AWS_LAMBDA_FUNCTION_NAME": self.spec.logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "PYTHONPATH": os.pathsep.join([str(self.spec.code_dir), *map(str, self.spec.layer_dirs)]),
            "PYTHONUNBUFFERED": "1",
            "TZ": "UTC",
        }

    def start(self) -> None:
        """Start the child (its cold start runs in the background; the first invocation waits for it)."""
        if self._process is not None and self._process.poll() is None:
            return
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "local.function_host",
            "--code-uri", str(self.spec.code_dir), "--handler", self.spec.handler,
            "--function-name", self.spec.logical_id, "--memory", str(self.spec.memory_mb),
            "--timeout", str(self.spec.timeout_seconds),
            *itertools.chain.from_iterable(("--layer", str(layer)) for layer in self.spec.layer_dirs),
        ]  # fmt: skip
        with self._log_path.open("a", encoding="utf-8") as log:
            log.write(
                f"---- {time.strftime('%Y-%m-%dT%H:%M:%S')} INIT {self.spec.logical_id} #{self.instance}\n"
            )
            log.flush()
            # -m local.function_host needs the project root on the path; the child drops it before importing.
            # S603: argv is sys.executable and our own module with fixed arguments, no shell.
            self._process = subprocess.Popen(  # noqa: S603
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env={
                    **self.environment(),
                    "PYTHONPATH": f"{PROJECT_ROOT}{os.pathsep}{self.environment()['PYTHONPATH']}",
                },
                cwd=PROJECT_ROOT,
                text=True,
                encoding="utf-8",
                start_new_session=True,  # Ctrl-C in a terminal reaches the emulator, which stops its children
            )
        self.cold_starts += 1
        self._lines = queue.Queue()
        threading.Thread(
            target=self._read,
            args=(self._process.stdout, self._lines),
            name=f"{self.spec.logical_id}-out",
            daemon=True,
        ).start()
        self._ready = False

    @staticmethod
    def _read(stream: IO[str] | None, lines: queue.Queue[str | None]) -> None:
        if stream is None:
            return
        with contextlib.suppress(ValueError, OSError):
            for line in stream:
                lines.put(line)
        lines.put(None)  # end of stream: the child exited

    def _next_line(self, deadline: float) -> str | None:
        """The child's next line; None when it died; raises TimeoutError at the deadline and OutOfMemoryError
        when the child's resident memory goes over the function's MemorySize."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            try:
                return self._lines.get(timeout=min(remaining, _MEMORY_SAMPLE_SECONDS))
            except queue.Empty:
                resident = resident_mb(self._process.pid) if self._process is not None else None
                if resident is not None and resident > self.spec.memory_mb:
                    raise OutOfMemoryError(resident) from None

    def invoke(self, event: Any, init_timeout: float = 60.0) -> Invocation:
        """Run the handler on one event, like a synchronous Invoke."""
        with self._lock:
            self.start()
            assert self._process is not None
            assert self._process.stdin is not None
            started, request_id = time.monotonic(), str(uuid.uuid4())
            try:
                if not self._ready:
                    if self._next_line(started + init_timeout) is None:
                        return self._died("the function's environment exited during init (see its log)")
                    self._ready = True
                    started = time.monotonic()
                self._process.stdin.write(json.dumps({"request_id": request_id, "event": event}) + "\n")
                self._process.stdin.flush()
                line = self._next_line(started + self.spec.timeout_seconds)
            except (TimeoutError, OutOfMemoryError) as error:
                return self._killed(error, started, request_id)
            except (BrokenPipeError, OSError):
                return self._died("the function's environment is gone (see its log)")
            if line is None:
                return self._died("the function's environment exited during the invocation (see its log)")
            response = json.loads(line)
            duration_ms = (time.monotonic() - started) * 1000
            if response.get("ok"):
                return Invocation(ok=True, payload=response.get("payload"), duration_ms=duration_ms)
            return Invocation(
                ok=False,
                error_type=response.get("errorType", "Error"),
                error_message=response.get("errorMessage", ""),
                duration_ms=duration_ms,
            )

    def _killed(self, error: TimeoutError | OutOfMemoryError, started: float, request_id: str) -> Invocation:
        """The environment outlived its Timeout or outgrew its MemorySize: Lambda's error, and its END and
        REPORT lines in the log (the environment cannot write them); a new environment next."""
        peak_mb = peak_resident_mb(self._process.pid) if self._process is not None else None
        self.stop()
        duration_ms = (time.monotonic() - started) * 1000
        if isinstance(error, OutOfMemoryError):
            error_type, status = "Runtime.OutOfMemory", "Status: error\tError Type: Runtime.OutOfMemory"
            message = (
                "Runtime exited with error: signal: killed (resident memory "
                f"{error.args[0]:,.0f} MB over MemorySize {self.spec.memory_mb} MB)"
            )
        else:
            error_type, status = "Sandbox.Timedout", "Status: timeout"
            message = f"Task timed out after {self.spec.timeout_seconds:.2f} seconds"
        with self._log_path.open("a", encoding="utf-8") as log:
            log.write(
                f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {request_id} {message}\nEND RequestId: {request_id}\n"
            )
            log.write(report_line(request_id, duration_ms, self.spec.memory_mb, peak_mb, status) + "\n")
        return Invocation(ok=False, error_type=error_type, error_message=message, duration_ms=duration_ms)

    def _died(self, message: str) -> Invocation:
        self.stop()
        return Invocation(ok=False, error_type="Runtime.ExitError", error_message=message)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
            process.terminate()
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=3)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None


class FunctionPool:
    """Up to `max_instances` execution environments of one function; an invocation takes an idle one."""

    def __init__(
        self, spec: FunctionSpec, extra_environment: dict[str, str], log_path: Path, max_instances: int = 1
    ) -> None:
        self.spec = spec
        self._extra_environment = extra_environment
        self._log_path = log_path
        self._max_instances = max(1, max_instances)
        self._hosts: list[FunctionHost] = []
        self._idle: queue.LifoQueue[FunctionHost] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._closed = False

    def prewarm(self, instances: int = 1) -> None:
        for _ in range(min(instances, self._max_instances)):
            host = self._new_host()
            if host is not None:
                host.start()
                self._idle.put(host)

    def _new_host(self) -> FunctionHost | None:
        with self._lock:
            if self._closed or len(self._hosts) >= self._max_instances:
                return None
            host = FunctionHost(self.spec, self._extra_environment, self._log_path)
            self._hosts.append(host)
            return host

    @contextlib.contextmanager
    def _host(self) -> Iterator[FunctionHost]:
        try:
            host = self._idle.get_nowait()
        except queue.Empty:
            host = self._new_host() or self._idle.get()
        try:
            yield host
        finally:
            self._idle.put(host)

    def invoke(self, event: Any) -> Invocation:
        with self._host() as host:
            return host.invoke(event)

    @property
    def pids(self) -> list[int]:
        return [host.pid for host in self._hosts if host.pid is not None]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            hosts = list(self._hosts)
        for host in hosts:
            host.stop()


if __name__ == "__main__":
    main()
