"""A small discrete-event kernel in integer-microsecond virtual time.

The coordinators being modelled are JavaScript: async functions, promises, timers and
``Promise.race``. This kernel gives generator processes the same semantics, deterministically.

Guarantees (tests cite them by number):

1. Time is an integer number of microseconds. ``Kernel.now`` never goes backwards; scheduling
   in the past raises ``ValueError``.
2. An event settles at most once, with a value (``succeed``) or an exception (``fail``);
   settling it again raises ``RuntimeError``.
3. When an event settles, every waiter is woken in the order it started waiting, and all those
   continuations run before any timer or arrival due at the same instant (JavaScript's
   microtasks run before its macrotasks).
4. Timers due at the same instant fire in the order they were created.
5. Arrivals fed to ``Kernel.run`` count as created when the run began: an arrival due at the
   same instant as a timer is delivered first; arrivals keep their given order. (An idle
   Node ≥ 20 loop runs the poll phase's I/O callbacks before due timers: docs/architecture.md,
   "Same-instant order".)
6. ``spawn`` runs a process synchronously up to its first ``yield``, as calling an async
   function runs up to its first ``await``.
7. ``any_of`` settles like ``Promise.race``: with the first of its events to settle; the losers
   are not cancelled, they run on and their effects happen.
8. ``Group.stop()`` is final: no process of the group resumes again, no timer or periodic task
   of the group fires again. (A restart wipes an arm's coordinators this way.)
9. A process that raises with nobody waiting on it crashes the run (a model bug must not pass
   silently, as an unhandled rejection stops Node).
10. A run is a pure function of its inputs: the kernel reads no clock, holds no random state
    and never iterates over a set.
11. ``at_instant_end`` callbacks run once the clock is about to leave the current instant:
    after every arrival, timer and microtask due at it, in registration order; what they
    schedule for the same instant still runs before the clock moves.
12. A settled event holds no reference to its waiters, so a waiter that holds its event makes
    no reference cycle: a run leaves its garbage to reference counting, not to the collector.
13. A kernel stopped between runs pickles with everything it holds (timers, microtasks,
    periodic tasks, groups), provided their callbacks do (bound methods, ``functools.partial``,
    no closures; no process is left mid-generator); the copy runs on exactly as the original
    would (what ``shadow watch`` checkpoints).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from heapq import heappop, heappush
from itertools import count
from typing import Any

from mypy_extensions import mypyc_attr

#: A process: a generator that yields a delay in microseconds (int) or an Event to wait for.
ProcessGenerator = Generator[Any, Any, Any]

_INFINITY = 1 << 62


@mypyc_attr(allow_interpreted_subclasses=True)
class Group:
    """Processes, timers and periodic tasks that stop together (one coordinator instance)."""

    __slots__ = ("alive", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.alive = True

    def stop(self) -> None:
        """Stop every process and timer of the group for good (guarantee 8)."""
        self.alive = False

    def __repr__(self) -> str:
        return f"Group({self.name!r}, alive={self.alive})"


@mypyc_attr(allow_interpreted_subclasses=True)
class Event:
    """A promise: settles once, wakes every waiter in order (guarantees 2 and 3)."""

    # The first waiter has a slot of its own: almost every event has exactly one.
    __slots__ = ("_first", "_more", "kernel", "ok", "settled", "value")

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._first: Callable[[Event], None] | None = None
        self._more: list[Callable[[Event], None]] | None = None
        self.settled = False
        self.ok = True
        self.value: Any = None

    def succeed(self, value: Any = None) -> Event:
        """Resolve with ``value``; wakes the waiters as microtasks."""
        self._settle(True, value)
        return self

    def fail(self, exc: BaseException) -> Event:
        """Reject with ``exc``; each waiter gets it raised at its ``yield``."""
        self._settle(False, exc)
        return self

    def _settle(self, ok: bool, value: Any) -> None:
        if self.settled:
            raise RuntimeError("an event settles only once")
        self.settled = True
        self.ok = ok
        self.value = value
        first = self._first
        if first is not None:
            self._first = None  # guarantee 12
            ready = self.kernel._ready
            ready.append((first, self))
            more = self._more
            if more is not None:
                self._more = None
                for callback in more:
                    ready.append((callback, self))

    def fire(self, value: Any) -> None:
        """``succeed`` as the whole of a timer: the waiters run at once, in order.

        The same order as ``succeed`` and its microtasks: a timer starts with no microtask
        pending (the run drains them first) and does nothing after settling, so the waiters
        would have been the next microtasks anyway, ahead of any they queue.
        """
        self._settle_now(True, value)

    def fire_failure(self, exc: BaseException) -> None:
        """``fail`` as the whole of a timer (see ``fire``)."""
        self._settle_now(False, exc)

    def _settle_now(self, ok: bool, value: Any) -> None:
        # ``_settle``'s bookkeeping written out again, not shared: both run per message
        if self.settled:
            raise RuntimeError("an event settles only once")
        self.settled = True
        self.ok = ok
        self.value = value
        first = self._first
        if first is not None:
            more = self._more
            self._first = self._more = None  # guarantee 12
            first(self)
            if more is not None:
                for callback in more:
                    callback(self)

    def add_callback(self, callback: Callable[[Event], None]) -> None:
        """Call ``callback(self)`` once settled (as a microtask, even if settled already)."""
        if self.settled:
            self.kernel._ready.append((callback, self))
        elif self._first is None:
            self._first = callback
        elif self._more is None:
            self._more = [callback]
        else:
            self._more.append(callback)


@mypyc_attr(allow_interpreted_subclasses=True)
class Process(Event):
    """A generator driven by the kernel; as an event it settles with the generator's result."""

    __slots__ = ("_generator", "group")

    def __init__(self, kernel: Kernel, generator: ProcessGenerator, group: Group) -> None:
        # Event.__init__ inlined: a process is created per message on the hot path.
        self.kernel = kernel
        self._first = None
        self._more = None
        self.settled = False
        self.ok = True
        self.value = None
        self._generator = generator
        self.group = group

    def _resume(self, event: Event | None) -> None:
        if not self.group.alive:
            return
        generator = self._generator
        try:
            if event is None:
                target = generator.send(None)
            elif event.ok:
                target = generator.send(event.value)
            else:
                target = generator.throw(event.value)
        except StopIteration as stop:
            self.succeed(stop.value)
            return
        except Exception as exc:
            if self._first is None:
                raise  # guarantee 9
            self.fail(exc)
            return
        if type(target) is int:
            kernel = self.kernel
            if target < 0:
                raise ValueError(f"a process cannot sleep a negative time ({target} µs)")
            heappush(
                kernel._heap,
                (kernel.now + target, next(kernel._sequence), self._resume, None, self.group),
            )
        elif isinstance(target, Event):
            target.add_callback(self._resume)
        else:
            raise TypeError(f"a process yields a delay (int µs) or an Event, not {target!r}")


