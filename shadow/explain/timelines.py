"""Timelines of decision events, re-run from a run folder (events are never stored).

Guarantees:

1. ``rerun`` rebuilds the exact stream, configuration and arms of the run from its folder
   alone, re-runs the arms capturing events for the asked seqs, and checks that every
   re-run outcome row equals the stored one; a difference raises ``RerunMismatch`` (the
   folder was made by another harness version, or a model is not deterministic).
2. Timelines are ordered by virtual time, then by the order the events happened.
3. Narrowed, never approximate: contacts interact only through global limits (concurrency
   slots, lock tables, capped caches), so when the run's gauges show none of the arms reached
   one, only the asked seqs' contacts are re-run; otherwise (or when that does not reproduce)
   a prefix of the stream up to the asked seqs' settle time plus the drain; otherwise the
   whole arm. Each keeps every message's own seq, so keyed draws are those of the run. A
   narrowed re-run is kept only when it reproduces the stored rows it covers exactly (the
   waits per layer included, for a contact re-run); else the next, wider one is tried, and the
   whole arm is checked as in guarantee 1.
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
#: a contact re-run also reproduces each layer's wait (a global limit would show there)
WAITS = ("wait_orchestrator", "wait_coordinator", "wait_response_manager")
#: gauges that count messages held back by a global limit (non-zero: contacts interacted)
HELD_BACK = ("slot_waiting", "waiting_for_lock_table")


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
    stored = {
        spec.name: run.outcomes[run.outcomes["arm"] == spec.name].reset_index(drop=True)
        for spec in chosen
    }
    simulated = [spec.name for spec in chosen if spec.simulated]
    results: dict[str, tuple[Any, pd.DataFrame]] = {}
    for scope, checked, columns in narrowings(run, seqs, simulated):
        narrowed = replace(stream, only=scope)
        attempt = {r.name: r for r in run_arms(plan, narrowed, workers, capture=seqs)}
        frames = {
            name: outcome_frame(result, stream.contact_id, received, repeat_of, repeat_kind)
            for name, result in attempt.items()
        }
        if all(_reproduces(frames[n], stored[n], checked, columns) for n in frames):
            results = {n: (attempt[n], frames[n]) for n in frames}
            break
    else:
        attempt = {r.name: r for r in run_arms(plan, stream, workers, capture=seqs)}
        for name, result in attempt.items():
            frame = outcome_frame(result, stream.contact_id, received, repeat_of, repeat_kind)
            _verify(name, frame, stored[name])
            results[name] = (result, frame)
    timelines: list[Timeline] = []
    for spec in chosen:
        if not spec.simulated:
            timelines.append(Timeline(spec.name, [], _records(stored[spec.name], seqs)))
            continue
        result, frame = results[spec.name]
        events = sorted(result.events, key=lambda e: e.at)
        timelines.append(Timeline(spec.name, events, _records(frame, seqs)))
    return timelines


def narrowings(
    run: RunFolder, seqs: Sequence[int], arms: Sequence[str]
) -> list[tuple[np.ndarray, np.ndarray, tuple[str, ...]]]:
    """The narrowed re-runs to try, narrowest first (guarantee 3): the seqs to simulate, the
    seqs whose stored rows must be reproduced, and the columns compared."""
    stream = run.stream
    asked = np.asarray(sorted(set(seqs)), dtype=np.int64)
    found: list[tuple[np.ndarray, np.ndarray, tuple[str, ...]]] = []
    if arms and not limits_reached(run.path, arms):
        codes = np.unique(stream.contact_id.codes[asked])
        contact = np.flatnonzero(np.isin(stream.contact_id.codes, codes)).astype(np.int64)
        if len(contact) < len(stream):
            found.append((contact, contact, COMPARED + WAITS))
    settle = settle_time(run, asked, arms) + run.plan.drain
    end = int(np.searchsorted(stream.received_at, settle, side="right"))
    if end < len(stream):
        found.append((np.arange(end, dtype=np.int64), asked, COMPARED))
    return found


def limits_reached(path: Path, arms: Sequence[str]) -> bool:
    """Whether a gauge of one of ``arms`` reached its cap or held messages back (guarantee 3);
    a run without gauges counts as reached."""
    try:
        gauges = pq.read_table(path / "gauges.parquet").to_pandas()
    except OSError:
        return True
    mine = gauges[gauges["arm"].isin(list(arms))]
    caps = pd.to_numeric(mine["cap"], errors="coerce")
    values = pd.to_numeric(mine["value"], errors="coerce")
    if bool((caps.notna() & (values >= caps)).any()):
        return True
    held = mine["structure"].astype(str).str.endswith(HELD_BACK)
    return bool((values[held] > 0).any())


def settle_time(run: RunFolder, asked: np.ndarray, arms: Sequence[str]) -> int:
    """The latest arrival or first reply (µs from the stream start) among ``asked`` in any of
    ``arms``, as stored."""
    latest = int(run.stream.received_at[asked].max())
    rows = run.outcomes[run.outcomes["arm"].isin(list(arms)) & run.outcomes["seq"].isin(asked)]
    replies = pd.to_numeric(rows["first_reply_at"], errors="coerce").dropna()
    if len(replies):
        latest = max(latest, int(np.ceil(float(replies.max()) * 1e6)))
    return latest


def _reproduces(
    frame: pd.DataFrame, stored: pd.DataFrame, seqs: np.ndarray, columns: Sequence[str]
) -> bool:
    """Whether the re-run rows of ``seqs`` equal the stored ones in ``columns``."""
    if len(frame) != len(stored):
        return False
    for column in columns:
        if column not in stored.columns:
            continue
        a = frame[column].iloc[seqs].astype("string").fillna("<null>").to_numpy()
        b = stored[column].iloc[seqs].astype("string").fillna("<null>").to_numpy()
        if (a != b).any():
            return False
    return True


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
