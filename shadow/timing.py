"""Wall time, CPU time and peak memory of a command: the one file allowed to differ per run."""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field


@dataclass
class Stopwatch:
    """Started at construction; ``report()`` gives the ``timing.json`` content."""

    wall_start: float = field(default_factory=time.perf_counter)
    cpu_start: float = field(default_factory=time.process_time)
    phases: dict[str, float] = field(default_factory=dict)
    _mark: float = field(default_factory=time.perf_counter)

    def phase(self, name: str) -> None:
        """Close the current phase under ``name``."""
        now = time.perf_counter()
        self.phases[name] = round(now - self._mark, 4)
        self._mark = now

    def elapsed(self) -> float:
        return time.perf_counter() - self.wall_start

    def report(self) -> dict[str, object]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "wall_s": round(self.elapsed(), 4),
            "cpu_s": round(time.process_time() - self.cpu_start + children.ru_utime, 4),
            "peak_rss_mb": round(max(own.ru_maxrss, children.ru_maxrss) / 1024, 1),
            "phases": self.phases,
        }
