"""The agent call and the one-attempt send that the legacy layers' processors are made of.

A *processor* is what a layer calls with the lock held. Every processor here returns an
``Event`` (a kernel process) that settles with ``True`` when it resolved and ``False`` when it
rejected: an agent ``error``, or a ``hang`` once ``client_timeout`` ends it (the settle table of
models.md). Rejections are values, not exceptions, so a batch's failure costs no traceback.

Guarantees:

1. Every agent call emits ``processing_started`` with the batch's seqs (sorted, the call key) at
   the call instant, and ``agent_hang`` at the same instant when the drawn outcome is ``hang``.
2. An agent failure emits ``agent_error`` (rule ``environment.agent``) for every member and
   nothing is sent.
3. The single-layer arms send through the sender once: ``send_attempt``, then ``reply_sent``
   (detail: the reply text hash) or ``send_failed`` (rule ``environment.sender``). No retry, no
   de-duplication.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from shadow.environment import AgentError, Environment, Message
from shadow.kernel import Event, Group, Kernel, ProcessGenerator, Recorder

#: What a reply goes through once the agent answered, inlined in the caller's process with
#: ``yield from``: (contact, reply hash, seqs = the call key) -> a generator.
Deliver = Callable[[str, str, tuple[int, ...]], ProcessGenerator]

AGENT_RULE = "environment.agent"
SENDER_RULE = "environment.sender"


class AgentSteps:
    """Agent call, then a delivery step, run inside the caller's process (``yield from``)."""

    __slots__ = ("env", "group", "kernel", "layer", "rec")

    def __init__(
        self, kernel: Kernel, env: Environment, rec: Recorder, group: Group, layer: str
    ) -> None:
        self.kernel = kernel
        self.env = env
        self.rec = rec
        self.group = group
        self.layer = layer

    def process(self, members: Sequence[Message], deliver: Deliver) -> Event:
        """The same as a process of its own: an event settling True/False."""
        return self.kernel.spawn(self.call(members, deliver), self.group)

    def call(self, members: Sequence[Message], deliver: Deliver) -> ProcessGenerator:
        """Call the agent on ``members`` now, hand its reply to ``deliver``; return True/False."""
        call = self.env.agent_call(self.kernel, members)
        seqs = call.key
        rec = self.rec
        rec.event("processing_started", seqs, "", self.layer)
        if call.outcome == "hang":
            rec.event("agent_hang", seqs, AGENT_RULE, self.layer)
        try:
            reply = yield call.event
        except AgentError:
            rec.event("agent_error", seqs, AGENT_RULE, self.layer, call.outcome)
            return False
        yield from deliver(members[0].contact_id, reply, seqs)
        return True

    def send_once(self, contact: str, reply: str, seqs: tuple[int, ...]) -> ProcessGenerator:
        """One send attempt, no retry, no de-duplication (the single-layer arms)."""
        rec = self.rec
        rec.event("send_attempt", seqs, SENDER_RULE, self.layer)
        delivered = yield self.env.send_attempt(self.kernel, seqs, 1, contact)
        if delivered:
            rec.event("reply_sent", seqs, "", self.layer, reply)
        else:
            rec.event("send_failed", seqs, SENDER_RULE, self.layer)

    def direct(self, members: Sequence[Message]) -> ProcessGenerator:
        """The single-layer processor: agent call, then one send attempt."""
        return self.call(members, self.send_once)
