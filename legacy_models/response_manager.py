"""ResponseManager (``src/handlers/response_manager.js``): reply de-duplication and retry, R1-R5.

Guarantees (docs/models.md, Legacy 3):

1. R1 [A8]: a reply whose ``(contact, reply text)`` hash was recorded less than
   ``duplicate_window`` ago is ``reply_blocked`` (fate ``unanswered``); a blocked reply neither
   records nor refreshes the hash. The hash is recorded before the first attempt
   (``mark_before_send``), or when an attempt succeeds.
2. R2 [A9]: up to ``max_attempts`` attempts in all, waiting ``backoff[i]`` after failed attempt
   i + 1 (the last backoff repeats); after the last failure ``send_failed``.
3. R3: a sweep every ``cleanup_every`` removes hashes at least ``duplicate_window`` old.
4. R4 [A10]: the cache evicts its first-inserted key when full (re-recording a key keeps its
   place); a reply is pending from ``sendResponse`` until its last attempt settles, and one
   arriving with ``max_queue`` pending is refused (``dropped``, fate ``unanswered``).
   Order of checks: duplicate (R1), then pending (R4).
5. ``wait_response_manager`` is the time from ``sendResponse`` to the start of the last attempt
   (retries and backoff), 0 for a reply blocked, refused or delivered at the first attempt.
6. The returned event always resolves (True): blocked, refused, sent or failed.
"""

from __future__ import annotations

from mypy_extensions import mypyc_attr

from legacy_models.settings import ResponseManagerSettings
from legacy_models.steps import AgentSteps, Done, drop_expired
from shadow.kernel import Event, GaugeSource, Group, Kernel, Recorder
from shadow.world import Environment, Message

LAYER = "response_manager"


@mypyc_attr(allow_interpreted_subclasses=True)
class ResponseManager:
    """``sendResponse(to, message)`` with the 30 s reply window and retries."""

    def __init__(
        self,
        kernel: Kernel,
        env: Environment,
        rec: Recorder,
        gauges: GaugeSource,
        group: Group,
        settings: ResponseManagerSettings,
    ) -> None:
        self.kernel = kernel
        self.env = env
        self.rec = rec
        self.group = group
        self.settings = settings
        self.cache: dict[tuple[str, str], int] = {}
        self.pending = 0
        self.window = settings.duplicate_window
        self.max_queue = settings.max_queue
        self.mark_before_send = settings.mark_before_send
        self.max_attempts = settings.max_attempts
        self.backoff = settings.backoff or (0,)
        self.sent = 0
        self.blocked = 0
        self.failed = 0
        self.refused = 0
        self.retries = 0
        self.evictions = 0
        self.g_cache = gauges.gauge("response_manager.cache", settings.max_cache)
        self.g_pending = gauges.gauge("response_manager.pending", settings.max_queue)
        self.g_cache.set(0)
        self.g_pending.set(0)
        kernel.every(settings.cleanup_every, self._cleanup, group)

    def send_response(self, contact: str, reply: str, seqs: tuple[int, ...]) -> Event:
        """Deliver ``reply`` (answering ``seqs``) to ``contact``; the event always resolves."""
        done = Event(self.kernel)
        self.respond(contact, reply, seqs, done.succeed)
        return done

    def respond(self, contact: str, reply: str, seqs: tuple[int, ...], done: Done) -> None:
        """``await sendResponse(to, message)``: ``done(True)`` once it returns."""
        now = self.kernel.now
        rec = self.rec
        key = (contact, reply)
        recorded = self.cache.get(key)
        if recorded is not None and now - recorded < self.window:  # R1, R5
            self.blocked += 1
            rec.event("reply_blocked", seqs, "response_manager.duplicate_window", LAYER, reply)
            for seq in seqs:
                rec.wait(seq, 2, 0)
            done(True)
            return
        if self.pending >= self.max_queue:  # R4 [A10]
            self.refused += 1
            rec.event("dropped", seqs, "response_manager.max_queue", LAYER)
            for seq in seqs:
                rec.wait(seq, 2, 0)
            done(True)
            return
        if self.mark_before_send:  # R1 [A8]
            self._record(key, now)
        self.pending += 1
        self.g_pending.set(self.pending)
        delivery = _Delivery(self, key, seqs, now, done)
        if self.max_attempts < 1:
            self._finish(delivery, False)
        else:
            delivery.attempt()

    def stats(self) -> dict[str, int | float]:
        return {
            "response_manager.sent": self.sent,
            "response_manager.blocked": self.blocked,
            "response_manager.failed": self.failed,
            "response_manager.refused": self.refused,
            "response_manager.retries": self.retries,
            "response_manager.cache_evictions": self.evictions,
        }

    def _finish(self, delivery: _Delivery, delivered: bool) -> None:
        """After the last attempt: the reply is no longer pending; sent or failed."""
        self.pending -= 1
        self.g_pending.set(self.pending)
        rec = self.rec
        seqs = delivery.seqs
        waited = delivery.started - delivery.called
        for seq in seqs:
            rec.wait(seq, 2, waited)
        key = delivery.key
        if delivered:
            if not self.mark_before_send:
                self._record(key, self.kernel.now)
            self.sent += 1
            rec.event("reply_sent", seqs, "", LAYER, key[1])
        else:
            self.failed += 1
            rec.event("send_failed", seqs, "response_manager.max_attempts", LAYER)
        delivery.done(True)

    def _record(self, key: tuple[str, str], now: int) -> None:
        """R4: record (or re-record in place) a reply hash, evicting the oldest key when full."""
        cache = self.cache
        if key not in cache:
            if len(cache) >= self.settings.max_cache:
                del cache[next(iter(cache))]
                self.evictions += 1
                cache[key] = now
                return  # one out, one in: the size is unchanged
            cache[key] = now
            self.g_cache.set(len(cache))
            return
        cache[key] = now

    def _cleanup(self) -> None:
        """R3: drop hashes whose window has passed."""
        drop_expired(self.cache, self.kernel.now, self.window)
        self.g_cache.set(len(self.cache))


