"""MessageCoordinator (``src/handlers/MessageCoordinator.js``): loops, dedupe, batching, C1-C8.

The coordinator's "lock" is a promise per contact: its processing loop. ``enqueueMessage``
returns a promise per message that settles as the settle table of docs/models.md says.

Guarantees (docs/models.md, Legacy 2):

1. C1: with ``loop``, at most one loop runs per contact; it takes batches from the head of the
   contact's queue until the queue is empty. With ``naive_await``, each caller awaits the
   current holder once and then runs one batch from the head itself, so two callers woken
   by the same holder run overlapping batches.
2. C2 [A4]: the hash of ``(contact, text)`` (exact or normalized text) accepted less than
   ``duplicate_window`` ago suppresses the message (``duplicate_suppressed``); a suppressed
   message does not refresh the time.
3. C3: batches leave in arrival order. C4 [A5]: a batch takes every waiting message up to
   ``max_batch`` (one with batching off); one agent call for the batch. With a
   ``collect_delay`` (``loop`` mutex only) the loop waits that long before each take.
4. C5 [A6]: a message arriving at a queue of ``max_queue_size`` waiting messages is dropped
   (``drop_new``) or pushes out the oldest waiting one (``drop_oldest``).
5. C6 [A7]: when more than ``emergency_flush_queues`` contacts have waiting messages after an
   enqueue, every waiting message is ``dropped`` (``emergency_flush``), the newcomer included;
   with ``emergency_flush: process`` they are processed at once instead, in batches of at most
   ``max_batch`` beside the contacts' running loops.
6. C7: a sweep every ``cleanup_every`` removes expired hashes and empty queues; until then
   they stay (gauges). C8: counters never reset.
7. The returned event settles True (resolve) at once for suppressed, dropped and flushed
   messages, True when the batch's processor resolves and False when it rejects (agent error,
   or a hang when ``client_timeout`` ends it), for every member of the batch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from mypy_extensions import mypyc_attr

from legacy_models.settings import CoordinatorSettings
from legacy_models.steps import AgentSteps, Done, drop_expired
from shadow.kernel import Event, GaugeSource, Group, Kernel, Recorder
from shadow.world import Environment, Message

LAYER = "coordinator"
#: The batch processor: called with the contact's "lock" held on the batch's messages; reports
#: through ``done(resolved)``: True resolved, False rejected.
BatchProcessor = Callable[[Sequence[Message], Done], None]
#: A waiting message: the message, when it entered, and the promise its caller holds.
Entry = tuple[Message, int, Event]


@mypyc_attr(allow_interpreted_subclasses=True)
class Coordinator:
    """The coordinator layer around any batch processor."""

    def __init__(
        self,
        kernel: Kernel,
        rec: Recorder,
        gauges: GaugeSource,
        group: Group,
        settings: CoordinatorSettings,
        processor: BatchProcessor,
        on_lock_change: Callable[[str], None] | None = None,
    ) -> None:
        self.kernel = kernel
        self.rec = rec
        self.group = group
        self.settings = settings
        self.processor = processor
        self.on_lock_change = on_lock_change
        #: the contact's "lock": its loop (``loop``: None while it runs), or the running batch's
        #: promise (``naive_await``)
        self.loops: dict[str, Event | None] = {}
        self.queues: dict[str, deque[Entry]] = {}
        self.hashes: dict[tuple[str, str], int] = {}
        self.nonempty = 0
        self.waiting = 0
        self.exact = settings.hash_text == "exact"
        self.loop_mutex = settings.mutex == "loop"
        self.window = settings.duplicate_window
        self.max_queue_size = settings.max_queue_size
        self.flush_above = settings.emergency_flush_queues
        self.batch_limit = settings.max_batch if settings.batching_enabled else 1
        self.collect_delay = settings.collect_delay
        self.flush_processes = settings.emergency_flush == "process"
        self.resolved = kernel.event().succeed(True)
        self.total_messages = 0
        self.duplicates_detected = 0
        self.dropped = 0
        self.flushed = 0
        self.emergency_flushes = 0
        self.batches = 0
        self.batched_messages = 0
        self.processed = 0
        self.errors = 0
        self.g_loops = gauges.gauge("coordinator.loops")
        self.g_hashes = gauges.gauge("coordinator.hashes")
        self.g_queues = gauges.gauge("coordinator.queues")
        self.g_nonempty = gauges.gauge(
            "coordinator.nonempty_queues", settings.emergency_flush_queues
        )
        self.g_waiting = gauges.gauge("coordinator.queued_messages")
        for gauge in (self.g_loops, self.g_hashes, self.g_queues, self.g_nonempty, self.g_waiting):
            gauge.set(0)
        kernel.every(settings.cleanup_every, self._cleanup, group)

    def enqueue(self, message: Message) -> Event:
        """``enqueueMessage(contact, msg, processor)``: the caller's promise (guarantee 7)."""
        now = self.kernel.now
        rec = self.rec
        self.total_messages += 1
        contact = message.contact_id
        key = (contact, message.text_hash if self.exact else message.text_norm_hash)
        hashes = self.hashes
        accepted_at = hashes.get(key)
        if accepted_at is not None and now - accepted_at < self.window:  # C2
            self.duplicates_detected += 1
            rec.event("duplicate_suppressed", message.seq, "coordinator.duplicate_window", LAYER)
            return self.resolved
        if rec.capturing:  # the C2 check, for timelines (Conflict #2 turns on it)
            rec.event(
                "accepted",
                message.seq,
                "coordinator.duplicate_window",
                LAYER,
                _window_check(accepted_at, now, self.window),
            )
        hashes[key] = now
        if accepted_at is None:
            self.g_hashes.set(len(hashes))
        queues = self.queues
        queue = queues.get(contact)
        if queue is None:
            queue = queues[contact] = deque()
            self.g_queues.set(len(queues))
        if len(queue) >= self.max_queue_size:  # C5 [A6]
            self.dropped += 1
            if self.settings.overflow == "drop_new":
                rec.event("dropped", message.seq, "coordinator.max_queue_size", LAYER)
                return self.resolved
            oldest = queue.popleft()
            self.waiting -= 1
            if not queue:
                self.nonempty -= 1
            rec.event("dropped", oldest[0].seq, "coordinator.max_queue_size", LAYER)
            oldest[2].succeed(True)
        done = Event(self.kernel)
        if not queue:
            self.nonempty += 1
        queue.append((message, now, done))
        self.waiting += 1
        if self.nonempty > self.flush_above:  # C6 [A7]
            self.g_nonempty.set(self.nonempty)
            self._emergency_flush()
            return done
        loops = self.loops
        if self.loop_mutex:
            if contact not in loops:
                # the new loop takes the message at once (gauges set by ``_take``): it never
                # waited
                loops[contact] = None
                self.g_loops.set(len(loops))
                if self.on_lock_change is not None:
                    self.on_lock_change(contact)
                _Loop(self, contact).next()
                return done
            rec.event("queued", message.seq, "coordinator.mutex", LAYER)
        else:
            holder = loops.get(contact)
            if holder is not None or contact in loops:
                rec.event("queued", message.seq, "coordinator.mutex", LAYER)
            caller = _NaiveCaller(self, contact)
            if holder is None:
                caller.start(None)
            else:
                holder.add_callback(caller.start)
        self._show_queues()
        return done

    def stats(self) -> dict[str, int | float]:
        """C8 counters (never reset)."""
        return {
            "coordinator.total_messages": self.total_messages,
            "coordinator.duplicates_detected": self.duplicates_detected,
            "coordinator.dropped": self.dropped,
            "coordinator.flushed": self.flushed,
            "coordinator.emergency_flushes": self.emergency_flushes,
            "coordinator.batches": self.batches,
            "coordinator.batched_messages": self.batched_messages,
            "coordinator.processed": self.processed,
            "coordinator.errors": self.errors,
        }

    # -- the lock: a processing loop per contact ---------------------------------------------
    def _set_loop(self, contact: str, loop: Event | None) -> None:
        loops = self.loops
        new = contact not in loops
        loops[contact] = loop
        if new:
            self.g_loops.set(len(loops))
        if self.on_lock_change is not None:
            self.on_lock_change(contact)

    def _end_loop(self, contact: str) -> None:
        loops = self.loops
        del loops[contact]
        self.g_loops.set(len(loops))
        if self.on_lock_change is not None:
            self.on_lock_change(contact)

    def _show_queues(self) -> None:
        """Bring the waiting-message gauges up to date (a gauge is set only when it changes)."""
        if self.g_waiting.value != self.waiting:
            self.g_waiting.set(self.waiting)
        if self.g_nonempty.value != self.nonempty:
            self.g_nonempty.set(self.nonempty)

    def _take(self, queue: deque[Entry]) -> list[Entry]:
        """C3/C4 [A5]: the next batch from the head of a non-empty queue."""
        size = len(queue)
        if size > self.batch_limit:
            size = self.batch_limit
        self.waiting -= size
        if size == 1:
            entry = queue.popleft()
            batch = [entry]
        else:
            batch = [queue.popleft() for _ in range(size)]
        if not queue:
            self.nonempty -= 1
        # ``_show_queues`` inlined: every batch passes here
        if self.g_waiting.value != self.waiting:
            self.g_waiting.set(self.waiting)
        if self.g_nonempty.value != self.nonempty:
            self.g_nonempty.set(self.nonempty)
        now = self.kernel.now
        rec = self.rec
        self.batches += 1
        self.processed += size
        if size == 1:
            rec.wait(entry[0].seq, 1, now - entry[1])
            return batch
        for message, entered, _ in batch:
            rec.wait(message.seq, 1, now - entered)
        self.batched_messages += size
        rec.event(
            "batched", [entry[0].seq for entry in batch], "coordinator.batching.max_batch", LAYER
        )
        return batch

    def _settle(self, batch: list[Entry], resolved: bool) -> None:
        if not resolved:
            self.errors += 1
        for entry in batch:
            entry[2].succeed(resolved)

    # -- overload and cleanup ------------------------------------------------------------------
    def _emergency_flush(self) -> None:
        """C6 [A7]: discard (or, with ``process``, run at once) every waiting message."""
        if self.flush_processes:
            self._flush_by_processing()
            return
        flushed: list[int] = []
        settle: list[Event] = []
        for queue in self.queues.values():
            for message, _, done in queue:
                flushed.append(message.seq)
                settle.append(done)
            queue.clear()
        self.nonempty = 0
        self.waiting = 0
        self.g_nonempty.set(0)
        self.g_waiting.set(0)
        self.flushed += len(flushed)
        self.emergency_flushes += 1
        self.rec.event("emergency_flush", flushed, "coordinator.emergency_flush_queues", LAYER)
        self.rec.event("dropped", flushed, "coordinator.emergency_flush_queues", LAYER)
        for done in settle:
            done.succeed(True)

    def _flush_by_processing(self) -> None:
        """C6 [A7] ``process``: every waiting message leaves its queue in batches of at most
        ``max_batch`` that start now, beside the contact's running loop (which then finds its
        queue empty and ends); each member's promise settles when its batch's processor does."""
        batches: list[list[Entry]] = []
        limit = self.batch_limit
        for queue in self.queues.values():
            while queue:
                batches.append([queue.popleft() for _ in range(min(limit, len(queue)))])
        flushed = [entry[0].seq for batch in batches for entry in batch]
        self.nonempty = 0
        self.waiting = 0
        self.g_nonempty.set(0)
        self.g_waiting.set(0)
        self.flushed += len(flushed)
        self.emergency_flushes += 1
        self.rec.event("emergency_flush", flushed, "coordinator.emergency_flush", LAYER)
        now = self.kernel.now
        for batch in batches:
            self.batches += 1
            self.processed += len(batch)
            for message, entered, _ in batch:
                self.rec.wait(message.seq, 1, now - entered)
            if len(batch) > 1:
                self.batched_messages += len(batch)
                self.rec.event(
                    "batched",
                    [entry[0].seq for entry in batch],
                    "coordinator.emergency_flush",
                    LAYER,
                )
            self.processor([entry[0] for entry in batch], _FlushedBatch(self, batch).settle)

    def _cleanup(self) -> None:
        """C7: expired hashes and empty queues go; running loops keep their contact's entry."""
        drop_expired(self.hashes, self.kernel.now, self.window)
        self.g_hashes.set(len(self.hashes))
        queues = self.queues
        for contact in [c for c, q in queues.items() if not q]:
            del queues[contact]
        self.g_queues.set(len(queues))


