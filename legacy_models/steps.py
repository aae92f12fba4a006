"""The agent call and the one-attempt send that the legacy layers' processors are made of.

A *processor* is what a layer calls with the lock held. Every processor here reports its end
through a ``done(resolved)`` callback: ``True`` when it resolved and ``False`` when it rejected:
an agent ``error``, or a ``hang`` once ``client_timeout`` ends it (the settle table of
docs/models.md). Rejections are values, not exceptions, so a batch's failure costs no traceback.

The steps are plain callbacks on the kernel's events, not generator processes: each callback
is registered exactly where the process would have waited on the same event, so it runs as the
same microtask, in the same order (kernel guarantee 3), and is skipped once the group stopped
(kernel guarantee 8), as a process resumption would be.

Guarantees:

1. Every agent call emits ``processing_started`` with the batch's seqs (sorted, the call key) at
   the call instant, and ``agent_hang`` at the same instant when the drawn outcome is ``hang``.
2. An agent failure emits ``agent_error`` (rule ``environment.agent``) for every member and
   nothing is sent.
3. The single-layer arms send through the sender once: ``send_attempt``, then ``reply_sent``
   (detail: the reply text hash) or ``send_failed`` (rule ``environment.sender``). No retry, no
   de-duplication.
4. ``done`` is called exactly once per call (unless the group stopped or a hang never settles),
   after the delivery step finished: ``done(True)`` when the agent answered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from mypy_extensions import mypyc_attr

from shadow.kernel import Event, Group, Kernel, Recorder
from shadow.world import AgentCall, AgentError, Environment, Message

#: How a processor (or a delivery step) reports its end: ``done(resolved)``.
Done = Callable[[bool], object]
#: What a reply goes through once the agent answered: (contact, reply hash, seqs = the call
#: key, done) -> None; it calls ``done(True)`` once the reply was sent, failed or given up.
Deliver = Callable[[str, str, tuple[int, ...], Done], None]

AGENT_RULE = "environment.agent"
SENDER_RULE = "environment.sender"


Key = TypeVar("Key")


def drop_expired(recorded_at: dict[Key, int], now: int, window: int) -> None:
    """A periodic sweep (C7, R3): forget every key recorded ``window`` or more ago."""
    for key in [k for k, at in recorded_at.items() if now - at >= window]:
        del recorded_at[key]


@mypyc_attr(allow_interpreted_subclasses=True)
class AgentSteps:
    """Agent call, then a delivery step (``deliver``; default: one send attempt)."""

    __slots__ = ("deliver", "env", "group", "kernel", "layer", "rec")

    def __init__(
        self,
        kernel: Kernel,
        env: Environment,
        rec: Recorder,
        group: Group,
        layer: str,
        deliver: Deliver | None = None,
    ) -> None:
        self.kernel = kernel
        self.env = env
        self.rec = rec
        self.group = group
        self.layer = layer
        self.deliver: Deliver = deliver or self.send_once

    def process(self, members: Sequence[Message]) -> Event:
        """The processor as a promise: an event settling True/False."""
        done = Event(self.kernel)
        self.call(members, done.succeed)
        return done

    def call(self, members: Sequence[Message], done: Done) -> None:
        """Call the agent on ``members`` now, hand its reply to ``deliver``, then ``done``."""
        call = self.env.agent_call(self.kernel, members)
        seqs = call.key
        rec = self.rec
        rec.event("processing_started", seqs, "", self.layer)
        if call.outcome == "hang":
            rec.event("agent_hang", seqs, AGENT_RULE, self.layer)
        call.event.add_callback(_Answer(self, call, members[0].contact_id, done).settled)

    def send_once(self, contact: str, reply: str, seqs: tuple[int, ...], done: Done) -> None:
        """One send attempt, no retry, no de-duplication (the single-layer arms)."""
        self.rec.event("send_attempt", seqs, SENDER_RULE, self.layer)
        sent = self.env.send_attempt(self.kernel, seqs, 1, contact)
        sent.add_callback(_SentOnce(self, seqs, reply, done).settled)


@mypyc_attr(allow_interpreted_subclasses=True)
class _Answer:
    """The agent call in flight: its settle is the point the process would resume."""

    __slots__ = ("call", "contact", "done", "steps")

    def __init__(self, steps: AgentSteps, call: AgentCall, contact: str, done: Done) -> None:
        self.steps = steps
        self.call = call
        self.contact = contact
        self.done = done

    def settled(self, event: Event) -> None:
        steps = self.steps
        if not steps.group.alive:
            return
        if event.ok:
            steps.deliver(self.contact, event.value, self.call.key, self.done)
            return
        if not isinstance(event.value, AgentError):
            raise event.value
        call = self.call
        steps.rec.event("agent_error", call.key, AGENT_RULE, steps.layer, call.outcome)
        self.done(False)


@mypyc_attr(allow_interpreted_subclasses=True)
class _SentOnce:
    """The single attempt of ``send_once`` in flight."""

    __slots__ = ("done", "reply", "seqs", "steps")

    def __init__(self, steps: AgentSteps, seqs: tuple[int, ...], reply: str, done: Done) -> None:
        self.steps = steps
        self.seqs = seqs
        self.reply = reply
        self.done = done

    def settled(self, event: Event) -> None:
        steps = self.steps
        if not steps.group.alive:
            return
        if not event.ok:
            raise event.value
        if event.value:
            steps.rec.event("reply_sent", self.seqs, "", steps.layer, self.reply)
        else:
            steps.rec.event("send_failed", self.seqs, SENDER_RULE, steps.layer)
        self.done(True)
