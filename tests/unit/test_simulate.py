"""The arm loop: arrivals, restarts at their boundaries, the drain (shadow/world/arm_loop.py)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, ClassVar

import pytest

from shadow.kernel import FATES, GaugeSource, Group, Kernel, Recorder
from shadow.world.arm_loop import simulate
from shadow.world.environment import REDELIVERY, Environment, EnvironmentSettings, Message, Restart


class SlowEcho:
    """Answers every message after 10 s; remembers which instance took which seq."""

    instances: ClassVar[list[SlowEcho]] = []

    def __init__(
        self, kernel: Kernel, env: Environment, rec: Recorder, gauges: GaugeSource, group: Group
    ) -> None:
        self.kernel, self.rec, self.group = kernel, rec, group
        self.seen: list[tuple[int, int]] = []
        SlowEcho.instances.append(self)

    def on_message(self, message: Message) -> None:
        self.seen.append((self.kernel.now, message.seq))
        self.kernel.spawn(self.answer(message), self.group)

    def answer(self, message: Message) -> Generator[Any, Any, None]:
        self.rec.event("processing_started", message.seq)
        yield 10_000_000
        self.rec.event("reply_sent", message.seq, detail="r")

    def stats(self) -> dict[str, int | float]:
        return {"instances": 1}


def message(seq: int, at_s: float) -> Message:
    return Message(seq, f"m{seq}", "c1", int(at_s * 1_000_000), "h", "n")


@pytest.fixture(autouse=True)
def fresh() -> None:
    SlowEcho.instances.clear()


def fates(run: Any) -> list[str]:
    return [FATES[code] for code in run.recorder.fates()[0]]


def test_a_restart_loses_work_in_flight_and_delays_arrivals_to_its_end() -> None:
    messages = [message(0, 0), message(1, 22), message(2, 30), message(3, 40), message(4, 41)]
    run = simulate(
        SlowEcho,
        messages,
        Environment(EnvironmentSettings(redelivery="burst")),
        len(messages),
        restarts=[Restart(25_000_000, 15_000_000)],
    )
    assert fates(run) == ["answered", "lost", "answered", "answered", "answered"]
    first, second = SlowEcho.instances
    assert first.seen == [(0, 0), (22_000_000, 1)]
    # seq 2 arrived at T=25..40 and seq 3 exactly at T+D: both wait for the fresh instance
    assert second.seen == [(40_000_000, 2), (40_000_000, 3), (41_000_000, 4)]
    assert run.stats["instances"] == 2


def test_an_arrival_exactly_at_the_restart_waits_for_the_new_instance() -> None:
    run = simulate(
        SlowEcho,
        [message(0, 5)],
        Environment(EnvironmentSettings(redelivery="burst")),
        1,
        restarts=[Restart(5_000_000, 1_000_000)],
    )
    assert fates(run) == ["answered"]
    assert SlowEcho.instances[1].seen == [(6_000_000, 0)]


def test_downtime_arrivals_follow_the_cloud_api_retry_schedule_not_one_burst() -> None:
    """Guarantee 5: attempts at +0, +30 s, +90 s, +210 s ... from each webhook's first send."""
    messages = [message(0, 0), message(1, 22), message(2, 30), message(3, 40), message(4, 41)]
    run = simulate(
        SlowEcho,
        messages,
        Environment(EnvironmentSettings()),  # cloud_api is the default
        len(messages),
        restarts=[Restart(25_000_000, 100_000_000)],  # down 25 s .. 125 s
    )
    assert fates(run) == ["answered", "lost", "answered", "answered", "answered"]
    second = SlowEcho.instances[1]
    # seq 2 (30 s): attempts 30, 60, 120 (down), 240 s; seq 3 (40 s): 40, 70, 130 s;
    # seq 4 (41 s): 41, 71, 131 s: three deliveries spread out, not one burst at 125 s
    assert second.seen == [(130_000_000, 3), (131_000_000, 4), (240_000_000, 2)]


def test_redelivery_none_loses_downtime_arrivals_and_evolution_gives_up_after_1215_s() -> None:
    messages = [message(0, 10)]
    restarts = [Restart(5_000_000, 30_000_000)]
    none = simulate(
        SlowEcho,
        messages,
        Environment(EnvironmentSettings(redelivery="none")),
        1,
        restarts=restarts,
    )
    assert fates(none) == ["lost"]
    assert none.recorder.fates()[1] == ["environment.restarts"]
    evolution = REDELIVERY["evolution"]
    assert evolution is not None
    s = 1_000_000
    attempts = [evolution.attempt_at_or_after(0, t * s) for t in (1, 6, 16, 36, 76, 156, 316, 616)]
    assert attempts == [t * s for t in (5, 15, 35, 75, 155, 315, 615, 915)]
    assert evolution.attempt_at_or_after(0, 1215 * s) == 1215 * s
    assert evolution.attempt_at_or_after(0, 1216 * s) is None


def test_the_run_drains_then_strands_what_is_pending() -> None:
    run = simulate(
        SlowEcho, [message(0, 0)], Environment(EnvironmentSettings()), 1, drain=5_000_000
    )
    assert fates(run) == ["stranded"]
    assert run.stopped_at == 5_000_000
