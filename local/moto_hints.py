"""What the emulator's replacements of moto's methods share: per-thread hints and how a replacement is set.

moto answers each request in its own thread, and our replacements of its methods (local/moto_scale.py,
local/moto_answers.py) need to know what the request in progress is doing: which partition a Query reads,
that a transaction is running, that a Query's results need no copy. `hint(...)` sets such values for the
calls made inside it, `hints` reads them (an absent one is unset).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

hints = threading.local()  # per thread: what the moto call in progress needs of the methods it calls


@contextmanager
def hint(**values: Any) -> Iterator[None]:
    """Within: `hints` has these values in this thread; the ones before are put back after."""
    previous = {name: getattr(hints, name, None) for name in values}
    for name, value in values.items():
        setattr(hints, name, value)
    try:
        yield
    finally:
        for name, value in previous.items():
            setattr(hints, name, value)


def wrapped(original: Callable[..., Any], replacement: Callable[..., Any]) -> Callable[..., Any]:
    """`replacement`, named and documented as moto's `original` (what it stands in for)."""
    return wraps(original)(replacement)
