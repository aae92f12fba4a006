"""The kernel's numbered guarantees (shadow/kernel/core.py), one test or more each."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Generator
from typing import Any

import pytest

from shadow.kernel import Event, Group, Kernel


def test_rule1_time_never_goes_backwards() -> None:
    kernel = Kernel()
    kernel.run(10)
    with pytest.raises(ValueError):
        kernel.call_at(5, lambda: None)
    assert kernel.now == 10


def test_rule2_an_event_settles_once() -> None:
    event = Kernel().event()
    event.succeed(1)
    with pytest.raises(RuntimeError):
        event.succeed(2)
    with pytest.raises(RuntimeError):
        event.fail(ValueError())


def test_rule3_continuations_run_before_timers_at_the_same_instant() -> None:
    kernel = Kernel()
    log: list[str] = []
    gate = kernel.event()

    def waiter(name: str) -> Generator[Any, Any, None]:
        yield gate
        log.append(name)

    kernel.spawn(waiter("first waiter"))
    kernel.spawn(waiter("second waiter"))
    kernel.call_at(5, lambda: gate.succeed())
    kernel.call_at(5, lambda: log.append("timer created after"))
    kernel.run(10)
    assert log == ["first waiter", "second waiter", "timer created after"]


def test_rule4_same_instant_timers_fire_in_creation_order() -> None:
    kernel = Kernel()
    log: list[int] = []
    for index in range(50):
        kernel.call_at(7, lambda i=index: log.append(i))
    kernel.run(7)
    assert log == list(range(50))


def test_rule5_arrivals_precede_timers_due_at_the_same_instant() -> None:
    """Rule 5 (kept, issue 19): an arrival runs before a timer due at the same instant, even
    a timer created before the arrival came in: an idle Node 20 loop waits in the poll phase,
    runs the request's callback there and the due timers only after it (docs/architecture.md,
    "Same-instant order")."""
    kernel = Kernel()
    log: list[str] = []
    kernel.call_at(3, lambda: log.append("timer"))
    kernel.run(10, [(3, "a"), (3, "b"), (4, "c")], log.append)
    assert log == ["a", "b", "timer", "c"]


def test_rule6_spawn_runs_up_to_the_first_yield() -> None:
    kernel = Kernel()
    log: list[str] = []

    def process() -> Generator[Any, Any, None]:
        log.append("before await")
        yield 1
        log.append("after await")

    kernel.spawn(process())
    assert log == ["before await"]
    kernel.run(1)
    assert log == ["before await", "after await"]


def test_rule7_any_of_leaves_the_loser_running_and_its_effects_happen() -> None:
    kernel = Kernel()
    effects: list[tuple[int, str]] = []

    def slow_agent() -> Generator[Any, Any, str]:
        yield 20
        effects.append((kernel.now, "late reply sent"))
        return "reply"

    def caller() -> Generator[Any, Any, None]:
        agent = kernel.spawn(slow_agent())
        timer = kernel.timeout(15, "timeout")
        winner = yield kernel.any_of([agent, timer])
        effects.append((kernel.now, "timed out" if winner is timer else "answered"))

    kernel.spawn(caller())
    kernel.run(100)
    assert effects == [(15, "timed out"), (20, "late reply sent")]


def test_rule7_any_of_rejects_when_the_first_to_settle_fails() -> None:
    kernel = Kernel()
    caught: list[str] = []
    failing = kernel.event()
    kernel.call_at(2, lambda: failing.fail(KeyError("boom")))

    def caller() -> Generator[Any, Any, None]:
        try:
            yield kernel.any_of([failing, kernel.timeout(5)])
        except KeyError:
            caught.append("rejected")

    kernel.spawn(caller())
    kernel.run(10)
    assert caught == ["rejected"]


def test_all_of_gathers_in_order_or_fails_first() -> None:
    kernel = Kernel()
    results: list[Any] = []

    def caller() -> Generator[Any, Any, None]:
        values = yield kernel.all_of([kernel.timeout(3, "a"), kernel.timeout(1, "b")])
        results.append((kernel.now, values))

    kernel.spawn(caller())
    kernel.run(10)
    assert results == [(3, ["a", "b"])]


def test_joining_a_process_gets_its_return_value_or_its_exception() -> None:
    kernel = Kernel()
    seen: list[Any] = []

    def child(fail: bool) -> Generator[Any, Any, str]:
        yield 2
        if fail:
            raise LookupError("child failed")
        return "done"

    def parent() -> Generator[Any, Any, None]:
        seen.append((yield kernel.spawn(child(False))))
        try:
            yield kernel.spawn(child(True))
        except LookupError as exc:
            seen.append(str(exc))

    kernel.spawn(parent())
    kernel.run(10)
    assert seen == ["done", "child failed"]


def test_rule8_stopping_a_group_leaves_no_timer_or_process_firing() -> None:
    kernel = Kernel()
    arm = Group("arm")
    fired: list[str] = []

    def worker() -> Generator[Any, Any, None]:
        while True:
            yield 5
            fired.append(f"worker@{kernel.now}")

    kernel.spawn(worker(), arm)
    kernel.every(3, lambda: fired.append(f"periodic@{kernel.now}"), arm)
    kernel.call_at(4, lambda: fired.append("timer@4"), arm)
    kernel.call_at(6, arm.stop)
    kernel.call_at(9, lambda: fired.append("timer@9"), arm)
    kernel.run(100)
    # the stop at 6 was created before the periodic task's second tick (rule 4): it wins
    assert fired == ["periodic@3", "timer@4", "worker@5"]


def test_rule9_an_unobserved_process_failure_crashes_the_run() -> None:
    kernel = Kernel()

    def broken() -> Generator[Any, Any, None]:
        yield 1
        raise ZeroDivisionError

    kernel.spawn(broken())
    with pytest.raises(ZeroDivisionError):
        kernel.run(5)


def test_periodic_tasks_first_fire_one_period_after_start() -> None:
    kernel = Kernel()
    kernel.run(2)
    ticks: list[int] = []
    kernel.every(5, lambda: ticks.append(kernel.now))
    kernel.run(17)
    assert ticks == [7, 12, 17]


def test_awaiting_a_settled_event_still_defers_to_a_microtask() -> None:
    kernel = Kernel()
    log: list[str] = []
    done: Event = kernel.event().succeed("v")

    def process() -> Generator[Any, Any, None]:
        log.append(str((yield done)))

    kernel.spawn(process())
    log.append("sync code after spawn")
    kernel.run(0)
    assert log == ["sync code after spawn", "v"]


def test_run_without_until_stops_after_the_last_arrival() -> None:
    kernel = Kernel()
    log: list[str] = []
    kernel.call_at(2, lambda: log.append("timer@2"))
    kernel.call_at(9, lambda: log.append("timer@9"))
    kernel.run(None, [(5, "arrival@5")], log.append)
    assert log == ["timer@2", "arrival@5"]
    assert kernel.now == 5
    kernel.run(20)
    assert log[-1] == "timer@9"


def test_rule11_instant_end_callbacks_run_after_everything_due_at_the_instant() -> None:
    kernel = Kernel()
    log: list[str] = []
    stopped = Group("stopped")

    def on_arrival(name: str) -> None:
        log.append(name)
        if name == "a":
            kernel.at_instant_end(lambda: log.append("end of 3"))
            kernel.at_instant_end(lambda: log.append("never"), stopped)
            gate = kernel.event()
            gate.add_callback(lambda _e: log.append("microtask"))
            gate.succeed()

    def first_end() -> None:
        log.append("end of 5")
        kernel.call_at(5, lambda: log.append("timer scheduled by the end callback"))

    kernel.call_at(3, lambda: log.append("timer at 3"))
    kernel.call_at(5, lambda: kernel.at_instant_end(first_end))
    kernel.call_at(5, lambda: log.append("later timer at 5"))
    kernel.call_at(6, lambda: log.append("timer at 6"))
    stopped.stop()
    kernel.run(10, [(3, "a"), (3, "b")], on_arrival)
    assert log == [
        "a",
        "microtask",
        "b",
        "timer at 3",
        "end of 3",
        "later timer at 5",
        "end of 5",
        "timer scheduled by the end callback",
        "timer at 6",
    ]
    assert kernel.now == 10


@pytest.mark.parametrize("settle", ["succeed", "fire"])
def test_a_timer_that_fires_an_event_wakes_its_waiters_as_succeed_would(settle: str) -> None:
    kernel = Kernel()
    log: list[str] = []
    event = kernel.event()

    def first(_: Event) -> None:
        log.append("first waiter")
        kernel.event().succeed().add_callback(lambda _e: log.append("microtask of the first"))

    event.add_callback(first)
    event.add_callback(lambda e: log.append(f"second waiter got {e.value}"))
    event.add_callback(lambda e: log.append("third waiter"))
    kernel.schedule(4, getattr(event, settle), "v")
    kernel.call_at(4, lambda: log.append("later timer"))
    kernel.run(10)
    assert log == [
        "first waiter",
        "second waiter got v",
        "third waiter",
        "microtask of the first",
        "later timer",
    ]
    with pytest.raises(RuntimeError):
        event.fire("again")


@pytest.mark.parametrize("settle", ["succeed", "fail", "fire", "fire_failure"])
def test_rule12_a_settled_event_lets_go_of_its_waiters(settle: str) -> None:
    kernel = Kernel()
    event = kernel.event()
    woken: list[bool] = []

    class Waiter:  # holds its event, as the models' waiters do
        def __init__(self) -> None:
            self.event = event

        def settled(self, settled: Event) -> None:
            woken.append(settled.ok)

    waiters = [Waiter() for _ in range(3)]
    for waiter in waiters:
        event.add_callback(waiter.settled)
    alive = [weakref.ref(waiter) for waiter in waiters]
    del waiter, waiters
    value: Any = ValueError("lost") if "fail" in settle else "v"
    kernel.schedule(1, getattr(event, settle), value)
    gc.disable()  # what is freed below is freed by reference counting alone
    try:
        assert all(ref() is not None for ref in alive)  # waiting, they live through the event
        kernel.run(5)
        assert woken == ["fail" not in settle] * 3
        assert all(ref() is None for ref in alive)
    finally:
        gc.enable()
