"""The REPORT line's Max Memory Used is the environment's own high-water mark (local/lambda_context.py)."""

from __future__ import annotations

import subprocess
import sys
import time

from local.lambda_context import peak_resident_mb
from local.template import PROJECT_ROOT

CHILD = "from local.lambda_context import peak_resident_mb; print(peak_resident_mb())"


def test_given_memory_written_when_the_peak_is_read_then_it_counts_it() -> None:
    # Given a fresh interpreter (this one's peak may be far above what it holds now) that writes 200 MB
    code = (
        f"{CHILD}\nheld = bytearray(200 << 20)\nheld[::4096] = b'x' * len(held[::4096])\n"
        "print(peak_resident_mb())"
    )
    answer = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    # Then its peak after is at least 150 MB above its peak before
    before, after = map(int, answer.stdout.split())
    assert after >= before + 150


def test_given_a_big_parent_when_a_child_reads_its_peak_then_it_is_the_child_s_own() -> None:
    # Given this process holds 300 MB more than a fresh interpreter
    held = bytearray(300 << 20)
    held[::4096] = b"x" * len(held[::4096])
    # When a child it starts (as the emulator starts a function's environment) reads its own peak
    answer = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    # Then the child's peak is a fresh interpreter's, not the parent's kept across exec (getrusage's maxrss)
    assert 0 < int(answer.stdout) < 200 < (peak_resident_mb() or 0)
    assert len(held) == 300 << 20


def test_given_another_process_when_its_peak_is_read_then_it_is_that_process_s() -> None:
    # Given a child that holds 150 MB until told to exit
    code = (
        "import sys\nheld = bytearray(150 << 20)\nheld[::4096] = b'x' * len(held[::4096])\nsys.stdin.read()"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, text=True)
    try:
        # When its peak is read from this process while it holds the memory (as the emulator reads a timed-out
        # environment's before it kills it)
        deadline = time.monotonic() + 30
        while (peak := peak_resident_mb(child.pid) or 0) < 150 and time.monotonic() < deadline:
            time.sleep(0.05)
        # Then it is the child's peak
        assert 150 <= peak < 400
    finally:
        child.communicate("")
