"""What the Lambda runtime gives a handler and writes around it: the context object, the error shape, and the
START, END and REPORT log lines (the child side of local/function_host.py)."""

from __future__ import annotations

import math
import os
import resource
import sys
import time
import traceback
from typing import Any

from local.xray import TRACE_HEADER_ENV, new_trace_header


class LambdaContext:
    """The attributes of Lambda's context object that Powertools and handlers read."""

    def __init__(self, function_name: str, memory_mb: int, timeout_seconds: int, region: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = ""
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._timeout_seconds = timeout_seconds
        self._deadline = 0.0

    def start(self, request_id: str) -> None:
        self.aws_request_id = request_id
        self._deadline = time.monotonic() + self._timeout_seconds
        os.environ[TRACE_HEADER_ENV] = new_trace_header()  # Lambda, tracing Active: a trace per invocation

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def error_response(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """Lambda's shape of a failed invocation."""
    return {
        "ok": False,
        "errorType": error_type or type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_exception(error),
    }


def peak_resident_mb(pid: int | None = None) -> int | None:
    """A process's resident high-water mark in MB (this one's by default): VmHWM on Linux. Not getrusage's
    ru_maxrss there, which keeps the high-water mark of the process that forked this one across exec (a
    function host started by a 2.8 GB emulator reported 2,888 MB). None for another process without /proc."""
    try:
        with open(f"/proc/{pid or 'self'}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024  # kB
    except OSError:
        pass
    if pid is not None:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 2**20 if sys.platform == "darwin" else peak // 2**10  # bytes on macOS, KiB elsewhere


def report_line(
    request_id: str, duration_ms: float, memory_size_mb: int, max_used_mb: int | None, status: str = ""
) -> str:
    """Lambda's REPORT log line; Max Memory Used is the environment's resident high-water mark so far, and
    `status` what Lambda adds for an invocation it ended ("timeout", or "error" with the error type)."""
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {math.ceil(duration_ms)} ms",
        f"Memory Size: {memory_size_mb} MB",
    ]
    if max_used_mb is not None:
        fields.append(f"Max Memory Used: {max_used_mb} MB")
    if status:
        fields.append(status)
    return "\t".join(fields)