def _window_check(accepted_at: int | None, now: int, window: int) -> str:
    """The ``accepted`` event's detail: what the C2 check saw."""
    if accepted_at is None:
        return f"no earlier hash; window {window / 1_000_000:g} s"
    return (
        f"earlier hash accepted {(now - accepted_at) / 1_000_000:g} s ago, "
        f"not < window {window / 1_000_000:g} s"
    )


@mypyc_attr(allow_interpreted_subclasses=True)
class _FlushedBatch:
    """A batch the ``process`` flush started: settles its members when the processor ends."""

    __slots__ = ("batch", "coordinator")

    def __init__(self, coordinator: Coordinator, batch: list[Entry]) -> None:
        self.coordinator = coordinator
        self.batch = batch

    def settle(self, resolved: bool) -> None:
        self.coordinator._settle(self.batch, resolved)


@mypyc_attr(allow_interpreted_subclasses=True)
class _Loop:
    """C1 ``loop``: run batches from the head of the contact's queue until it is empty.

    The callback form of ``while (batch := take()) is not None: await processor(batch)``: the
    processor's ``done`` continues the loop exactly where the ``await`` would have resumed.
    """

    __slots__ = ("batch", "collected", "contact", "coordinator")

    def __init__(self, coordinator: Coordinator, contact: str) -> None:
        self.coordinator = coordinator
        self.contact = contact
        self.batch: list[Entry] = []
        self.collected = False

    def next(self) -> None:
        """Take the next batch and hand it to the processor, or end the loop.

        With a C4 ``collect_delay``, the loop first waits that long (holding the contact) so
        that messages arriving meanwhile join the batch."""
        coordinator = self.coordinator
        contact = self.contact
        queue = coordinator.queues.get(contact)
        if not queue:
            # ``_end_loop`` inlined: every loop ends here
            loops = coordinator.loops
            del loops[contact]
            coordinator.g_loops.set(len(loops))
            if coordinator.on_lock_change is not None:
                coordinator.on_lock_change(contact)
            return
        if coordinator.collect_delay and not self.collected:
            self.collected = True
            coordinator._show_queues()
            kernel = coordinator.kernel
            kernel.call_at(kernel.now + coordinator.collect_delay, self.next, coordinator.group)
            return
        self.collected = False
        batch = self.batch = coordinator._take(queue)
        if len(batch) == 1:
            coordinator.processor([batch[0][0]], self.processed)
        else:
            coordinator.processor([entry[0] for entry in batch], self.processed)

    def processed(self, resolved: bool) -> None:
        """The batch's processor ended: settle every member's promise, then loop."""
        if not resolved:
            self.coordinator.errors += 1
        for entry in self.batch:
            entry[2].succeed(resolved)
        self.next()


