"""UnifiedMessageCoordinator, the seed's proposed replacement, as designed (docs/models.md U1-U10).

One entry per contact holds its lock and FIFO queue; a duplicate check runs at arrival, before
the lock; reply tracking, send retries, memory caps, the processing timeout, the lock watchdog
and one cleanup sweep live in the same object. Its weaknesses are ported too (a 10 s window that
can eat a legitimate repeat, a 30 s reply window, caps that evict under load, no batching).

Guarantees (the unit and property tests check them):

1. A message gets at most one agent call, with itself as the only member (U1, U10).
2. Per contact, agent calls start in arrival order: the lock passes to the queue head, and a
   contact waiting for room in the lock table waits with all its later messages (U4 [A12]).
3. No lock is held longer than ``lock_timeout + watchdog_every`` (U7).
4. No lock table, cache or id cache ever holds more entries than its cap (U4, U5).
5. A message whose ``(contact, text)`` hash was accepted less than ``duplicate_window`` ago is
   suppressed, unless an eviction removed the hash: then it is accepted with ``duplicate_missed``
   naming the cap (U2, U5).
6. Every message ends in one decision that closes it (suppressed, dropped, replied, blocked,
   send failed, agent error), or stays open for a restart (lost) or the drain (stranded).
7. When events are captured, a message that passes the U2 check gets an ``accepted`` event
   (rule ``unified.duplicate_window``) whose detail says what the check saw, in the legacy
   coordinator's words; a message let through by an eviction gets ``duplicate_missed`` instead.
"""

from __future__ import annotations

from collections import deque

from mypy_extensions import mypyc_attr

from shadow.kernel import Event, GaugeSource, Group, Kernel, Recorder
from shadow.world import AgentCall, AgentError, Environment, Message
from unified.caches import BoundedCache
from unified.settings import UnifiedSettings

LAYER = "unified"
COORDINATOR_LAYER = 1  # wait_coordinator: waiting for the contact's lock or the lock table
SEND_LAYER = 2  # wait_response_manager: from the send's start to its last attempt

RULE_DUPLICATE = "unified.duplicate_window"
RULE_MESSAGE_ID = "unified.dedupe_by_message_id"
RULE_RESPONSE = "unified.response_window"
RULE_MAX_LOCKS = "unified.max_locks"
RULE_MAX_HASHES = "unified.max_hash_cache"
RULE_MAX_RESPONSES = "unified.max_response_cache"
RULE_TIMEOUT = "unified.processing_timeout"
RULE_LATE = "unified.late_result"
RULE_LOCK_TIMEOUT = "unified.lock_timeout"
RULE_ATTEMPTS = "unified.max_attempts"
RULE_AGENT = "environment.agent"
#: U1 has no config key: queueing behind the contact's own lock is the design itself.
RULE_LOCK = "unified.lock"


@mypyc_attr(allow_interpreted_subclasses=True)
class _ContactLock:
    """``contactLocks[contact]``: ``{locked, lockTime, queue}`` plus who holds the lock."""

    __slots__ = ("contact_id", "holder", "lock_time", "locked", "queue")

    def __init__(self, contact_id: str) -> None:
        self.contact_id = contact_id
        self.locked = False
        self.lock_time = 0
        self.holder = -1  # seq of the message holding the lock
        self.queue: deque[tuple[Message, int]] = deque()  # (message, accepted at)


