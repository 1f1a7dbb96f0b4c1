"""A `Type: Schedule` event on the emulator: the rule's Scheduled Event, on its rate or fired at once."""

from __future__ import annotations

import threading
from typing import Any

from local.function_host import Invocation
from local.functions import ScheduleEventSource
from local.pollers import Scheduler

SOURCE = ScheduleEventSource("DeadLetterWatcherFunction", "EveryMinute", 60.0)


def test_given_a_rule_when_fired_then_the_function_gets_eventbridges_scheduled_event_once() -> None:
    # Given a once-a-minute rule whose function fails
    events: list[dict[str, Any]] = []

    def failing(event: dict[str, Any]) -> Invocation:
        events.append(event)
        return Invocation(ok=False)

    scheduler = Scheduler(SOURCE, failing, 60.0)
    # When it is fired now (as the benchmark's warm-up does), without waiting for its rate
    invocation = scheduler.fire()
    # Then the function got one Scheduled Event naming the rule, and the failure is counted
    assert invocation.ok is False
    [event] = events
    assert (event["source"], event["detail-type"], event["detail"]) == ("aws.events", "Scheduled Event", {})
    assert event["resources"] == ["rule/DeadLetterWatcherFunctionEveryMinute"]
    assert (scheduler.stats.batches, scheduler.stats.failed) == (1, 1)


def test_given_a_short_rate_when_started_then_it_fires_on_each_tick_until_stopped() -> None:
    # Given a rule shortened to every 0.05 s
    fired = threading.Event()
    count: list[int] = []

    def invoke(event: dict[str, Any]) -> Invocation:
        count.append(1)
        if len(count) >= 2:
            fired.set()
        return Invocation(ok=True)

    scheduler = Scheduler(SOURCE, invoke, 0.05)
    # When it runs until it has fired twice
    scheduler.start()
    assert fired.wait(10)
    scheduler.stop()
    # Then each tick was an invocation, and none failed
    assert scheduler.stats.batches >= 2
    assert scheduler.stats.failed == 0
