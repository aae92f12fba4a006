"""What the gate reads: the input contract between the comparator's run folder and the gate.

The gate needs only records (docs/architecture.md). ``files.load_gate_input`` builds a
``GateInput`` from a run folder; tests build one directly.

**run.json** (a dict) — keys the gate reads:

- ``arms``: list of arm names (``legacy``, ``rollout@10``, ...).
- ``rollout.fingerprint``: ``rollout.fingerprint(settings)`` (provider, flag, group_id, salt,
  stickiness, algorithm, id). Missing: the fingerprint check fails.
- ``seed``: int (``environment.seed``), keys the latency bootstrap (default 1).
- ``files``: ``{name: sha256}`` where name is a data file's logical name (``stream``,
  ``outbound``, ``outcomes``, ``divergences``, ``signatures``, ``gauges``, ``rejected``, mapped
  to ``stream.parquet`` ...) or a file name; a value may also be ``{"path", "sha256"}``.
  Checked by ``files`` (never by the gate).

**divergences.jsonl**, one dict per line, fields the gate reads:

- ``seq`` (int), ``baseline`` and ``candidate`` (arm names of the pair),
- ``kinds`` (list of kind names), ``severity`` (the line's worst),
- ``severities`` (optional ``{kind: severity}``; when present, per-kind severity is used so a
  ``change`` kind on a line whose worst is ``regression`` is not counted as a regression),
- ``signature`` (12 hex digits), ``attribution: {baseline: {rule, cause}, candidate: {...}}``.
  Other fields (``effect``, outcome records) are ignored: the scope comes from outcomes.

**outcomes** per arm (columns, aligned): ``seq`` int, ``contact_id`` str, ``fate`` str,
``reply_latency`` float seconds (NaN when null), ``system`` str (``unified`` or ``legacy`` in
``rollout@P`` arms; the cohort is the candidate's ``unified`` messages).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

OUTCOME_COLUMNS = ("seq", "contact_id", "fate", "reply_latency", "system")


@dataclass(frozen=True, slots=True)
class ArmOutcomes:
    """One arm's outcome columns, sorted by seq."""

    seq: npt.NDArray[np.int64]
    contact_id: npt.NDArray[np.str_]
    fate: npt.NDArray[np.str_]
    reply_latency: npt.NDArray[np.float64]
    system: npt.NDArray[np.str_]

    @classmethod
    def from_columns(cls, columns: Mapping[str, Sequence[Any] | npt.NDArray[Any]]) -> ArmOutcomes:
        """Build from any column mapping (lists, numpy arrays, pandas Series); nulls allowed in
        ``reply_latency`` (NaN) and ``system`` (empty)."""
        seq = np.asarray(columns["seq"], dtype=np.int64)
        in_order = bool((seq[1:] >= seq[:-1]).all())
        order: npt.NDArray[np.intp] | slice = (
            slice(None) if in_order else np.argsort(seq, kind="stable")
        )
        given = columns["reply_latency"]
        if isinstance(given, np.ndarray) and given.dtype == np.float64:
            latency = given  # already the values below (NaN for null)
        else:
            latency = np.array(
                [np.nan if value is None else float(value) for value in given], dtype=np.float64
            )

        def text(name: str) -> npt.NDArray[np.str_]:
            values = columns.get(name)
            if values is None:
                return np.full(len(seq), "", dtype=np.str_)
            if isinstance(values, np.ndarray) and values.dtype.kind == "U":
                return values  # already the values below ("" for null)
            return np.array(["" if v is None else str(v) for v in values], dtype=np.str_)

        return cls(
            seq=seq[order],
            contact_id=text("contact_id")[order],
            fate=text("fate")[order],
            reply_latency=latency[order],
            system=text("system")[order],
        )


@dataclass(frozen=True, slots=True)
class GateInput:
    """A run as the gate sees it; ``run_ref`` names the folder in ``shadow explain`` commands."""

    run: Mapping[str, Any]
    divergences: Sequence[Mapping[str, Any]]
    outcomes: Mapping[str, ArmOutcomes]
    run_ref: str = "RUN_DIR"
    #: per arm, the outcome columns the absolute harms need (``shadow.compare.HARM_COLUMNS``);
    #: empty when the run folder's outcomes lack them (then no harm is judged)
    harm_frames: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    #: each open reading's alternative replayed (``run.json["readings"]``, by its ``folder``):
    #: the arms it ran again, their outcomes, divergences and harm frames (``run`` unused)
    variants: Mapping[str, GateInput] = field(default_factory=dict)

    def with_variant(self, variant: GateInput) -> GateInput:
        """The run as if the variant's arms had been the run's: their outcomes and harm frames
        replace the run's, their divergence lines replace every line of a pair they are in."""
        rerun = set(variant.outcomes)
        kept = [
            line
            for line in self.divergences
            if line.get("baseline") not in rerun and line.get("candidate") not in rerun
        ]
        return GateInput(
            run=self.run,
            divergences=[*kept, *variant.divergences],
            # looked up, never copied: the arms' columns are made when first needed
            outcomes=Overlay(variant.outcomes, self.outcomes),
            run_ref=self.run_ref,
            harm_frames=Overlay(variant.harm_frames, self.harm_frames),
        )


V = TypeVar("V")


class Overlay(Mapping[str, V]):
    """``{**under, **over}`` as a view: a value is looked up, never copied (so an arm's
    columns are made only when a check needs them)."""

    def __init__(self, over: Mapping[str, V], under: Mapping[str, V]) -> None:
        self._over = over
        self._under = under

    def __getitem__(self, key: str) -> V:
        return self._over[key] if key in self._over else self._under[key]

    def __iter__(self) -> Iterator[str]:
        yield from self._under
        yield from (key for key in self._over if key not in self._under)

    def __len__(self) -> int:
        return sum(1 for _ in self)
