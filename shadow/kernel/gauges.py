"""State gauges: the size of every named structure over virtual time.

Guarantees:

1. ``peak`` is the largest value ever set, at the earliest time it was reached.
2. Samples are taken every ``interval`` µs from the start (``interval, 2*interval, ...``) and
   once at the end of the run, in gauge creation order, so two identical runs sample alike.
3. A gauge never goes negative: setting a negative size raises ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mypy_extensions import mypyc_attr

from shadow.kernel.core import Group, Kernel


@mypyc_attr(allow_interpreted_subclasses=True)
@dataclass(slots=True)
class Gauge:
    """One structure's size. Models call ``set`` after every change."""

    name: str
    cap: int | None
    kernel: Kernel
    value: int = 0
    peak: int = 0
    peak_at: int = 0
    # samples as two parallel columns: they become arrays at the end of a run
    sampled_at: list[int] = field(default_factory=list)
    sampled: list[int] = field(default_factory=list)

    @property
    def samples(self) -> list[tuple[int, int]]:
        """Every sample as ``(time, value)``."""
        return list(zip(self.sampled_at, self.sampled, strict=True))

    def set(self, value: int) -> None:
        if value < 0:
            raise ValueError(f"gauge {self.name} cannot go negative ({value})")
        self.value = value
        if value > self.peak:
            self.peak = value
            self.peak_at = self.kernel.now

    def add(self, delta: int) -> None:
        self.set(self.value + delta)


@mypyc_attr(allow_interpreted_subclasses=True)
class Gauges:
    """The gauges of one arm, sampled by one periodic task."""

    def __init__(self, kernel: Kernel, interval: int) -> None:
        self.kernel = kernel
        self.interval = interval
        self._gauges: dict[str, Gauge] = {}
        kernel.every(interval, self.sample, Group("gauges"))

    def gauge(self, name: str, cap: int | None = None) -> Gauge:
        """The gauge called ``name`` (created on first use; a restarted model gets it back)."""
        gauge = self._gauges.get(name)
        if gauge is None:
            gauge = self._gauges[name] = Gauge(name, cap, self.kernel)
        return gauge

    def sample(self) -> None:
        now = self.kernel.now
        for gauge in self._gauges.values():
            gauge.sampled_at.append(now)
            gauge.sampled.append(gauge.value)

    def all(self) -> list[Gauge]:
        """Every gauge, in creation order."""
        return list(self._gauges.values())

    def get(self, name: str) -> Gauge | None:
        return self._gauges.get(name)

    def scoped(self, prefix: str) -> ScopedGauges:
        """A view whose gauge names start with ``prefix/`` (two instances in one arm)."""
        return ScopedGauges(self, prefix)


@mypyc_attr(allow_interpreted_subclasses=True)
class ScopedGauges:
    """Gauges of one coordinator instance inside an arm that runs several."""

    def __init__(self, gauges: Gauges, prefix: str) -> None:
        self._gauges = gauges
        self._prefix = prefix

    def gauge(self, name: str, cap: int | None = None) -> Gauge:
        return self._gauges.gauge(f"{self._prefix}/{name}", cap)


GaugeSource = Gauges | ScopedGauges
