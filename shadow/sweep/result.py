"""A sweep's input and result: what ``run`` produces and ``report`` renders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from shadow.sweep.spec import ROW_METRICS, Objective


@dataclass(frozen=True)
class SweepInput:
    """What a sweep replays: a built-in/file scenario (regenerated per seed) or a capture."""

    text: str  # as the user gave it (reproduction commands)
    scenario: str | None  # scenario name or YAML path; None for a capture
    capture: Path | None
    stem: str
    environment: dict[str, Any]


@dataclass
class SweepResult:
    """Rows (one per combination and seed), their summary and the best combination."""

    out: Path
    input: SweepInput
    keys: list[str]
    combos: list[tuple[str, ...]]
    seeds: int
    objective: Objective
    rows: pd.DataFrame  # keys..., seed, ROW_METRICS
    summary: pd.DataFrame  # keys..., seeds, <metric>_<stat>
    ranking: list[int]  # combination indices, best first
    sentence: str
    document: dict[str, Any]  # the ``--json`` document

    def means(self, index: int) -> dict[str, float]:
        row = self.summary.iloc[index]
        return {column: float(row[f"{column}_mean"]) for column in ROW_METRICS}

    def command(self) -> str:
        """The reproduction command: inputs, values, seeds, objective (no --out/--workers)."""
        parts = ["shadow sweep", self.input.text]
        for key, values in zip(self.keys, zip(*self.combos, strict=True), strict=True):
            unique = list(dict.fromkeys(values))
            parts.append(f"--vary {key}={','.join(unique)}")
        parts += [f"--seeds {self.seeds}", f"--objective {self.objective.text}"]
        return " ".join(parts)
