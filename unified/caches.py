"""The unified coordinator's bounded caches: message hashes, message ids, sent responses (U5).

Guarantees:

1. A cache never holds more than ``cap`` entries: recording a new key into a full cache first
   evicts the first-inserted key (JS ``Map`` order); re-recording an existing key refreshes its
   timestamp and count in place, without moving it.
2. An evicted key is remembered with its last timestamp (outside the modelled memory, which the
   gauge reports) until it is recorded again or a sweep finds it expired, so ``missed`` can tell
   whether the key would still have been inside its window but for the eviction.
3. ``sweep`` removes exactly the entries with ``now - timestamp >= window`` (strict windows: an
   entry is live while ``now - timestamp < window``); a cache without a window is never swept.
"""

from __future__ import annotations

from collections.abc import Hashable

from mypy_extensions import mypyc_attr

from shadow.kernel import Gauge


@mypyc_attr(allow_interpreted_subclasses=True)
class BoundedCache:
    """``key -> [timestamp, count]`` with first-in eviction, as the seed's capped ``Map``s."""

    __slots__ = ("_evicted", "cap", "entries", "evictions", "gauge", "window")

    def __init__(self, cap: int, window: int | None, gauge: Gauge) -> None:
        if cap < 1:
            raise ValueError("a cache needs room for at least one entry")
        self.cap = cap
        self.window = window
        self.entries: dict[Hashable, list[int]] = {}
        self._evicted: dict[Hashable, int] = {}
        self.evictions = 0
        self.gauge = gauge
        gauge.set(0)

    def live(self, key: Hashable, now: int) -> list[int] | None:
        """The entry of ``key`` if it is still inside the window (any age without a window)."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        if self.window is not None and now - entry[0] >= self.window:
            return None
        return entry

    def missed(self, key: Hashable, now: int) -> bool:
        """Whether ``key`` (absent now) would have been live but for an eviction (guarantee 2)."""
        if not self._evicted:
            return False
        evicted_at = self._evicted.pop(key, None)
        if evicted_at is None:
            return False
        return self.window is None or now - evicted_at < self.window

    def record(self, key: Hashable, now: int) -> None:
        """Set ``key``'s timestamp to ``now`` and its count to 1 (guarantee 1)."""
        entry = self.entries.get(key)
        if entry is not None:
            entry[0] = now
            entry[1] = 1
            return
        entries = self.entries
        if len(entries) >= self.cap:
            oldest = next(iter(entries))
            self._evicted[oldest] = entries.pop(oldest)[0]
            self.evictions += 1
            entries[key] = [now, 1]
            return  # one out, one in: the gauge keeps its value
        entries[key] = [now, 1]
        self.gauge.set(len(entries))

    def sweep(self, now: int) -> int:
        """Drop expired entries and expired eviction memory; returns how many entries went."""
        window = self.window
        if window is None:
            return 0
        expired = [key for key, entry in self.entries.items() if now - entry[0] >= window]
        for key in expired:
            del self.entries[key]
        if self._evicted:
            self._evicted = {k: t for k, t in self._evicted.items() if now - t < window}
        self.gauge.set(len(self.entries))
        return len(expired)

    def __len__(self) -> int:
        return len(self.entries)