@mypyc_attr(allow_interpreted_subclasses=True)
class _NaiveCaller:
    """C1 ``naive_await``: await the current holder once (an ``if``), then run one batch."""

    __slots__ = ("batch", "contact", "coordinator", "run")

    def __init__(self, coordinator: Coordinator, contact: str) -> None:
        self.coordinator = coordinator
        self.contact = contact
        self.batch: list[Entry] = []
        self.run: Event | None = None

    def start(self, _holder: Event | None) -> None:
        """Called at once when nobody held the contact, else when the holder settled."""
        coordinator = self.coordinator
        if not coordinator.group.alive:
            return
        queue = coordinator.queues.get(self.contact)
        if not queue:
            return
        batch = self.batch = coordinator._take(queue)
        run = self.run = Event(coordinator.kernel)
        coordinator.processor([entry[0] for entry in batch], run.succeed)
        coordinator._set_loop(self.contact, run)
        run.add_callback(self.finished)

    def finished(self, run: Event) -> None:
        coordinator = self.coordinator
        if not coordinator.group.alive:
            return
        coordinator._settle(self.batch, run.value)
        if coordinator.loops.get(self.contact) is run:
            coordinator._end_loop(self.contact)


@mypyc_attr(allow_interpreted_subclasses=True)
class CoordinatorArm:
    """The coordinator alone: its processor calls the agent on the batch and sends once."""

    def __init__(
        self,
        kernel: Kernel,
        env: Environment,
        rec: Recorder,
        gauges: GaugeSource,
        group: Group,
        settings: CoordinatorSettings = CoordinatorSettings(),
    ) -> None:
        steps = AgentSteps(kernel, env, rec, group, LAYER)
        self.coordinator = Coordinator(kernel, rec, gauges, group, settings, steps.call)

    def on_message(self, message: Message) -> None:
        self.coordinator.enqueue(message)

    def stats(self) -> dict[str, int | float]:
        return self.coordinator.stats()
