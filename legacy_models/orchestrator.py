"""MessageOrchestrator (``src/handlers/message_orchestrator.js``): per-contact locks, rows O1-O9.

The orchestrator serializes each contact with a lock object ``{processId, startTime}``. It calls
its processor with the lock (and a concurrency slot) held and races it against a 15 s timer.

Guarantees (docs/models.md, Legacy 1):

1. O1: the processing timer starts at the processor call; if it wins, ``processing_timeout``
   is emitted and the lock released at once; the processor is never cancelled.
2. O2 [A1]: a message for a locked contact waits up to ``lock_wait_timeout`` (strictly: it
   gets the lock if handed over before its timer fires); then it is queued, or with
   ``proceed`` it runs its processor without any lock.
3. O3: a release hands the lock to the head of the contact's queue, else to the earliest
   message still waiting, else unlocks the contact; every hand-over sets a new lock time.
4. O4 [A2]: a check every ``deadlock_check_every`` frees locks with ``now - lockTime >
   deadlock_after`` (``force_released``) and hands them on.
5. O5 [A3]: a slot is held while the contact is locked; a message needing a slot beyond
   ``max_concurrent_contacts`` waits in a global FIFO of contacts (its contact's later messages
   behind it) without timeout, and starts its 3 s lock wait only when its contact gets a slot;
   with ``reject`` it is ``dropped``.
6. O6 [A18]: a rejected processor keeps the lock (unless ``release_lock_on_error``): only the
   deadlock check frees it.
7. O7: queues are unbounded unless ``queue_limit`` is set (beyond it: ``dropped``). The seed
   says ``messageQueues`` has no automatic cleanup: a contact's queue entry, once created, stays
   in the map (gauge ``orchestrator.queues``); with ``emptied_queues: delete`` the entry leaves
   the map as soon as its queue is empty.
8. A late settle (after a timeout or force-release) never releases a lock it no longer holds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from mypy_extensions import mypyc_attr

from legacy_models.settings import OrchestratorSettings
from legacy_models.steps import AgentSteps
from shadow.kernel import Event, GaugeSource, Group, Kernel, Recorder
from shadow.world import Environment, Message

LAYER = "orchestrator"
#: The processor: called with the lock held; its event settles True (resolved) / False.
Processor = Callable[[Message], Event]


@mypyc_attr(allow_interpreted_subclasses=True)
class _Waiter:
    """A message inside its lock wait (O2)."""

    __slots__ = ("active", "entered", "message", "orchestrator")

    def __init__(self, orchestrator: Orchestrator, message: Message, entered: int) -> None:
        self.orchestrator = orchestrator
        self.message = message
        self.entered = entered
        self.active = True

    def expire(self) -> None:
        if self.active:
            self.active = False
            self.orchestrator._lock_wait_expired(self)


@mypyc_attr(allow_interpreted_subclasses=True)
class _Run:
    """One processor call racing the processing timer (O1), and the lock tenure it runs under.

    A tenure is ``{processId, startTime}``: who holds the contact's lock (``message``) and
    since when (``since``); a hand-over makes a new one. ``locked`` is False for a run without
    any lock (O2 ``proceed``).
    """

    __slots__ = ("done", "locked", "message", "orchestrator", "since")

    def __init__(
        self, orchestrator: Orchestrator, message: Message, since: int, locked: bool
    ) -> None:
        self.orchestrator = orchestrator
        self.message = message
        self.since = since
        self.locked = locked
        self.done = False

    def settled(self, event: Event) -> None:
        orchestrator = self.orchestrator
        if self.done or not orchestrator.group.alive:
            return
        self.done = True
        if not event.ok or event.value is False:
            orchestrator.errors += 1
            if not orchestrator.release_lock_on_error:
                return  # O6 [A18]: the lock stays until the deadlock check
        if self.locked:
            contact = self.message.contact_id
            if orchestrator.locks.get(contact) is self:  # guarantee 8
                orchestrator._hand_over(contact)

    def timed_out(self) -> None:
        if self.done:
            return
        self.done = True
        orchestrator = self.orchestrator
        orchestrator.timed_out += 1
        orchestrator.rec.event(
            "processing_timeout", self.message.seq, "orchestrator.processing_timeout", LAYER
        )
        if self.locked:
            contact = self.message.contact_id
            if orchestrator.locks.get(contact) is self:  # guarantee 8
                orchestrator._hand_over(contact)


@mypyc_attr(allow_interpreted_subclasses=True)
class Orchestrator:
    """The orchestrator layer around any processor (the chain's or a direct agent call)."""

    def __init__(
        self,
        kernel: Kernel,
        rec: Recorder,
        gauges: GaugeSource,
        group: Group,
        settings: OrchestratorSettings,
        processor: Processor,
        on_lock_change: Callable[[str], None] | None = None,
    ) -> None:
        self.kernel = kernel
        self.rec = rec
        self.group = group
        self.settings = settings
        self.processor = processor
        self.on_lock_change = on_lock_change
        self.locks: dict[str, _Run] = {}
        self.queues: dict[str, deque[tuple[Message, int]]] = {}
        self.delete_emptied = settings.emptied_queues == "delete"
        self.waiters: dict[str, deque[_Waiter]] = {}
        self.slot_line: dict[str, list[tuple[Message, int]]] = {}
        self.slot_fifo: deque[str] = deque()
        self.queued_messages = 0
        self.waiting = 0
        self.processed = 0
        self.timed_out = 0
        self.force_released = 0
        self.queued = 0
        self.dropped = 0
        self.errors = 0
        self.lock_wait_timeouts = 0
        self.slot_waits = 0
        self.max_contacts = settings.max_concurrent_contacts
        self.processing_timeout = settings.processing_timeout
        self.release_lock_on_error = settings.release_lock_on_error
        cap = settings.max_concurrent_contacts
        self.g_locks = gauges.gauge("orchestrator.locks", cap)
        self.g_slots = gauges.gauge("orchestrator.slots", cap)
        self.g_queues = gauges.gauge("orchestrator.queues")
        self.g_queued = gauges.gauge("orchestrator.queued_messages", settings.queue_limit)
        self.g_waiting = gauges.gauge("orchestrator.lock_waiters")
        self.g_slot_waiting = gauges.gauge("orchestrator.slot_waiting")
        for gauge in (
            self.g_locks,
            self.g_slots,
            self.g_queues,
            self.g_queued,
            self.g_waiting,
            self.g_slot_waiting,
        ):
            gauge.set(0)
        kernel.every(settings.deadlock_check_every, self._deadlock_check, group)

    # -- entry ------------------------------------------------------------------------------
    def on_message(self, message: Message) -> None:
        """``processMessage(contact, msg, processor)`` at the message's arrival."""
        contact = message.contact_id
        now = self.kernel.now
        locks = self.locks
        if contact in locks:
            self._lock_wait(message, now)
            return
        if self.slot_line:
            line = self.slot_line.get(contact)
            if line is not None:  # O5 [A3]: behind its contact's earlier message
                line.append((message, now))
                self._slot_wait(message)
                return
        if len(locks) >= self.max_contacts:
            if self.settings.on_concurrency_full == "reject":
                self.dropped += 1
                self.rec.event("dropped", message.seq, "orchestrator.on_concurrency_full", LAYER)
                return
            self.slot_line[contact] = [(message, now)]
            self.slot_fifo.append(contact)
            self._slot_wait(message)
            return
        self._lock(contact, message, now, False)

    def stats(self) -> dict[str, int | float]:
        """O9 counters."""
        return {
            "orchestrator.processed": self.processed,
            "orchestrator.timed_out": self.timed_out,
            "orchestrator.force_released": self.force_released,
            "orchestrator.queued": self.queued,
            "orchestrator.dropped": self.dropped,
            "orchestrator.errors": self.errors,
            "orchestrator.lock_wait_timeouts": self.lock_wait_timeouts,
            "orchestrator.slot_waits": self.slot_waits,
        }

    # -- locks ------------------------------------------------------------------------------
    def _lock(self, contact: str, message: Message, entered: int, handed: bool) -> None:
        """Take (or receive) the contact's lock and run the processor under it."""
        now = self.kernel.now
        run = _Run(self, message, now, True)
        locks = self.locks
        if contact in locks:
            locks[contact] = run
        else:
            locks[contact] = run
            size = len(locks)
            self.g_locks.set(size)
            self.g_slots.set(size)
            if self.on_lock_change is not None:
                self.on_lock_change(contact)
        rec = self.rec
        if handed:
            rec.event("lock_acquired", message.seq, "", LAYER)
        # ``_run`` inlined: this is every message's path
        rec.wait(message.seq, 0, now - entered)
        self.processed += 1
        self.processor(message).add_callback(run.settled)
        self.kernel.call_at(now + self.processing_timeout, run.timed_out, self.group)

    def _run(self, run: _Run, entered: int) -> None:
        """Call the processor (under the run's lock, if any) and start the processing timer."""
        now = self.kernel.now
        message = run.message
        self.rec.wait(message.seq, 0, now - entered)
        self.processed += 1
        self.processor(message).add_callback(run.settled)
        self.kernel.call_at(now + self.processing_timeout, run.timed_out, self.group)

    def _hand_over(self, contact: str) -> None:
        """O3: queue head, else earliest waiter, else unlock (and give the slot away)."""
        queue = self.queues.get(contact)
        if queue:
            message, entered = queue.popleft()
            self.queued_messages -= 1
            self.g_queued.set(self.queued_messages)
            if not queue and self.delete_emptied:  # O7 ``delete``
                del self.queues[contact]
                self.g_queues.set(len(self.queues))
            self._lock(contact, message, entered, True)
            return
        waiters = self.waiters.get(contact)
        if waiters:
            waiter = waiters.popleft()
            if not waiters:
                del self.waiters[contact]
            waiter.active = False
            self.waiting -= 1
            self.g_waiting.set(self.waiting)
            self._lock(contact, waiter.message, waiter.entered, True)
            return
        del self.locks[contact]
        size = len(self.locks)
        self.g_locks.set(size)
        self.g_slots.set(size)
        if self.on_lock_change is not None:
            self.on_lock_change(contact)
        if self.slot_fifo:
            self._grant_slots()

    def _grant_slots(self) -> None:
        """O5 [A3]: free slots go to the global FIFO's contacts in order."""
        limit = self.settings.max_concurrent_contacts
        while self.slot_fifo and len(self.locks) < limit:
            contact = self.slot_fifo.popleft()
            line = self.slot_line.pop(contact)
            self.g_slot_waiting.add(-len(line))
            first, entered = line[0]
            self._lock(contact, first, entered, True)
            for message, since in line[1:]:
                self._lock_wait(message, since)

    def _deadlock_check(self) -> None:
        """O4 [A2]: free every lock held longer than ``deadlock_after``."""
        now = self.kernel.now
        limit = self.settings.deadlock_after
        stale = [(c, lock) for c, lock in self.locks.items() if now - lock.since > limit]
        for contact, lock in stale:
            if self.locks.get(contact) is lock:
                self.force_released += 1
                self.rec.event(
                    "force_released", lock.message.seq, "orchestrator.deadlock_after", LAYER
                )
                self._hand_over(contact)

    # -- waiting ----------------------------------------------------------------------------
    def _lock_wait(self, message: Message, entered: int) -> None:
        waiter = _Waiter(self, message, entered)
        waiters = self.waiters.get(message.contact_id)
        if waiters is None:
            waiters = self.waiters[message.contact_id] = deque()
        waiters.append(waiter)
        self.waiting += 1
        self.g_waiting.set(self.waiting)
        self.rec.event("lock_wait", message.seq, "orchestrator.lock_wait_timeout", LAYER)
        self.kernel.call_at(
            self.kernel.now + self.settings.lock_wait_timeout, waiter.expire, self.group
        )

    def _lock_wait_expired(self, waiter: _Waiter) -> None:
        message = waiter.message
        contact = message.contact_id
        waiters = self.waiters[contact]
        if waiters[0] is waiter:  # same timeout for all: the earliest expires first
            waiters.popleft()
        else:
            waiters.remove(waiter)
        if not waiters:
            del self.waiters[contact]
        self.waiting -= 1
        self.g_waiting.set(self.waiting)
        self.lock_wait_timeouts += 1
        rec = self.rec
        rec.event("lock_wait_timeout", message.seq, "orchestrator.lock_wait_timeout", LAYER)
        if self.settings.on_lock_wait_timeout == "proceed":  # O2 [A1]
            self._run(_Run(self, message, self.kernel.now, False), waiter.entered)
            return
        queue = self.queues.get(contact)
        if queue is None:
            queue = self.queues[contact] = deque()
            self.g_queues.set(len(self.queues))
        limit = self.settings.queue_limit
        if limit is not None and len(queue) >= limit:  # O7
            self.dropped += 1
            rec.event("dropped", message.seq, "orchestrator.queue_limit", LAYER)
            if not queue and self.delete_emptied:  # O7 ``delete``
                del self.queues[contact]
                self.g_queues.set(len(self.queues))
            return
        queue.append((message, waiter.entered))
        self.queued += 1
        self.queued_messages += 1
        self.g_queued.set(self.queued_messages)
        rec.event("queued", message.seq, "orchestrator.on_lock_wait_timeout", LAYER)

    def _slot_wait(self, message: Message) -> None:
        self.slot_waits += 1
        self.g_slot_waiting.add(1)
        self.rec.event("slot_wait", message.seq, "orchestrator.max_concurrent_contacts", LAYER)


@mypyc_attr(allow_interpreted_subclasses=True)
class OrchestratorArm:
    """The orchestrator alone: its processor calls the agent and sends once."""

    def __init__(
        self,
        kernel: Kernel,
        env: Environment,
        rec: Recorder,
        gauges: GaugeSource,
        group: Group,
        settings: OrchestratorSettings = OrchestratorSettings(),
    ) -> None:
        self.steps = AgentSteps(kernel, env, rec, group, LAYER)
        self.orchestrator = Orchestrator(kernel, rec, gauges, group, settings, self._process)
        self.on_message = self.orchestrator.on_message

    def _process(self, message: Message) -> Event:
        return self.steps.process((message,))

    def stats(self) -> dict[str, int | float]:
        return self.orchestrator.stats()
