"""local/heap.py: the emulator puts what exists at its start out of the collector's way, and gives it back."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from local import heap


@pytest.fixture(autouse=True)
def collector_as_python_sets_it() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    while heap._collector.holders:
        heap.release()
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_a_settled_heap_is_frozen_and_collects_young_objects_less_often() -> None:
    # Given the collector as Python sets it, and objects alive now
    threshold = gc.get_threshold()
    alive = [[n] for n in range(1_000)]
    # When the emulator has started
    heap.settle()
    # Then those objects are frozen (never scanned), and young collections come every YOUNG_THRESHOLD
    assert gc.get_freeze_count() >= len(alive)
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, *threshold[1:])


def test_the_last_emulator_to_stop_gives_the_collector_back() -> None:
    # Given two emulators started in one process (as tests do)
    threshold = gc.get_threshold()
    heap.settle()
    heap.settle()
    # When the first stops, the setting holds for the other; when the second stops, it is Python's again
    heap.release()
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
    heap.release()
    assert gc.get_threshold() == threshold
    assert gc.get_freeze_count() == 0
    # And a stop too many changes nothing
    heap.release()
    assert gc.get_threshold() == threshold
