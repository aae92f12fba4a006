"""One arm over one stream: arrivals, restarts and the drain, in virtual time.

This is the loop the runner runs in each worker and the loop model tests drive directly.

Guarantees:

1. Each message is delivered to the model once, at its ``received_at``, after the ``arrived``
   event; messages due at the same instant keep stream order (kernel guarantee 5).
2. A restart ``{at: T, downtime: D}`` stops every coordinator instance of the arm at T (their
   processes and timers never run again), marks every open message ``lost``, and starts fresh
   instances at T + D; messages arriving in ``[T, T + D]`` (both ends: an arrival precedes
   same-instant timers) are delivered at T + D in arrival order, after the fresh instances
   exist, keeping their original ``received_at`` for latency.
3. The run stops ``drain`` µs after the last arrival (or the last restart's end, if later);
   work still pending then is ``stranded``.
4. The result is a pure function of the messages, the factory's settings and the environment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from shadow.kernel import Gauges, GaugeSource, Group, Kernel, Recorder
from shadow.world.environment import Environment, Message, Restart


class Model(Protocol):
    """What every arm's coordinator instance offers the runner."""

    def on_message(self, message: Message) -> None:
        """Take one inbound message at its arrival instant."""

    def stats(self) -> dict[str, int | float]:
        """Counters for ``run.json`` (the layer statistics O9, C8, ...)."""


#: Builds one coordinator instance: (kernel, environment, recorder, gauges, group) -> model.
ModelFactory = Callable[[Kernel, Environment, Recorder, GaugeSource, Group], Model]


@dataclass(slots=True)
class ArmRun:
    """What one arm left behind: the recorder's columns, gauges, stats, and when it stopped."""

    recorder: Recorder
    gauges: Gauges
    stats: dict[str, int | float] = field(default_factory=dict)
    stopped_at: int = 0
    restarts: int = 0


class Router:
    """Sends each message to one of several instances (the rollout arm); default: one instance."""

    def __init__(self, factories: dict[str, ModelFactory], route: Callable[[Message], str]):
        self.factories = factories
        self.route = route


def simulate(
    factory: ModelFactory | Router,
    messages: Sequence[Message] | Iterable[Message],
    environment: Environment,
    size: int,
    *,
    restarts: Sequence[Restart] = (),
    drain: int = 120_000_000,
    gauge_interval: int = 10_000_000,
    capture: Iterable[int] = (),
    on_progress: Callable[[int, int], object] | None = None,
    progress_every: int = 5_000,
) -> ArmRun:
    """Run one arm over ``messages`` (sorted by ``received_at``) and return its record."""
    session = ArmSession(
        factory,
        environment,
        size,
        restarts=restarts,
        drain=drain,
        gauge_interval=gauge_interval,
        capture=capture,
        on_progress=on_progress,
        progress_every=progress_every,
    )
    session.feed(messages)
    return session.finish(size)


class ArmSession:
    """One arm whose kernel stays alive across chunks of messages (``feed`` each chunk, then
    ``finish``): the same run, event for event, as ``simulate`` over their concatenation.

    A chunk's arrivals are delivered and the kernel stops after the last one's microtasks;
    timers due later fire when the next chunk's arrivals (or the drain) come past them, in the
    order one uninterrupted run fires them (kernel guarantees 4 and 5). ``recorder`` is sized
    ``size`` up front; a streaming caller starts it at 0 and grows it as seqs come.
    """

    def __init__(
        self,
        factory: ModelFactory | Router,
        environment: Environment,
        size: int,
        *,
        restarts: Sequence[Restart] = (),
        drain: int = 120_000_000,
        gauge_interval: int = 10_000_000,
        capture: Iterable[int] = (),
        on_progress: Callable[[int, int], object] | None = None,
        progress_every: int = 5_000,
    ) -> None:
        self.kernel = kernel = Kernel()
        self.recorder = Recorder(kernel, size, capture)
        self.gauges = Gauges(kernel, gauge_interval)
        self.router = factory if isinstance(factory, Router) else Router({"": factory}, _one)
        self.environment = environment
        self.restarts = tuple(restarts)
        self.drain = drain
        self.on_progress = on_progress
        self.progress_every = progress_every
        self.instances: dict[str, Model] = {}
        self.groups: list[Group] = []
        self.totals: dict[str, int | float] = {}
        self.down = False
        self.buffered: list[Message] = []
        self.windows = [(r.at, r.at + r.downtime) for r in self.restarts]
        self.delivered = 0
        self.last_arrival = 0
        self._start_instances()
        for planned in self.restarts:
            kernel.call_at(planned.at, partial(self._restart, planned.downtime))

    def _start_instances(self) -> None:
        self.groups.clear()
        for name, make in self.router.factories.items():
            group = Group(name or "arm")
            view = self.gauges.scoped(name) if name else self.gauges
            self.instances[name] = make(self.kernel, self.environment, self.recorder, view, group)
            self.groups.append(group)

    def _deliver(self, message: Message) -> None:
        system = self.router.route(message)
        recorder = self.recorder
        recorder.system_name = system
        recorder.event("arrived", message.seq, "", system)
        self.instances[system].on_message(message)

    def _on_arrival(self, message: Message) -> None:
        # Buffer while the arm is down, and for the whole [T, T + D) window even before the
        # restart's timer ran (an arrival due at T precedes same-instant timers).
        now = self.kernel.now
        if self.down or any(start <= now < end for start, end in self.windows):
            self.buffered.append(message)
        else:
            self._deliver(message)

    def _restart(self, downtime: int) -> None:
        totals = self.totals
        for name, instance in self.instances.items():
            for key, value in instance.stats().items():
                full = f"{name}.{key}" if name else key
                totals[full] = totals.get(full, 0) + value
        for group in self.groups:
            group.stop()
        self.recorder.restart()
        self.down = True
        self.kernel.call_at(self.kernel.now + downtime, self._come_back)

    def _come_back(self) -> None:
        self.down = False
        self._start_instances()
        pending = list(self.buffered)
        self.buffered.clear()
        for message in pending:
            self._deliver(message)

    def _arrivals(self, messages: Iterable[Message]) -> Iterable[tuple[int, Message]]:
        on_progress, every = self.on_progress, self.progress_every
        for message in messages:
            self.last_arrival = message.received_at
            self.delivered += 1
            if on_progress is not None and self.delivered % every == 0:
                on_progress(self.delivered, self.kernel.now)
            yield message.received_at, message

    def feed(self, messages: Iterable[Message]) -> None:
        """Deliver a chunk of messages (sorted by ``received_at``, none before the last fed)."""
        self.kernel.run(None, self._arrivals(messages), self._on_arrival)

    def finish(self, size: int) -> ArmRun:
        """Run the drain (guarantee 3) and return the arm's record; ``size``: seqs in all."""
        restarts_end = max((r.at + r.downtime for r in self.restarts), default=0)
        kernel = self.kernel
        kernel.run(max(self.last_arrival, restarts_end) + self.drain)
        if self.on_progress is not None:
            self.on_progress(size, kernel.now)
        stats = dict(self.totals)
        for name, instance in self.instances.items():
            for key, value in instance.stats().items():
                full = f"{name}.{key}" if name else key
                stats[full] = stats.get(full, 0) + value
        return ArmRun(self.recorder, self.gauges, stats, kernel.now, len(self.restarts))


def _one(_message: Message) -> str:
    return ""
