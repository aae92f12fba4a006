"""ResponseManager (``src/handlers/response_manager.js``): reply de-duplication and retry, R1-R5.

Guarantees (models.md, Legacy 3):

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

from legacy_models.settings import ResponseManagerSettings
from legacy_models.steps import AgentSteps
from shadow.environment import Environment, Message
from shadow.kernel import Event, GaugeSource, Group, Kernel, ProcessGenerator, Recorder

LAYER = "response_manager"


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
        return self.kernel.spawn(self.respond(contact, reply, seqs), self.group)

    def respond(self, contact: str, reply: str, seqs: tuple[int, ...]) -> ProcessGenerator:
        """``await sendResponse(to, message)`` inside the caller's process."""
        now = self.kernel.now
        settings = self.settings
        rec = self.rec
        key = (contact, reply)
        recorded = self.cache.get(key)
        if recorded is not None and now - recorded < settings.duplicate_window:  # R1, R5
            self.blocked += 1
            rec.event("reply_blocked", seqs, "response_manager.duplicate_window", LAYER, reply)
            for seq in seqs:
                rec.wait(seq, 2, 0)
            return True
        if self.pending >= settings.max_queue:  # R4 [A10]
            self.refused += 1
            rec.event("dropped", seqs, "response_manager.max_queue", LAYER)
            for seq in seqs:
                rec.wait(seq, 2, 0)
            return True
        if settings.mark_before_send:  # R1 [A8]
            self._record(key, now)
        self.pending += 1
        self.g_pending.set(self.pending)
        return (yield from self._send(key, seqs, now))

    def stats(self) -> dict[str, int | float]:
        return {
            "response_manager.sent": self.sent,
            "response_manager.blocked": self.blocked,
            "response_manager.failed": self.failed,
            "response_manager.refused": self.refused,
            "response_manager.retries": self.retries,
            "response_manager.cache_evictions": self.evictions,
        }

    def _send(self, key: tuple[str, str], seqs: tuple[int, ...], called: int) -> ProcessGenerator:
        settings = self.settings
        rec = self.rec
        kernel = self.kernel
        attempts = settings.max_attempts
        backoff = self.backoff
        delivered = False
        started = called
        for attempt in range(1, attempts + 1):
            started = kernel.now
            rec.event("send_attempt", seqs, "response_manager.max_attempts", LAYER)
            delivered = yield self.env.send_attempt(kernel, seqs, attempt, key[0])
            if delivered:
                break
            if attempt < attempts:  # R2 [A9]
                self.retries += 1
                yield backoff[min(attempt - 1, len(backoff) - 1)]
        self.pending -= 1
        self.g_pending.set(self.pending)
        for seq in seqs:
            rec.wait(seq, 2, started - called)
        if delivered:
            if not settings.mark_before_send:
                self._record(key, kernel.now)
            self.sent += 1
            rec.event("reply_sent", seqs, "", LAYER, key[1])
        else:
            self.failed += 1
            rec.event("send_failed", seqs, "response_manager.max_attempts", LAYER)
        return True

    def _record(self, key: tuple[str, str], now: int) -> None:
        """R4: record (or re-record in place) a reply hash, evicting the oldest key when full."""
        cache = self.cache
        if key not in cache and len(cache) >= self.settings.max_cache:
            del cache[next(iter(cache))]
            self.evictions += 1
        cache[key] = now
        self.g_cache.set(len(cache))

    def _cleanup(self) -> None:
        """R3: drop hashes whose window has passed."""
        now = self.kernel.now
        window = self.settings.duplicate_window
        cache = self.cache
        for key in [k for k, at in cache.items() if now - at >= window]:
            del cache[key]
        self.g_cache.set(len(cache))


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
        self.steps = AgentSteps(kernel, env, rec, group, LAYER)

    def on_message(self, message: Message) -> None:
        self.steps.process((message,), self.manager.respond)

    def stats(self) -> dict[str, int | float]:
        return self.manager.stats()
