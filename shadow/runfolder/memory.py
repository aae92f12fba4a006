"""Memory in bytes from a run folder's gauges (``shadow memory``).

Guarantees:

1. One row per (arm, gauge) of ``shadow.common.v8_bytes.STRUCTURES`` found in
   ``gauges.parquet``: its peak entries and their estimated bytes, its growth per day (the
   slope between the sample at a quarter of the run and the last one, so start-up is left
   out), and the days until it reaches 12,500 entries and 100 MB at that growth (None when it
   does not grow or is already there).
2. The folder is verified against ``run.json`` first (a changed file is refused).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from shadow.common import STRUCTURES, entries_for_bytes
from shadow.runfolder.folder import verify_folder

DAY = 86_400.0
REVIEW_ENTRIES = 12_500
MB_100 = 100_000_000


@dataclass(frozen=True, slots=True)
class StructureMemory:
    arm: str
    structure: str
    js: str
    peak_entries: int
    peak_bytes: int
    entries_per_day: float
    bytes_per_day: float
    days_to_12500: float | None
    days_to_100mb: float | None

    def document(self) -> dict[str, Any]:
        return asdict(self)


def _days_to(target: float, now: float, per_day: float) -> float | None:
    if now >= target:
        return 0.0
    if per_day <= 0:
        return None
    return (target - now) / per_day


def memory_rows(run_dir: Path) -> list[StructureMemory]:
    """Guarantee 1, for a verified run folder (guarantee 2)."""
    verify_folder(run_dir, required=("gauges",))
    gauges = pd.read_parquet(run_dir / "gauges.parquet")
    rows: list[StructureMemory] = []
    for (arm, name), samples in gauges.groupby(["arm", "structure"], sort=True):
        structure = STRUCTURES.get(str(name))
        if structure is None or samples.empty:
            continue
        samples = samples.sort_values("time")
        times = samples["time"].to_numpy(dtype=float)
        values = samples["value"].to_numpy(dtype=float)
        start = len(times) // 4
        span = times[-1] - times[start]
        per_day = 0.0 if span <= 0 else (values[-1] - values[start]) / span * DAY
        peak = int(values.max())
        last = float(values[-1])
        bytes_now = structure.bytes(int(last))
        per_day_bytes = 0.0 if per_day <= 0 else structure.bytes(int(last + per_day)) - bytes_now
        rows.append(
            StructureMemory(
                str(arm),
                str(name),
                structure.js,
                peak,
                structure.bytes(peak),
                round(per_day, 1),
                round(per_day_bytes, 1),
                _round(_days_to(REVIEW_ENTRIES, last, per_day)),
                _round(_days_to(entries_for_bytes(structure, MB_100), last, per_day)),
            )
        )
    return rows


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
