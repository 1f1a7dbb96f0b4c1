"""The emulator's process and Python's garbage collector: what is there at start is put out of its way.

moto keeps every item, object and message as Python objects in this process, beside the modules of
moto, Flask, botocore and the template's resolved names (about 320,000 objects once started, none of them
ever garbage). With the collector's defaults, a 5,000-review upload ran 70 young and 6 middle collections
and one full one, 0.3-0.45 s of the emulator's CPU, the full one (0.17-0.31 s) inside whichever request
happened to allocate last, under the moto server's one-request lock (docs/benchmarks.md, "End to end").

Once started, the emulator collects once and freezes what is left (gc.freeze: those objects are never
scanned again, and never freed, which they would not be anyway), and the young generation is collected every
20,000 allocations instead of 2,000: the same upload then ran 5-7 young collections and no other, about
0.05 s. Objects made later (moto's items) are collected as usual. Nested emulators in one process (tests)
share the setting; the last one to stop restores the collector's own.
"""

from __future__ import annotations

import gc
import threading

YOUNG_THRESHOLD = 20_000  # allocations between young collections (Python's default: 2,000)


class _Collector:
    """How many emulators of this process have settled the heap, and the collector's setting before."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holders = 0
        self.saved_threshold: tuple[int, ...] = ()


_collector = _Collector()


def settle() -> None:
    """The emulator has started: collect, freeze what is left, and collect the young generation less often."""
    with _collector.lock:
        gc.collect()
        gc.freeze()
        if _collector.holders == 0:
            _collector.saved_threshold = gc.get_threshold()
            gc.set_threshold(YOUNG_THRESHOLD, *_collector.saved_threshold[1:])
        _collector.holders += 1


def release() -> None:
    """An emulator has stopped: when it was the last, the frozen objects can be collected again and the
    collector runs as Python set it."""
    with _collector.lock:
        if _collector.holders == 0:
            return
        _collector.holders -= 1
        if _collector.holders == 0:
            gc.unfreeze()
            gc.set_threshold(*_collector.saved_threshold)