@mypyc_attr(allow_interpreted_subclasses=True)
class _Delivery:
    """One reply's attempts (R2 [A9]): each attempt's settle is where the retry loop resumes."""

    __slots__ = ("called", "done", "key", "manager", "number", "seqs", "started")

    def __init__(
        self,
        manager: ResponseManager,
        key: tuple[str, str],
        seqs: tuple[int, ...],
        called: int,
        done: Done,
    ) -> None:
        self.manager = manager
        self.key = key
        self.seqs = seqs
        self.called = called
        self.started = called
        self.done = done
        self.number = 0

    def attempt(self) -> None:
        """The next attempt, starting now."""
        manager = self.manager
        kernel = manager.kernel
        self.number += 1
        self.started = kernel.now
        manager.rec.event("send_attempt", self.seqs, "response_manager.max_attempts", LAYER)
        sent = manager.env.send_attempt(kernel, self.seqs, self.number, self.key[0])
        sent.add_callback(self.settled)

    def settled(self, event: Event) -> None:
        manager = self.manager
        if not manager.group.alive:
            return
        if not event.ok:
            raise event.value
        if event.value:
            manager._finish(self, True)
            return
        number = self.number
        if number >= manager.max_attempts:
            manager._finish(self, False)
            return
        manager.retries += 1  # R2 [A9]: wait, then the next attempt
        backoff = manager.backoff
        delay = backoff[min(number - 1, len(backoff) - 1)]
        kernel = manager.kernel
        kernel.call_at(kernel.now + delay, self.attempt, manager.group)


@mypyc_attr(allow_interpreted_subclasses=True)
class ResponseManagerArm:
    """The response manager alone: every message goes straight to the agent, then here."""

    def __init__(
        self,
        kernel: Kernel,
        env: Environment,
        rec: Recorder,
        gauges: GaugeSource,
        group: Group,
        settings: ResponseManagerSettings = ResponseManagerSettings(),
    ) -> None:
        self.manager = ResponseManager(kernel, env, rec, gauges, group, settings)
        self.steps = AgentSteps(kernel, env, rec, group, LAYER, self.manager.respond)

    def on_message(self, message: Message) -> None:
        self.steps.call((message,), _ignore)

    def stats(self) -> dict[str, int | float]:
        return self.manager.stats()


def _ignore(_resolved: bool) -> None:
    """Nobody awaits the response manager arm's processor."""