@mypyc_attr(allow_interpreted_subclasses=True)
class _Processing:
    """One message from taking its contact's lock to its last decision (U6, U7, U8).

    The JS original is one async function: it awaits the agent (raced against the processing
    timeout), then each send attempt and each backoff. Here every ``await`` is a callback on the
    awaited event or a timer, run at the microtask or timer where the function would resume.
    Where the original awaited ``Promise.race`` (``Kernel.any_of``), the callback decides the race
    itself, one or two microtasks sooner than the race would have resumed it. No decision moves
    relative to another: a timer's microtasks run before anything else (kernel guarantee 3), and
    every microtask a settle here queues is the next step of this same processing.
    """

    __slots__ = (
        "attempt",
        "call",
        "discarded",
        "lock",
        "message",
        "owner",
        "previous",
        "race_over",
        "reply",
        "reply_key",
        "seq",
        "timed_out",
    )
    call: AgentCall  # set by start
    reply: str  # the rest is set when the send starts
    reply_key: tuple[str, str] | str
    attempt: int  # send attempts started
    previous: int  # when the latest send attempt started

    def __init__(self, owner: UnifiedCoordinator, lock: _ContactLock, message: Message) -> None:
        self.owner = owner
        self.lock = lock
        self.message = message
        self.seq = message.seq
        self.race_over = False  # the agent (or the agent and the send) or the timer has won
        self.timed_out = False  # the timer won
        self.discarded = False  # [A13]: a timed-out processing sends nothing more

    def start(self) -> None:
        """Call the agent and race it (and the send, per ``timeout_covers``) against the timer."""
        owner = self.owner
        rec = owner.rec
        kernel = owner.kernel
        covers_send = owner._covers_send
        owner.counts["processed"] += 1
        rec.event("processing_started", self.seq, "", LAYER)
        call = self.call = owner.env.agent_call(kernel, (self.message,))
        if call.outcome == "hang":
            rec.event("agent_hang", self.seq, RULE_AGENT, LAYER)
        call.event.add_callback(self._answer if covers_send else self._agent_settled)
        if covers_send or call.outcome == "hang" or call.latency > owner._timeout:
            kernel.schedule(kernel.now + owner._timeout, self._timer_fired, None, owner.group)
        # else the agent settles first whatever happens (a tie goes to the agent, whose timer
        # was created first): the race could only be won by the agent, so it is not set up

    def _agent_settled(self, event: Event) -> None:
        """The agent settled (``timeout_covers: agent``): unless the timer won, send its reply."""
        if not self.owner.group.alive or self.race_over:
            return
        self.race_over = True
        if not event.ok:
            self.owner._agent_failed(self.seq, event.value)
            self._answered(False)
            return
        self._send(event.value)

    def _timer_fired(self, _: object) -> None:
        """The timer won the race: release the lock now; the agent runs on [A13]."""
        if self.race_over:
            return
        self.race_over = True
        self.timed_out = True
        owner = self.owner
        seq = self.seq
        owner.counts["timed_out"] += 1
        owner.rec.event("processing_timeout", seq, RULE_TIMEOUT, LAYER)
        owner._release(self.lock, seq)
        if owner._late_send:  # the late reply goes out without the lock
            if not owner._covers_send:
                self.call.event.add_callback(self._answer)
        else:  # the late result is discarded whenever it comes
            self.discarded = True
            owner.rec.event("dropped", seq, RULE_LATE, LAYER, "late result discarded")

    def _answer(self, event: Event) -> None:
        """The agent settled: send its reply (``agent_and_send``, or a late reply)."""
        if not self.owner.group.alive:
            return
        if not event.ok:
            if not self.discarded:
                self.owner._agent_failed(self.seq, event.value)
            self._answered(False)
            return
        self._send(event.value)

    def _answered(self, answered: bool) -> None:
        """The reply was sent, blocked, failed or discarded (``answered``), or the agent threw.

        Releases the lock, unless the timer won (it released the lock then), or the agent threw
        and ``release_lock_on_error`` is off (the lock waits for the watchdog [A16]).
        """
        owner = self.owner
        if owner._covers_send:  # the answer was racing the timer: the first to finish wins
            if self.race_over:
                return
            self.race_over = True
        elif self.timed_out:
            return
        if answered or owner._release_on_error:
            owner._release(self.lock, self.seq)

    # -- sending with integrated response tracking (U3, U8) ----------------------------------
    def _send(self, reply: str) -> None:
        """Block a reply sent inside the response window, else start its first attempt."""
        if self.discarded:
            self._answered(True)
            return
        owner = self.owner
        seq = self.seq
        now = owner.kernel.now
        responses = owner._responses
        reply_key = (self.message.contact_id, reply) if owner._reply_by_contact else reply  # [A15]
        if responses.live(reply_key, now) is not None:
            owner.counts["replies_blocked"] += 1
            owner.rec.wait(seq, SEND_LAYER, 0)
            owner.rec.event("reply_blocked", seq, RULE_RESPONSE, LAYER, reply)
            self._answered(True)
            return
        if responses.missed(reply_key, now):
            owner._missed(seq, RULE_MAX_RESPONSES, "response hash evicted")
        if owner._record_before_send:  # [A11] with before_send
            responses.record(reply_key, now)
        self.reply = reply
        self.reply_key = reply_key
        self.attempt = 0
        self.previous = now
        self._next_attempt(None)

    def _next_attempt(self, _: object) -> None:
        """Start the next send attempt now, unless the timer won meanwhile [A13]."""
        if self.discarded:
            self._answered(True)
            return
        owner = self.owner
        kernel = owner.kernel
        rec = owner.rec
        now = kernel.now
        # wait_response_manager: from the send's start to its last attempt, as legacy R2
        rec.wait(self.seq, SEND_LAYER, now - self.previous)
        self.previous = now
        rec.event("send_attempt", self.seq, RULE_ATTEMPTS, LAYER)
        self.attempt += 1
        sent = owner.env.send_attempt(kernel, self.call.key, self.attempt, self.message.contact_id)
        sent.add_callback(self._attempt_settled)

    def _attempt_settled(self, event: Event) -> None:
        """Record a delivered reply; after a failure, back off and retry or give up [A17]."""
        owner = self.owner
        if not owner.group.alive:
            return
        if not event.ok:
            raise event.value
        kernel = owner.kernel
        seq = self.seq
        if event.value:
            if not owner._record_before_send:  # [A11]: recorded after a successful send
                owner._responses.record(self.reply_key, kernel.now)
            owner.counts["replies_sent"] += 1
            owner.rec.event("reply_sent", seq, "", LAYER, self.reply)
            self._answered(True)
            return
        attempt = self.attempt
        if attempt < owner._max_attempts:  # [A17]: max_attempts counts every attempt
            backoff = owner._backoff
            delay = backoff[min(attempt, len(backoff)) - 1] if backoff else 0
            kernel.schedule(kernel.now + delay, self._next_attempt, None, owner.group)
            return
        if not self.discarded:  # else the last attempt was in flight when the timer won
            owner.counts["send_failed"] += 1
            owner.rec.event("send_failed", seq, RULE_ATTEMPTS, LAYER)
        self._answered(True)