@mypyc_attr(allow_interpreted_subclasses=True)
class _Every:
    """One periodic task (``Kernel.every``): an object, not a closure, so a kernel pickles."""

    __slots__ = ("fn", "group", "kernel", "period")

    def __init__(
        self, kernel: Kernel, period: int, fn: Callable[[], None], group: Group | None
    ) -> None:
        self.kernel = kernel
        self.period = period
        self.fn = fn
        self.group = group

    def __call__(self, _: Any) -> None:
        self.fn()
        kernel = self.kernel
        kernel.schedule(kernel.now + self.period, self, None, self.group)


@mypyc_attr(allow_interpreted_subclasses=True)
class Kernel:
    """Virtual clock, timer heap and microtask queue. See the module docstring for the rules."""

    def __init__(self) -> None:
        self.now = 0
        self._ready: deque[tuple[Callable[[Any], object], Any]] = deque()
        self._heap: list[tuple[int, int, Callable[[Any], object], Any, Group]] = []
        self._sequence = count(1)  # creation order of timers (guarantee 4)
        self._instant_end: list[tuple[Callable[[], None], Group]] = []
        self.root = Group("root")

    def __getstate__(self) -> dict[str, Any]:
        """Guarantee 13: the whole state, the timer counter as the number it will give next
        (``itertools.count`` pickles only with a deprecation warning)."""
        created = int(repr(self._sequence)[len("count(") : -1])
        return {
            "now": self.now,
            "ready": self._ready,
            "heap": self._heap,
            "created": created,
            "instant_end": self._instant_end,
            "root": self.root,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.now = state["now"]
        self._ready = state["ready"]
        self._heap = state["heap"]
        self._sequence = count(state["created"])
        self._instant_end = state["instant_end"]
        self.root = state["root"]

    # -- scheduling -------------------------------------------------------------------------
    def schedule(
        self, at: int, fn: Callable[[Any], object], arg: Any = None, group: Group | None = None
    ) -> None:
        """Call ``fn(arg)`` at virtual time ``at`` unless ``group`` was stopped (a timer)."""
        if at < self.now:
            raise ValueError(f"cannot schedule at {at} µs, before now ({self.now} µs)")
        heappush(self._heap, (at, next(self._sequence), fn, arg, group or self.root))

    def call_at(self, at: int, fn: Callable[[], None], group: Group | None = None) -> None:
        """Run ``fn()`` at virtual time ``at`` (a timer: guarantee 4)."""
        self.schedule(at, _call, fn, group)

    def at_instant_end(self, fn: Callable[[], None], group: Group | None = None) -> None:
        """Call ``fn()`` when this instant is over, unless ``group`` was stopped (guarantee 11)."""
        self._instant_end.append((fn, group or self.root))

    def event(self) -> Event:
        return Event(self)

    def timeout(self, delay: int, value: Any = None, group: Group | None = None) -> Event:
        """An event that succeeds with ``value`` after ``delay`` µs."""
        event = Event(self)
        self.schedule(self.now + delay, event.fire, value, group)
        return event

    def spawn(self, generator: ProcessGenerator, group: Group | None = None) -> Process:
        """Start a process now, running it up to its first yield (guarantee 6)."""
        process = Process(self, generator, group or self.root)
        process._resume(None)
        return process

    def every(self, period: int, fn: Callable[[], None], group: Group | None = None) -> None:
        """Call ``fn()`` at ``now + period``, then every ``period``, while the group lives."""
        if period <= 0:
            raise ValueError("a periodic task needs a positive period")
        tick = _Every(self, period, fn, group)
        self.schedule(self.now + period, tick, None, group)

    def any_of(self, events: Sequence[Event]) -> Event:
        """``Promise.race``: settles as the first event settles; its value is that event."""
        race = Event(self)

        def on_settle(event: Event) -> None:
            if race.settled:
                return
            if event.ok:
                race.succeed(event)
            else:
                race.fail(event.value)

        for event in events:
            event.add_callback(on_settle)
        return race

    def all_of(self, events: Sequence[Event]) -> Event:
        """``Promise.all``: the list of values, or the first failure."""
        gathered = Event(self)
        values: list[Any] = [None] * len(events)
        pending = [len(events)]
        if not events:
            return gathered.succeed([])

        def make(index: int) -> Callable[[Event], None]:
            def on_settle(event: Event) -> None:
                if gathered.settled:
                    return
                if not event.ok:
                    gathered.fail(event.value)
                    return
                values[index] = event.value
                pending[0] -= 1
                if pending[0] == 0:
                    gathered.succeed(values)

            return on_settle

        for index, event in enumerate(events):
            event.add_callback(make(index))
        return gathered

    # -- running ----------------------------------------------------------------------------
    def run(
        self,
        until: int | None,
        arrivals: Iterable[tuple[int, Any]] = (),
        on_arrival: Callable[[Any], object] | None = None,
    ) -> None:
        """Run until virtual time ``until`` (inclusive), delivering ``arrivals`` on the way.

        ``arrivals`` yields ``(time, payload)`` in non-decreasing time; each payload is passed
        to ``on_arrival`` at its time (guarantee 5). On return ``now == until``. With ``until``
        None, the run returns once the last arrival was delivered and its microtasks ran
        (timers due at that instant stay pending for the next ``run``).
        """
        ready = self._ready
        heap = self._heap
        instant_end = self._instant_end
        feed: Iterator[tuple[int, Any]] = iter(arrivals)
        next_arrival = next(feed, None)
        arrival_at = next_arrival[0] if next_arrival is not None else _INFINITY
        while True:
            while ready:
                fn, arg = ready.popleft()
                fn(arg)
            if until is None and next_arrival is None:
                return
            timer_at = heap[0][0] if heap else _INFINITY
            if instant_end and min(arrival_at, timer_at) > self.now:  # guarantee 11
                ending = instant_end[:]
                instant_end.clear()
                for end, group in ending:
                    if group.alive:
                        end()
                continue  # what they scheduled now runs before the clock moves
            if arrival_at <= timer_at:
                if until is not None and arrival_at > until:
                    break
                if arrival_at < self.now:
                    raise ValueError("arrivals must come in non-decreasing time")
                self.now = arrival_at
                assert next_arrival is not None and on_arrival is not None
                on_arrival(next_arrival[1])
                next_arrival = next(feed, None)
                arrival_at = next_arrival[0] if next_arrival is not None else _INFINITY
            else:
                if until is not None and timer_at > until:
                    break
                at, _, fn, arg, group = heappop(heap)
                if not group.alive:
                    continue
                self.now = at
                fn(arg)
        if until is not None and until > self.now:
            self.now = until


def _call(fn: Callable[[], None]) -> None:
    fn()
