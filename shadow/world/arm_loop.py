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

from mypy_extensions import mypyc_attr

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


@mypyc_attr(allow_interpreted_subclasses=True)
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


def _one_instance(message: Message) -> str:
    """The route of an arm with one instance (a function, not a lambda: a session pickles)."""
    return ""


@mypyc_attr(allow_interpreted_subclasses=True)
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


@mypyc_attr(allow_interpreted_subclasses=True)
class ArmSession:
    """One arm whose kernel stays alive across chunks of messages (``feed`` each chunk, then
    ``finish``): the same run, event for event, as ``simulate`` over their concatenation.

    A chunk's arrivals are delivered and the kernel stops after the last one's microtasks;
    timers due later fire when the next chunk's arrivals (or the drain) come past them, in the
    order one uninterrupted run fires them (kernel guarantees 4 and 5). ``recorder`` is sized
    ``size`` up front; a streaming caller starts it at 0 and grows it as seqs come.

    Between feeds a session pickles, and the copy runs on as the original would (kernel
    guarantee 13): its event handlers are methods, not closures (``on_progress`` must pickle
    too: None, or a method of an object that does).
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
        kernel = Kernel()
        self.kernel = kernel
        self.recorder = recorder = Recorder(kernel, size, capture)
        self.gauges = Gauges(kernel, gauge_interval)
        self.environment = environment
        self.router = (
            factory if isinstance(factory, Router) else Router({"": factory}, _one_instance)
        )
        self.reference_replies = reference_replies
        self.instances: dict[str, Model] = {}
        self.groups: list[Group] = []
        self.totals: dict[str, int | float] = {}
        self.down = False
        self.buffered: list[Message] = []
        self.withheld: list[int] = []
        self.windows = [(r.at, r.at + r.downtime) for r in self.restarts]
        self.redelivery = environment.settings.redelivery
        self.schedule = REDELIVERY[self.redelivery]
        self.latest_attempt = 0
        self.reactive = environment.settings.users == "reactive"
        self.pacing_max = environment.settings.pacing_max
        self.last_sent: dict[tuple[str, str], int] = {}
        # guarantee 7: what each contact's user last wrote, each message's shift, who waits
        self.anchors: dict[str, Message] = {}
        self.planned: dict[tuple[str, str], int] = {}
        self.shift: dict[int, int] = {}
        self.unsent: dict[int, list[tuple[Message, int]]] = {}  # seq not sent yet -> resends
        self.waiting: dict[int, list[tuple[Message, int]]] = {}  # anchor seq -> (message, gap)
        self.sent_at: dict[int, int] = {}
        self.start_instances()
        for planned_restart in self.restarts:
            kernel.call_at(planned_restart.at, partial(self.restart, planned_restart.downtime))
        if self.reactive:
            recorder.on_first_reply = self.on_first_reply

    # -- the event handlers (methods: a session pickles) ------------------------------------
    def start_instances(self) -> None:
        groups = self.groups
        groups.clear()
        kernel, gauges = self.kernel, self.gauges
        for name, make in self.router.factories.items():
            group = Group(name or "arm")
            view = gauges.scoped(name) if name else gauges
            self.instances[name] = make(kernel, self.environment, self.recorder, view, group)
            groups.append(group)

    def deliver(self, message: Message) -> None:
        system = self.router.route(message)
        recorder = self.recorder
        recorder.system_name = system
        recorder.event("arrived", message.seq, "", system)
        self.instances[system].on_message(message)

    def down_until(self, now: int) -> int | None:
        """When the arm is back, if it is down at ``now`` (or within a planned window)."""
        for start, end in self.windows:
            if start <= now < end:
                return end
        return None

    def retry(self, message: Message, after: int) -> None:
        """Guarantee 5: the gateway's next attempt at ``after`` or later, or the message is
        lost when the gateway gives up first (or never retries)."""
        schedule = self.schedule
        at = None if schedule is None else schedule.attempt_at_or_after(message.received_at, after)
        if at is None:
            system = self.router.route(message)
            recorder = self.recorder
            recorder.system_name = system
            recorder.event("arrived", message.seq, "", system)
            recorder.event("lost", message.seq, "environment.redelivery")
            return
        self.latest_attempt = max(self.latest_attempt, at)
        self.kernel.call_at(at, partial(self.attempt, message))

    def attempt(self, message: Message) -> None:
        now = self.kernel.now
        end = self.down_until(now)
        if end is not None:
            self.retry(message, end)
        elif self.down:  # the bot comes back at this very instant: this attempt fails
            self.retry(message, now + 1)
        else:
            self.deliver(message)

    def send(self, message: Message, at: int) -> None:
        """The user sends ``message`` at ``at`` (not before now)."""
        kernel = self.kernel
        seq = message.seq
        at = max(at, kernel.now)
        self.shift[seq] = at - message.received_at
        if at != message.received_at:
            self.sent_at[seq] = at
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
            self.admit(message)
        else:
            self.latest_attempt = max(self.latest_attempt, at)
            kernel.call_at(at, partial(self.admit, message))
        for resend, delay in self.unsent.pop(seq, ()):
            self.send(resend, at + delay)

    def on_first_reply(self, seq: int) -> None:
        now = self.kernel.now
        for message, gap in self.waiting.pop(seq, ()):
            self.send(message, now + gap)

    def give_up(self, anchor: int, message: Message) -> None:
        """The user waited ``pacing_max`` past the stream time for the reply, and writes."""
        pending = self.waiting.get(anchor)
        if pending is None:
            return
        for index, (queued, _) in enumerate(pending):
            if queued is message:
                del pending[index]
                self.send(message, self.kernel.now)
                return

    def plan(self, message: Message) -> None:
        """Guarantee 7: when this arm's user sends ``message`` (seen at its stream time)."""
        contact = message.contact_id
        key = (contact, message.text_hash)
        shift = self.shift
        if message.repeat_kind == "resend":
            origin = self.planned.get(key)
            if origin is None:
                self.send(message, message.received_at)
            elif origin in shift:
                self.send(message, message.received_at + shift[origin])
            else:  # the original is not sent yet: the resend keeps its delay after it
                self.unsent.setdefault(origin, []).append((message, 0))
            return
        self.planned[key] = message.seq
        anchors = self.anchors
        anchor = anchors.get(contact)
        anchors[contact] = message
        if anchor is None:
            self.send(message, message.received_at)
            return
        replies = self.reference_replies
        reference = anchor.received_at if replies is None else replies.get(anchor.seq)
        gap = None if reference is None else message.received_at - reference
        recorder = self.recorder
        if gap is not None and gap > self.pacing_max:  # a new conversation
            self.send(message, message.received_at)
        elif gap is None or gap < 0:  # written before the reply: paced by the anchor's sending
            if anchor.seq in shift:
                self.send(message, message.received_at + shift[anchor.seq])
            else:
                self.unsent.setdefault(anchor.seq, []).append((message, 0))
        elif recorder.first_reply_at[recorder.row(anchor.seq)] >= 0:
            self.send(message, recorder.first_reply_at[recorder.row(anchor.seq)] + gap)
        else:
            self.waiting.setdefault(anchor.seq, []).append((message, gap))
            until = message.received_at + self.pacing_max
            self.latest_attempt = max(self.latest_attempt, until)
            self.kernel.call_at(until, partial(self.give_up, anchor.seq, message))

    def admit(self, message: Message) -> None:
        recorder = self.recorder
        if self.reactive:  # guarantee 6: the user would not resend what this arm answered
            key = (message.contact_id, message.text_hash)
            if message.repeat_kind == "resend":
                origin = self.last_sent.get(key)
                if origin is not None and recorder.first_reply_at[recorder.row(origin)] >= 0:
                    recorder.event("dropped", message.seq, "environment.users", "users")
                    self.withheld.append(message.seq)
                    return
            self.last_sent[key] = message.seq
        # Buffer while the arm is down, and for the whole [T, T + D) window even before the
        # restart's timer ran (an arrival due at T precedes same-instant timers).
        now = self.kernel.now
        if self.redelivery != "burst":
            end = self.down_until(now)
            if end is not None:
                self.retry(message, end)
                return
            if not self.down:
                self.deliver(message)
                return
        if self.down or any(start <= now < end for start, end in self.windows):
            self.buffered.append(message)
        else:
            self.deliver(message)

    def restart(self, downtime: int) -> None:
        totals = self.totals
        for name, instance in self.instances.items():
            for key, value in instance.stats().items():
                full = f"{name}.{key}" if name else key
                totals[full] = totals.get(full, 0) + value
        for group in self.groups:
            group.stop()
        self.recorder.restart()
        self.down = True
        kernel = self.kernel
        kernel.call_at(kernel.now + downtime, self.come_back)

    def come_back(self) -> None:
        self.down = False
        self.start_instances()
        pending = list(self.buffered)
        self.buffered.clear()
        for message in pending:
            self.deliver(message)

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
        self.kernel.run(None, self._arrivals(messages), self.plan if self.reactive else self.admit)

    def finish(self, size: int) -> ArmRun:
        """Run the drain (guarantee 3) and return the arm's record; ``size``: seqs in all."""
        restarts_end = max((r.at + r.downtime for r in self.restarts), default=0)
        kernel = self.kernel
        stop = max(self.last_arrival, restarts_end, self.latest_attempt) + self.drain
        kernel.run(stop)
        while self.latest_attempt + self.drain > stop:  # a redelivery scheduled in the drain
            stop = self.latest_attempt + self.drain
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