@mypyc_attr(allow_interpreted_subclasses=True)
class UnifiedCoordinator:
    """One UnifiedMessageCoordinator instance (one process of the bot) in virtual time."""

    def __init__(
        self,
        kernel: Kernel,
        env: Environment,
        rec: Recorder,
        gauges: GaugeSource,
        group: Group,
        settings: UnifiedSettings = UnifiedSettings(),
    ) -> None:
        if settings.max_locks < 1 or settings.max_attempts < 1:
            raise ValueError("unified.max_locks and unified.max_attempts must be at least 1")
        self.kernel = kernel
        self.env = env
        self.rec = rec
        self.group = group
        self.settings = settings
        self._exact_text = settings.hash_text == "exact"
        self._reply_by_contact = "contact_id" in settings.response_hash_fields
        self._record_before_send = settings.record_response == "before_send"
        self._covers_send = settings.timeout_covers == "agent_and_send"
        self._late_send = settings.late_result == "send"
        self._timeout = settings.processing_timeout
        self._release_on_error = settings.release_lock_on_error
        self._dedupe_ids = settings.dedupe_by_message_id
        self._max_locks = settings.max_locks
        self._max_attempts = settings.max_attempts
        self._backoff = settings.backoff
        self._locks: dict[str, _ContactLock] = {}
        self._idle: dict[str, None] = {}  # unlocked entries, longest idle first
        self._waiting: dict[str, list[tuple[Message, int]]] = {}  # [A12] global FIFO
        self._waiting_count = 0
        self._queued_count = 0
        self._locks_gauge = gauges.gauge("unified.locks", settings.max_locks)
        self._queued_gauge = gauges.gauge("unified.queued_messages")
        self._waiting_gauge = gauges.gauge("unified.waiting_for_lock_table")
        for gauge in (self._locks_gauge, self._queued_gauge, self._waiting_gauge):
            gauge.set(0)
        self._hashes = BoundedCache(
            settings.max_hash_cache,
            settings.duplicate_window,
            gauges.gauge("unified.hashes", settings.max_hash_cache),
        )
        self._message_ids = BoundedCache(
            settings.max_hash_cache,
            None,
            gauges.gauge("unified.message_ids", settings.max_hash_cache),
        )
        self._responses = BoundedCache(
            settings.max_response_cache,
            settings.response_window,
            gauges.gauge("unified.responses", settings.max_response_cache),
        )
        self.counts: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self._longest_hold = 0
        kernel.every(settings.watchdog_every, self._watchdog, group)
        kernel.every(settings.cleanup_every, self._cleanup, group)

    # -- arrival: duplicate check before the lock (U2, U5) -----------------------------------
    def on_message(self, message: Message) -> None:
        """Suppress a duplicate, else take the contact's lock, queue, or wait for the table."""
        now = self.kernel.now
        seq = message.seq
        rec = self.rec
        if self._dedupe_ids:
            ids = self._message_ids
            if ids.live(message.message_id, now) is not None:
                self.counts["suppressed_by_message_id"] += 1
                rec.event("duplicate_suppressed", seq, RULE_MESSAGE_ID, LAYER)
                return
            if ids.missed(message.message_id, now):
                self._missed(seq, RULE_MAX_HASHES, "message_id evicted")
            ids.record(message.message_id, now)
        hashes = self._hashes
        key = (
            message.contact_id,
            message.text_hash if self._exact_text else message.text_norm_hash,
        )
        entry = hashes.live(key, now)
        if entry is not None:
            entry[1] += 1  # the timestamp is kept: the window runs from the accepted occurrence
            self.counts["suppressed"] += 1
            rec.event("duplicate_suppressed", seq, RULE_DUPLICATE, LAYER)
            return
        if hashes.missed(key, now):
            self._missed(seq, RULE_MAX_HASHES, "message hash evicted")
        elif rec.capturing:  # the U2 check, for timelines (Conflict #2 turns on it)
            earlier = hashes.entries.get(key)
            rec.event(
                "accepted",
                seq,
                RULE_DUPLICATE,
                LAYER,
                _window_check(None if earlier is None else earlier[0], now, hashes.window),
            )
        hashes.record(key, now)
        self.counts["accepted"] += 1
        self._admit(message, now)

    def _missed(self, seq: int, rule: str, detail: str) -> None:
        self.counts["duplicates_missed"] += 1
        self.rec.event("duplicate_missed", seq, rule, LAYER, detail)

    # -- the lock table (U1, U4) -------------------------------------------------------------
    def _admit(self, message: Message, accepted_at: int) -> None:
        contact = message.contact_id
        lock = self._locks.get(contact)
        if lock is None:
            waiting = self._waiting.get(contact)
            if waiting is not None:  # behind its contact's earlier message [A12]
                self._wait_for_table(message, accepted_at, waiting)
                return
            if len(self._locks) >= self._max_locks and not self._make_room():
                self._waiting[contact] = []
                self._wait_for_table(message, accepted_at, self._waiting[contact])
                return
            lock = self._new_lock(contact)
        elif lock.locked:
            lock.queue.append((message, accepted_at))
            self._queued_count += 1
            self._queued_gauge.set(self._queued_count)
            self.rec.event("queued", message.seq, RULE_LOCK, LAYER)
            return
        else:
            del self._idle[contact]
        self._acquire(lock, message, accepted_at)

    def _new_lock(self, contact: str) -> _ContactLock:
        lock = self._locks[contact] = _ContactLock(contact)
        self._locks_gauge.set(len(self._locks))
        return lock

    def _wait_for_table(
        self, message: Message, accepted_at: int, waiting: list[tuple[Message, int]]
    ) -> None:
        waiting.append((message, accepted_at))
        self._waiting_count += 1
        self._waiting_gauge.set(self._waiting_count)
        self.counts["lock_table_waits"] += 1
        self.rec.event("slot_wait", message.seq, RULE_MAX_LOCKS, LAYER)

    def _make_room(self) -> bool:
        """Evict the longest-idle entry; else, with ``evict_oldest``, the oldest entry [A12].

        The caller adds an entry at once, which sets the locks gauge back to its former value.
        """
        if self._idle:
            contact = next(iter(self._idle))
            del self._idle[contact]
            del self._locks[contact]
        elif self.settings.on_lock_table_full == "evict_oldest":
            contact, lock = next(iter(self._locks.items()))
            del self._locks[contact]
            # the holder runs on without its lock; the queue goes with the entry
            self._longest_hold = max(self._longest_hold, self.kernel.now - lock.lock_time)
            self.rec.event("evicted", lock.holder, RULE_MAX_LOCKS, LAYER, "busy lock entry")
            for queued, _ in lock.queue:
                self.rec.event("dropped", queued.seq, RULE_MAX_LOCKS, LAYER, "lock entry evicted")
            self._queued_count -= len(lock.queue)
            self._queued_gauge.set(self._queued_count)
        else:
            return False
        self.counts["lock_evictions"] += 1
        return True

    def _admit_waiting(self) -> None:
        """Give freed room in the lock table to the contacts waiting for it, in FIFO order."""
        while self._waiting and (len(self._locks) < self._max_locks or self._idle):
            contact = next(iter(self._waiting))
            waiting = self._waiting.pop(contact)
            self._waiting_count -= len(waiting)
            self._waiting_gauge.set(self._waiting_count)
            if len(self._locks) >= self._max_locks:
                self._make_room()
            lock = self._new_lock(contact)
            first, accepted_at = waiting[0]
            lock.queue.extend(waiting[1:])
            self._queued_count += len(waiting) - 1
            self._queued_gauge.set(self._queued_count)
            self._acquire(lock, first, accepted_at)

    def _acquire(self, lock: _ContactLock, message: Message, accepted_at: int) -> None:
        now = self.kernel.now
        lock.locked = True
        lock.lock_time = now
        lock.holder = message.seq
        self.rec.wait(message.seq, COORDINATOR_LAYER, now - accepted_at)
        if now > accepted_at:  # an immediate acquisition shows as processing_started alone
            self.rec.event("lock_acquired", message.seq, RULE_LOCK, LAYER)
        _Processing(self, lock, message).start()

    def _release(self, lock: _ContactLock, seq: int) -> None:
        """Release ``seq``'s lock unless the watchdog or an eviction took it already."""
        if lock.holder == seq and self._locks.get(lock.contact_id) is lock:
            self._hand_over(lock)

    def _hand_over(self, lock: _ContactLock) -> None:
        held = self.kernel.now - lock.lock_time
        if held > self._longest_hold:
            self._longest_hold = held
        if lock.queue:
            message, accepted_at = lock.queue.popleft()
            self._queued_count -= 1
            self._queued_gauge.set(self._queued_count)
            self._acquire(lock, message, accepted_at)
            return
        lock.locked = False
        lock.holder = -1
        self._idle[lock.contact_id] = None
        if self._waiting:
            self._admit_waiting()

    # -- processing (U6, U7): see _Processing ------------------------------------------------
    def _agent_failed(self, seq: int, error: BaseException) -> None:
        if not isinstance(error, AgentError):
            raise error  # not the agent's failure but a model bug: crash the run
        self.counts["agent_errors"] += 1
        self.rec.event("agent_error", seq, RULE_AGENT, LAYER)

    # -- periodic tasks (U7, U9) -------------------------------------------------------------
    def _watchdog(self) -> None:
        """Free every lock held for more than ``lock_timeout`` and pass it on."""
        now = self.kernel.now
        limit = self.settings.lock_timeout
        stale = [
            lock for lock in self._locks.values() if lock.locked and now - lock.lock_time > limit
        ]
        for lock in stale:
            self.counts["force_released"] += 1
            self.rec.event("force_released", lock.holder, RULE_LOCK_TIMEOUT, LAYER)
            self._hand_over(lock)

    def _cleanup(self) -> None:
        """The single sweep [A14]: expired hashes and responses, idle lock entries."""
        now = self.kernel.now
        self._hashes.sweep(now)
        self._responses.sweep(now)
        for contact in self._idle:
            del self._locks[contact]
        self._idle.clear()
        self._locks_gauge.set(len(self._locks))

    # -- statistics --------------------------------------------------------------------------
    def stats(self) -> dict[str, int | float]:
        """Counters for ``run.json`` (they add up across restarts), with cache evictions."""
        result: dict[str, int | float] = {f"unified.{k}": v for k, v in self.counts.items()}
        result["unified.hash_evictions"] = self._hashes.evictions
        result["unified.message_id_evictions"] = self._message_ids.evictions
        result["unified.response_evictions"] = self._responses.evictions
        return result

    def longest_lock_hold(self) -> int:
        """The longest any lock was held so far, µs, counting locks still held (guarantee 3)."""
        now = self.kernel.now
        held = [now - lock.lock_time for lock in self._locks.values() if lock.locked]
        return max([self._longest_hold, *held])


_COUNTERS = (
    "accepted",
    "suppressed",
    "suppressed_by_message_id",
    "duplicates_missed",
    "processed",
    "timed_out",
    "agent_errors",
    "replies_sent",
    "replies_blocked",
    "send_failed",
    "force_released",
    "lock_evictions",
    "lock_table_waits",
)


def _window_check(accepted_at: int | None, now: int, window: int | None) -> str:
    """The ``accepted`` event's detail: what the U2 check saw (the legacy C2 wording)."""
    span = "none" if window is None else f"{window / 1_000_000:g} s"
    if accepted_at is None:
        return f"no earlier hash; window {span}"
    return f"earlier hash accepted {(now - accepted_at) / 1_000_000:g} s ago, not < window {span}"
