"""Wall time, CPU time and peak memory of a command: the one file allowed to differ per run."""

from __future__ import annotations

import itertools
import resource
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass
class Stopwatch:
    """Started at construction; ``report()`` gives the ``timing.json`` content."""

    wall_start: float = field(default_factory=time.perf_counter)
    cpu_start: float = field(default_factory=time.process_time)
    phases: dict[str, float] = field(default_factory=dict)
    excluded: float = 0.0
    _mark: float = field(default_factory=time.perf_counter)
    _laps: dict[str, float] = field(default_factory=dict)

    def phase(self, name: str) -> None:
        """Close the current phase under ``name``."""
        now = time.perf_counter()
        self.phases[name] = round(now - self._mark, 4)
        self._mark = now

    def lap(self, name: str) -> None:
        """Close the current phase and add it to ``name``'s time (a phase run chunk by chunk)."""
        now = time.perf_counter()
        self._laps[name] = self._laps.get(name, 0.0) + now - self._mark
        self.phases[name] = round(self._laps[name], 4)
        self._mark = now

    def elapsed(self) -> float:
        return time.perf_counter() - self.wall_start

    def excluding(self, items: Iterable[T], chunk: int = 4096) -> Iterator[T]:
        """``items``, the time spent producing them (``chunk`` at a time) left out of the
        phases and of the wall time, and added up in ``excluded``."""
        iterator = iter(items)
        while True:
            start = time.perf_counter()
            batch = list(itertools.islice(iterator, chunk))
            spent = time.perf_counter() - start
            self.excluded += spent
            self._mark += spent
            if not batch:
                return
            yield from batch

    def report(self) -> dict[str, object]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "wall_s": round(self.elapsed() - self.excluded, 4),
            "cpu_s": round(time.process_time() - self.cpu_start + children.ru_utime, 4),
            "peak_rss_mb": round(max(own.ru_maxrss, children.ru_maxrss) / 1024, 1),
            "compiled": core_compiled(),
            "phases": self.phases,
        }


def core_compiled() -> bool:
    """Whether the kernel and models run as mypyc-compiled extensions (``make fast``)."""
    from shadow.kernel import Kernel

    return not str(sys.modules[Kernel.__module__].__file__).endswith(".py")
