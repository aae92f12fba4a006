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
3. The run stops ``drain`` µs after the last arrival (or the last restart's end, or the last
   redelivery attempt, if later); work still pending then is ``stranded``.
5. Guarantee 2's burst is ``environment.redelivery: burst``. With a gateway's retry schedule
   (``cloud_api``, the default, or ``evolution``) a message arriving in a down window is
   delivered at the schedule's first attempt (counted from its ``received_at``) that finds the
   arm up; an attempt at the instant the arm comes back fails. With ``none``, or when the
   gateway gives up first, the message is ``lost`` (event rule ``environment.redelivery``).
4. The result is a pure function of the messages, the factory's settings and the environment.
6. ``environment.users: reactive`` (default ``open``: every message is delivered as given):
   a message marked ``resend`` is withheld (fate ``dropped``, rule ``environment.users``,
   listed in ``ArmRun.withheld``) when this arm had already replied to the contact's previous
   sent message with the same text by the resend's arrival: the user saw the reply and did
   not resend. The filter runs as the arm advances, on the arm's own replies.
7. Reactive pacing (docs/models.md, Users). Each contact's message that is not a resend has as its
   anchor the contact's previous such message; its gap is its stream time minus the
   reference reply to the anchor (``reference_replies``, the capture's recorded reply, or the
   anchor's own time when there is none: a generated user's think time counts from the
   reply). With ``0 <= gap <= pacing_max`` the user sends it ``gap`` after this arm's first
   reply to the anchor (never earlier than its stream time: a faster arm's users are not
   pulled ahead), waiting for that reply at most until ``pacing_max`` after its stream time,
   then sending anyway. A negative gap (written before the reply) keeps its delay after the
   anchor's sending; a gap above ``pacing_max`` is a new conversation and keeps its time. A
   resend keeps its delay after its original's sending. Messages sent at another time than
   the stream's are listed in ``ArmRun.sent_at`` and reach the model with that
   ``received_at``; the same inputs give the same derived stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from shadow.kernel import Gauges, GaugeSource, Group, Kernel, Recorder
