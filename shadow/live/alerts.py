"""Alerts over sliding windows of capture time: a pure evaluation, then delivery.

Guarantees:

1. ``evaluate`` is a pure function of the events, the lag samples, the policy and the cutoff:
   the same run gives the same transitions, so a watcher that restarts re-derives them and
   delivers only those it had not delivered (``Delivery.delivered``).
2. A check is evaluated at every ``step`` of capture time up to the cutoff, over the window
   ``(t - window, t]``, separately per key (pair for divergences, arm for harms and stuck
   contacts). It fires when the value goes above its threshold, at most once per window, and
   resolves (one ``resolved`` transition) only when the value falls to its resolve level
   (hysteresis): no flapping around the threshold.
3. Delivery never blocks the caller: ``alerts.jsonl`` and stdout at once; the webhook from a
   background thread with a bounded queue (overflow counted, never waited on), a timeout per
   POST and a bounded number of retries.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shadow.common import format_duration
from shadow.live.alert_policy import AlertCheck, AlertPolicy


@dataclass(frozen=True)
class Transition:
    """One alert line: a check on a key fired or resolved at capture time ``at_us``."""

    check: str
    key: str
    state: str  # "firing" | "resolved"
    at_us: int
    value: int
    threshold: int
    window_us: int

    def ident(self) -> str:
        return f"{self.check}|{self.key}|{self.state}|{self.at_us}"

    def record(self, iso: Callable[[int], str]) -> dict[str, Any]:
        what = "lag" if self.key == "capture" else "count"
        unit = format_duration if self.key == "capture" else str
        verb = "above" if self.state == "firing" else "back to"
        message = (
            f"[{self.state}] {self.check} ({self.key}): {what} {unit(self.value)} {verb} "
            f"{'threshold' if self.state == 'firing' else 'at most'} {unit(self.threshold)} "
            f"over {format_duration(self.window_us)} at {iso(self.at_us)}"
        )
        return {
            "alert": self.check,
            "key": self.key,
            "state": self.state,
            "at": iso(self.at_us),
            "value": self.value,
            "threshold": self.threshold,
            "window": format_duration(self.window_us),
            "message": message,
        }


#: Per check name, per key: the capture times (µs) of the events it counts.
Events = Mapping[str, Mapping[str, Sequence[int]]]


def evaluate(
    policy: AlertPolicy,
    events: Events,
    lag_samples: Sequence[tuple[int, int]],
    start_us: int,
    cutoff_us: int,
    lag_until_us: int | None = None,
) -> list[Transition]:
    """Every transition from ``start_us`` to ``cutoff_us`` (the lag's to ``lag_until_us``:
    a lag sample is final when taken), ordered by time, check, key."""
    step = policy.step
    first = (start_us // step + 1) * step
    ticks = np.arange(first, cutoff_us + 1, step, dtype=np.int64)
    lag_ticks = np.arange(first, max(cutoff_us, lag_until_us or 0) + 1, step, dtype=np.int64)
    found: list[Transition] = []
    for check in policy.checks:
        window = policy.window_of(check)
        if check.metric == "lag":
            series = {"capture": _lag_series(lag_samples, lag_ticks)}
        else:
            series = {
                key: _window_counts(np.sort(np.asarray(times, dtype=np.int64)), ticks, window)
                for key, times in sorted(events.get(check.name, {}).items())
            }
        for key, values in series.items():
            at = lag_ticks if check.metric == "lag" else ticks
            found += _transitions(check, key, at, values, window)
    found.sort(key=lambda t: (t.at_us, t.check, t.key, t.state))
    return found


def _window_counts(times: np.ndarray, ticks: np.ndarray, window: int) -> np.ndarray:
    upto = np.searchsorted(times, ticks, side="right")
    before = np.searchsorted(times, ticks - window, side="right")
    return np.asarray(upto - before, dtype=np.int64)


def _lag_series(samples: Sequence[tuple[int, int]], ticks: np.ndarray) -> np.ndarray:
    """The last lag sample at or before each tick (0 before the first)."""
    if not samples:
        return np.zeros(len(ticks), dtype=np.int64)
    ordered = sorted(samples)
    at = np.asarray([s[0] for s in ordered], dtype=np.int64)
    lag = np.asarray([s[1] for s in ordered], dtype=np.int64)
    index = np.searchsorted(at, ticks, side="right") - 1
    return np.where(index >= 0, lag[np.maximum(index, 0)], 0)


def _transitions(
    check: AlertCheck, key: str, ticks: np.ndarray, values: np.ndarray, window: int
) -> list[Transition]:
    threshold, resolve = check.threshold(), check.resolve_level()
    firing = False
    last_fired: int | None = None
    out: list[Transition] = []
    for tick, value in zip(ticks.tolist(), values.tolist(), strict=True):
        if not firing and value > threshold:
            if last_fired is None or tick - last_fired >= window:
                firing, last_fired = True, tick
                out.append(Transition(check.name, key, "firing", tick, value, threshold, window))
        elif firing and value <= resolve:
            firing = False
            out.append(Transition(check.name, key, "resolved", tick, value, resolve, window))
    return out


@dataclass
class WebhookSender:
    """POSTs Slack-compatible JSON (``{"text": ..., "alert": {...}}``) from one daemon thread.

    ``submit`` never blocks: a full queue drops the alert and counts it in ``dropped``.
    """

    url: str
    timeout_s: float = 5.0
    retries: int = 3
    backoff_s: float = 0.5
    capacity: int = 1000
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    attempts: int = 0
    _queue: queue.Queue[dict[str, Any] | None] = field(init=False)
    _thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self._queue = queue.Queue(maxsize=self.capacity)
        self._thread = threading.Thread(target=self._run, name="alert-webhook", daemon=True)
        self._thread.start()

    def submit(self, record: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1

    def close(self, wait_s: float = 10.0) -> None:
        """Ask the thread to finish what is queued; wait at most ``wait_s``."""
        try:
            self._queue.put(None, timeout=wait_s)
        except queue.Full:
            return
        self._thread.join(timeout=wait_s)

    def _run(self) -> None:
        while True:
            record = self._queue.get()
            if record is None:
                return
            payload = json.dumps({"text": record["message"], "alert": record}).encode()
            for attempt in range(self.retries + 1):
                self.attempts += 1
                if self._post(payload):
                    self.sent += 1
                    break
                if attempt < self.retries:
                    time.sleep(self.backoff_s * 2**attempt)
            else:
                self.failed += 1

    def _post(self, payload: bytes) -> bool:
        request = urllib.request.Request(
            self.url, data=payload, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return 200 <= int(response.status) < 300
        except (urllib.error.URLError, OSError, ValueError):
            return False


@dataclass
class Delivery:
    """Where transitions go: ``alerts.jsonl`` (appended), ``echo`` (stdout), and an optional
    webhook. ``delivered`` holds the identity of each transition that went out, for the
    checkpoint: a transition is delivered once, even when late lines put it before others."""

    path: Path
    echo: Callable[[str], None]
    iso: Callable[[int], str]
    webhook: WebhookSender | None = None
    delivered: set[str] = field(default_factory=set)

    def deliver(self, transitions: Sequence[Transition]) -> int:
        """Deliver the transitions not delivered before; returns how many were new."""
        fresh = [t for t in transitions if t.ident() not in self.delivered]
        if not fresh:
            return 0
        records = [t.record(self.iso) for t in fresh]
        with open(self.path, "a", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
        for record in records:
            self.echo(record["message"])
            if self.webhook is not None:
                self.webhook.submit(record)
        self.delivered.update(t.ident() for t in fresh)
        return len(fresh)
