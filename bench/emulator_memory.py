"""The local emulator's resident memory, sampled: the sum of the RSS of its process, its endpoint's and its
function hosts'; and the CPU time each of those processes used since the last reset."""

from __future__ import annotations

import os
import threading
from types import TracebackType

from local.endpoint_process import EndpointWorkers
from local.function_host import resident_mb
from local.stack import LocalStack

SAMPLE_SECONDS = 0.2
# The names of the emulator's own process and of its endpoint's in the figures (function hosts: "<id> #<n>").
EMULATOR_PROCESS = "emulator (moto, pollers, API)"
ENDPOINT_PROCESS = "SageMaker endpoint"
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """A process's CPU time so far (user + system, Linux /proc); None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS_PER_SECOND  # utime, stime
    except (OSError, ValueError, IndexError):
        return None


class EmulatorMemory:
    """A thread that sums the emulator's processes' resident memory every SAMPLE_SECONDS; `peak_mb` is the
    largest sum seen since the last `reset()` (the function hosts are looked up at each sample, so restarted
    environments count too)."""

    def __init__(self, stack: LocalStack, every_seconds: float = SAMPLE_SECONDS) -> None:
        self._stack = stack
        self._every = every_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="emulator-memory", daemon=True)
        self.peak_mb = 0.0
        self.peak_by_process: dict[str, float] = {}
        self.samples = 0
        self._cpu: dict[str, float] = {}
        self._cpu_at_reset: dict[str, float] = {}

    def __enter__(self) -> EmulatorMemory:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(5)

    def reset(self) -> None:
        self.sample()
        self.peak_mb, self.peak_by_process = 0.0, {}
        self._cpu_at_reset = dict(self._cpu)

    def cpu_by_process(self) -> dict[str, float]:
        """CPU seconds each process used since the last reset (as of the last sample); an execution
        environment started since then counts from its start."""
        return {name: used - self._cpu_at_reset.get(name, 0.0) for name, used in self._cpu.items()}

    def sample(self) -> float:
        """One sample: the emulator's total resident MB now (and the peaks it updates)."""
        processes = {EMULATOR_PROCESS: os.getpid()}
        if isinstance(self._stack.endpoint, EndpointWorkers):
            for number, pid in enumerate(self._stack.endpoint.pids):
                processes[f"{ENDPOINT_PROCESS} #{number + 1}"] = pid
        for function_id, pool in self._stack.pools.items():
            for number, pid in enumerate(pool.pids):
                processes[f"{function_id} #{number + 1}"] = pid
        total = 0.0
        for name, pid in processes.items():
            resident = resident_mb(pid) or 0.0
            total += resident
            used = cpu_seconds(pid)
            if used is not None:
                self._cpu[name] = used
            self.peak_by_process[name] = max(self.peak_by_process.get(name, 0.0), resident)
        self.peak_mb = max(self.peak_mb, total)
        self.samples += 1
        return total

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.sample()