from shadow.world.environment import REDELIVERY, Environment, Message, Restart


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
    #: ``environment.users: reactive``: the resends this arm's users did not send
    withheld: list[int] = field(default_factory=list)
    #: ``environment.users: reactive``: seq -> when this arm's user sent it, where that
    #: differs from the stream's ``received_at`` (guarantee 7)
    sent_at: dict[int, int] = field(default_factory=dict)


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
    reference_replies: Mapping[int, int] | None = None,
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
        reference_replies=reference_replies,
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
        reference_replies: Mapping[int, int] | None = None,
    ) -> None:
        self.restarts = tuple(restarts)
        self.drain = drain
        self.on_progress = on_progress
        self.progress_every = progress_every
        self.delivered = 0
        self.last_arrival = 0
        self._setup(factory, environment, size, capture, gauge_interval, reference_replies)

    def _setup(
        self,
        factory: ModelFactory | Router,
        environment: Environment,
        size: int,
        capture: Iterable[int],
        gauge_interval: int,
        reference_replies: Mapping[int, int] | None,
    ) -> None:
        """The arm's state and its event handlers (closures over that state)."""
        restarts = self.restarts
        kernel = Kernel()
        recorder = Recorder(kernel, size, capture)
        gauges = Gauges(kernel, gauge_interval)
        router = factory if isinstance(factory, Router) else Router({"": factory}, lambda _m: "")
        instances: dict[str, Model] = {}
        groups: list[Group] = []
        totals: dict[str, int | float] = {}
        down = [False]
        buffered: list[Message] = []
        withheld: list[int] = []

        def start_instances() -> None:
            groups.clear()
            for name, make in router.factories.items():
                group = Group(name or "arm")
                view = gauges.scoped(name) if name else gauges
                instances[name] = make(kernel, environment, recorder, view, group)
                groups.append(group)

        def deliver(message: Message) -> None:
            system = router.route(message)
            recorder.system_name = system
            recorder.event("arrived", message.seq, "", system)
            instances[system].on_message(message)

        windows = [(r.at, r.at + r.downtime) for r in restarts]
        redelivery = environment.settings.redelivery
        schedule = REDELIVERY[redelivery]
        latest_attempt = [0]

        def down_until(now: int) -> int | None:
            """When the arm is back, if it is down at ``now`` (or within a planned window)."""
            for start, end in windows:
                if start <= now < end:
                    return end
            return None

        def retry(message: Message, after: int) -> None:
            """Guarantee 5: the gateway's next attempt at ``after`` or later, or the message is
            lost when the gateway gives up first (or never retries)."""
            at = (
                None
                if schedule is None
                else schedule.attempt_at_or_after(message.received_at, after)
            )
            if at is None:
                system = router.route(message)
                recorder.system_name = system
                recorder.event("arrived", message.seq, "", system)
                recorder.event("lost", message.seq, "environment.redelivery")
                return
            latest_attempt[0] = max(latest_attempt[0], at)
            kernel.call_at(at, partial(attempt, message))

        def attempt(message: Message) -> None:
            now = kernel.now
            end = down_until(now)
            if end is not None:
                retry(message, end)
            elif down[0]:  # the bot comes back at this very instant: this attempt fails
                retry(message, now + 1)
            else:
                deliver(message)

        reactive = environment.settings.users == "reactive"
        pacing_max = environment.settings.pacing_max
        last_sent: dict[tuple[str, str], int] = {}
        # guarantee 7: what each contact's user last wrote, each message's shift, who waits
        anchors: dict[str, Message] = {}
        planned: dict[tuple[str, str], int] = {}
        shift: dict[int, int] = {}
        unsent: dict[int, list[tuple[Message, int]]] = {}  # seq not sent yet -> its resends
        waiting: dict[int, list[tuple[Message, int]]] = {}  # anchor seq -> (message, gap)
        sent_at: dict[int, int] = {}

        def send(message: Message, at: int) -> None:
            """The user sends ``message`` at ``at`` (not before now)."""
            seq = message.seq
            at = max(at, kernel.now)
            shift[seq] = at - message.received_at
            if at != message.received_at:
                sent_at[seq] = at
                message = Message(
                    seq,
                    message.message_id,
                    message.contact_id,
                    at,
                    message.text_hash,
                    message.text_norm_hash,
                    message.type,
                    message.topic,
                    message.repeat_kind,
                )
            if at <= kernel.now:
                admit(message)
            else:
                latest_attempt[0] = max(latest_attempt[0], at)
                kernel.call_at(at, partial(admit, message))
            for resend, delay in unsent.pop(seq, ()):
                send(resend, at + delay)

        def on_first_reply(seq: int) -> None:
            now = kernel.now
            for message, gap in waiting.pop(seq, ()):
                send(message, now + gap)

        def give_up(anchor: int, message: Message) -> None:
            """The user waited ``pacing_max`` past the stream time for the reply, and writes."""
            pending = waiting.get(anchor)
            if pending is None:
                return
            for index, (queued, _) in enumerate(pending):
                if queued is message:
                    del pending[index]
                    send(message, kernel.now)
                    return

        def plan(message: Message) -> None:
            """Guarantee 7: when this arm's user sends ``message`` (seen at its stream time)."""
            contact = message.contact_id
            key = (contact, message.text_hash)
            if message.repeat_kind == "resend":
                origin = planned.get(key)
                if origin is None:
                    send(message, message.received_at)
                elif origin in shift:
                    send(message, message.received_at + shift[origin])
                else:  # the original is not sent yet: the resend keeps its delay after it
                    unsent.setdefault(origin, []).append((message, 0))
                return
            planned[key] = message.seq
            anchor = anchors.get(contact)
            anchors[contact] = message
            if anchor is None:
                send(message, message.received_at)
                return
            reference = (
                anchor.received_at
                if reference_replies is None
                else reference_replies.get(anchor.seq)
            )
            gap = None if reference is None else message.received_at - reference
            if gap is not None and gap > pacing_max:  # a new conversation
                send(message, message.received_at)
            elif gap is None or gap < 0:  # written before the reply: paced by the anchor's sending
                if anchor.seq in shift:
                    send(message, message.received_at + shift[anchor.seq])
                else:
                    unsent.setdefault(anchor.seq, []).append((message, 0))
            elif recorder.first_reply_at[recorder.row(anchor.seq)] >= 0:
                send(message, recorder.first_reply_at[recorder.row(anchor.seq)] + gap)
            else:
                waiting.setdefault(anchor.seq, []).append((message, gap))
                until = message.received_at + pacing_max
                latest_attempt[0] = max(latest_attempt[0], until)
                kernel.call_at(until, partial(give_up, anchor.seq, message))

        def admit(message: Message) -> None:
            if reactive:  # guarantee 6: the user would not resend what this arm already answered
                key = (message.contact_id, message.text_hash)
                if message.repeat_kind == "resend":
                    origin = last_sent.get(key)
                    if origin is not None and recorder.first_reply_at[recorder.row(origin)] >= 0:
                        recorder.event("dropped", message.seq, "environment.users", "users")
                        withheld.append(message.seq)
                        return
                last_sent[key] = message.seq
            # Buffer while the arm is down, and for the whole [T, T + D) window even before the
            # restart's timer ran (an arrival due at T precedes same-instant timers).
            now = kernel.now
            if redelivery != "burst":
                end = down_until(now)
                if end is not None:
                    retry(message, end)
                    return
                if not down[0]:
                    deliver(message)
                    return
            if down[0] or any(start <= now < end for start, end in windows):
                buffered.append(message)
            else:
                deliver(message)

        def restart(downtime: int) -> None:
            for name, instance in instances.items():
                for key, value in instance.stats().items():
                    totals[f"{name}.{key}" if name else key] = (
                        totals.get(f"{name}.{key}" if name else key, 0) + value
                    )
            for group in groups:
                group.stop()
            recorder.restart()
            down[0] = True
            kernel.call_at(kernel.now + downtime, come_back)

        def come_back() -> None:
            down[0] = False
            start_instances()
            pending = list(buffered)
            buffered.clear()
            for message in pending:
                deliver(message)

        start_instances()
        for planned_restart in restarts:
            kernel.call_at(planned_restart.at, partial(restart, planned_restart.downtime))
        if reactive:
            recorder.on_first_reply = on_first_reply
        self.kernel, self.recorder, self.gauges = kernel, recorder, gauges
        self.instances, self.totals = instances, totals
        self.reactive, self.withheld, self.sent_at = reactive, withheld, sent_at
        self.latest_attempt = latest_attempt
        self.entry = plan if reactive else admit

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
        self.kernel.run(None, self._arrivals(messages), self.entry)

    def finish(self, size: int) -> ArmRun:
        """Run the drain (guarantee 3) and return the arm's record; ``size``: seqs in all."""
        restarts_end = max((r.at + r.downtime for r in self.restarts), default=0)
        kernel = self.kernel
        latest_attempt = self.latest_attempt
        stop = max(self.last_arrival, restarts_end, latest_attempt[0]) + self.drain
        kernel.run(stop)
        while latest_attempt[0] + self.drain > stop:  # a redelivery scheduled during the drain
            stop = latest_attempt[0] + self.drain
            kernel.run(stop)
        if self.on_progress is not None:
            self.on_progress(size, kernel.now)
        stats = dict(self.totals)
        for name, instance in self.instances.items():
            for key, value in instance.stats().items():
                full = f"{name}.{key}" if name else key
                stats[full] = stats.get(full, 0) + value
        if self.reactive:
            stats["users.withheld"] = len(self.withheld)
            stats["users.paced"] = len(self.sent_at)
        return ArmRun(
            self.recorder,
            self.gauges,
            stats,
            kernel.now,
            len(self.restarts),
            self.withheld,
            self.sent_at,
        )
