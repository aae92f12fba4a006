"""Timelines of decision events, re-run from a run folder (events are never stored).

Guarantees:

1. ``rerun`` rebuilds the exact stream, configuration and arms of the run from its folder
   alone, re-runs the arms capturing events for the asked seqs, and checks that every
   re-run outcome row equals the stored one; a difference raises ``RerunMismatch`` (the
   folder was made by another harness version, or a model is not deterministic).
2. Timelines are ordered by virtual time, then by the order the events happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from shadow.common import ShadowError, UsageError
from shadow.compare import outcome_frame, stream_repeats
from shadow.config import load_config
from shadow.kernel import DecisionEvent
from shadow.prepare import stream_from_columns, translate_script, translate_texts
from shadow.runfolder import verify_folder
from shadow.simulation import ModelSettings, RunPlan, Stream, parse_arms, run_arms

COMPARED = (
    "fate",
    "rule",
    "cause",
    "processing_count",
    "reply_count",
    "first_reply_at",
    "batch_size",
    "reply_text_hash",
    "order_violation",
)


class RerunMismatch(ShadowError):
    """The re-run did not reproduce the stored outcomes (exit 4: the harness is wrong)."""

    exit_code = 4


@dataclass(frozen=True, slots=True)
class Timeline:
    """One arm's decision events for the asked seqs, and those seqs' outcome rows."""

    arm: str
    events: list[DecisionEvent]
    outcomes: list[dict[str, Any]]


@dataclass(slots=True)
class RunFolder:
    """A verified run folder, loaded for re-running."""

    path: Path
    manifest: dict[str, Any]
    stream: Stream
    outcomes: pd.DataFrame
    plan: RunPlan
    repeat_horizon: int

    def seqs_of_contact(self, contact: str) -> list[int]:
        contacts = self.stream.contact_id
        if contact not in contacts.vocabulary:
            return []
        found = np.flatnonzero(contacts.codes == contacts.vocabulary.index(contact))
        return [int(seq) for seq in found]


def open_run(path: Path) -> RunFolder:
    """Verify and load a run folder (guarantee 1's inputs)."""
    manifest, _ = verify_folder(path, required=("stream", "outcomes"))
    config = load_config(None, [], manifest["config"], scenario_source="run.json")
    columns = _columns(path / "stream.parquet")
    outbound = None
    if (path / "outbound.parquet").exists():
        outbound = _columns(path / "outbound.parquet")
    environment = config.environment_settings()
    stages = [int(s) for s in manifest.get("stages", [])]
    stream = stream_from_columns(
        columns,
        outbound,
        int(manifest["stream"]["first_at_us"]),
        stages,
        environment.sender.latency.draw(0.5),
    )
    environment = translate_script(environment, manifest.get("script_message_ids", {}))
    environment = translate_texts(environment, manifest.get("text_classes", {}))
    models = ModelSettings(config.legacy_settings(), config.unified_settings(), environment)
    specs = parse_arms(manifest["arms"])
    plan = RunPlan(
        tuple(specs),
        models,
        config.run.drain,
        config.run.gauge_interval,
        tuple(stages),
        manifest.get("flip_at"),
        config.flip_downtime(),
    )
    outcomes = pd.read_parquet(path / "outcomes.parquet")
    return RunFolder(path, manifest, stream, outcomes, plan, config.compare.repeat_horizon)


def _columns(path: Path) -> dict[str, Any]:
    table = pq.read_table(path)
    return {name: table.column(name) for name in table.column_names}


def rerun(
    run: RunFolder,
    seqs: Sequence[int],
    arms: Sequence[str] | None = None,
    workers: int | None = None,
) -> list[Timeline]:
    """Re-run the arms (in parallel workers) capturing events for ``seqs``; verified against
    the stored outcomes."""
    if not seqs:
        raise UsageError("nothing to explain: no message matches")
    size = len(run.stream)
    for seq in seqs:
        if not 0 <= seq < size:
            raise UsageError(f"--seq {seq}: the run has seqs 0 to {size - 1}")
    wanted = list(arms) if arms else [s.name for s in run.plan.arms]
    stream = run.stream
    received = stream.received_at
    repeat_of, repeat_kind = stream_repeats(
        stream, run.repeat_horizon, _stored_answers(run.outcomes, len(stream))
    )
    unknown = [a for a in wanted if a not in {s.name for s in run.plan.arms}]
    if unknown:
        raise UsageError(f"--arms: {', '.join(unknown)} not in this run ({run.manifest['arms']})")
    chosen = tuple(spec for spec in run.plan.arms if spec.name in wanted)
    plan = replace(run.plan, arms=chosen)
    rerun_results = {r.name: r for r in run_arms(plan, stream, workers, capture=seqs)}
    timelines: list[Timeline] = []
    for spec in chosen:
        stored = run.outcomes[run.outcomes["arm"] == spec.name].reset_index(drop=True)
        if not spec.simulated:
            timelines.append(Timeline(spec.name, [], _records(stored, seqs)))
            continue
        result = rerun_results[spec.name]
        frame = outcome_frame(result, stream.contact_id, received, repeat_of, repeat_kind)
        _verify(spec.name, frame, stored)
        events = sorted(result.events, key=lambda e: e.at)
        timelines.append(Timeline(spec.name, events, _records(frame, seqs)))
    return timelines


def describe_event(event: DecisionEvent) -> str:
    """An event as ``shadow explain`` shows it: ``layer: kind #seqs [rule]``."""
    seqs = ",".join(str(s) for s in event.seqs)
    rule = f" [{event.rule}]" if event.rule else ""
    layer = f"{event.layer}: " if event.layer else ""
    return f"{layer}{event.kind} #{seqs}{rule}"


def _stored_answers(outcomes: pd.DataFrame, size: int) -> np.ndarray | None:
    """The comparator's repeat baseline (``recorded``, else ``legacy``) read back from the
    stored outcomes: first reply per seq in µs, -1 when never."""
    for name in ("recorded", "legacy"):
        stored = outcomes[outcomes["arm"] == name]
        if len(stored) == size:
            seconds = stored.sort_values("seq")["first_reply_at"].to_numpy(dtype=float)
            return np.where(np.isnan(seconds), -1, np.round(seconds * 1e6)).astype(np.int64)
    return None


def _verify(arm: str, rerun_frame: pd.DataFrame, stored: pd.DataFrame) -> None:
    for column in COMPARED:
        a = rerun_frame[column].astype("string").fillna("<null>").to_numpy()
        b = stored[column].astype("string").fillna("<null>").to_numpy()
        if len(a) != len(b) or (a != b).any():
            first = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), 0)
            raise RerunMismatch(
                f"re-running arm {arm} did not reproduce outcomes.parquet ({column} of seq "
                f"{first}: {a[first]} vs stored {b[first]}); was the run made by another "
                "harness version?"
            )


def _records(frame: pd.DataFrame, seqs: Sequence[int]) -> list[dict[str, Any]]:
    from shadow.compare import outcome_records

    return outcome_records(frame, list(seqs))
