"""A run folder loaded and aggregated with pandas: the figures every report section shows.

Guarantees:

1. Loading verifies the folder against ``run.json``'s hashes (an altered folder is refused with
   ``InputError``, exit 3) and reads only what the run folder holds: no clock, no network.
2. Every aggregate is a pure function of the folder (and ``show_text``): sorted explicitly,
   never by hash order, so two renders of the same run give the same bytes.
3. Aggregates are small whatever the run size: tables are capped and charts receive binned or
   quantile data, never one point per message.
4. Contacts are shown as pseudonyms: when the run kept raw ids (``--keep-raw``) and text is not
   asked for, they are replaced by ``c000001``... in order of first appearance, as a run
   without ``--keep-raw`` would have named them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shadow.common import SEVERITIES, InputError
from shadow.kernel import FATES
from shadow.runfolder import verify_folder

#: The seed's worst-case memory arithmetic (seed review, "Cálculo de Memória").
SEED_MEMORY = {
    "coordinator.queued_messages": 1_000,  # 50 queues x 20 messages
    "orchestrator.queued_messages": 500,  # 50 queues x 10 messages
    "response_manager.cache": 10_000,
    "response_manager.pending": 1_000,
}
SEED_MEMORY_TOTAL = 12_500
#: Gauges that count something other than entries held in memory.
NOT_MEMORY = ("lock_disagreement",)
QUANTILES = np.linspace(0.0, 1.0, 101)
TIME_BINS = 60
GAUGE_BINS = 300


@dataclass
class RunData:
    """The run folder's files as frames; ``display`` maps a stored contact id to a shown one."""

    path: Path
    manifest: dict[str, Any]
    stream: pd.DataFrame  # seq, contact_id, at_s (from the stream start), text (show_text)
    outcomes: pd.DataFrame
    divergences: pd.DataFrame
    signatures: list[dict[str, Any]]
    gauges: pd.DataFrame
    gates: list[dict[str, Any]]
    display: Callable[[str], str]
    show_text: bool

    @property
    def arms(self) -> list[str]:
        return [str(a) for a in self.manifest.get("arms", [])]

    @property
    def pairs(self) -> list[str]:
        """The compared pairs in arm order (``run.json`` stores them sorted by name)."""
        rank = {arm: index for index, arm in enumerate(self.arms)}

        def key(pair: str) -> tuple[int, int, str]:
            baseline, _, candidate = pair.partition(" vs ")
            return rank.get(baseline, len(rank)), rank.get(candidate, len(rank)), pair

        return sorted(self.manifest.get("divergences", {}), key=key)

    def contact_of(self, seq: int) -> str:
        return self.display(str(self.stream["contact_id"].iat[seq]))

    def text_of(self, seq: int) -> str | None:
        if not self.show_text or "text" not in self.stream.columns:
            return None
        value: Any = self.stream["text"].iat[seq]
        return None if value is None or value is pd.NA else str(value)


DIVERGENCE_COLUMNS = (
    "pair",
    "baseline",
    "candidate",
    "seq",
    "severity",
    "signature",
    "effect",
    "kinds",
    "baseline_rule",
    "candidate_rule",
)


def load_run(path: Path, show_text: bool = False) -> RunData:
    """Verify and read a run folder (guarantee 1)."""
    manifest, _ = verify_folder(path)
    columns = ["seq", "contact_id", "received_at"]
    if show_text:
        columns.append("text")
    stream = pd.read_parquet(path / "stream.parquet", columns=columns)
    first = int(manifest.get("stream", {}).get("first_at_us") or 0)
    stream["at_s"] = (stream["received_at"].astype("int64") - first) / 1e6
    stream = stream.drop(columns=["received_at"]).sort_values("seq").reset_index(drop=True)
    outcomes = pd.read_parquet(path / "outcomes.parquet")
    signatures = json.loads((path / "signatures.json").read_text(encoding="utf-8"))
    gauges_file = path / "gauges.parquet"
    gauges = (
        pd.read_parquet(gauges_file)
        if gauges_file.exists()
        else pd.DataFrame({"arm": [], "structure": [], "time": [], "value": [], "cap": []})
    )
    return RunData(
        path=path,
        manifest=manifest,
        stream=stream,
        outcomes=outcomes,
        divergences=_read_divergences(path / "divergences.jsonl"),
        signatures=list(signatures),
        gauges=gauges,
        gates=_read_gates(path),
        display=_display(stream, bool(manifest.get("keep_raw")) and not show_text),
        show_text=show_text,
    )


def _read_divergences(path: Path) -> pd.DataFrame:
    """Only the fields the report aggregates (the outcome records stay on disk)."""
    rows: dict[str, list[Any]] = {name: [] for name in DIVERGENCE_COLUMNS}
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
                attribution = line.get("attribution", {})
                rows["pair"].append(f"{line['baseline']} vs {line['candidate']}")
                rows["baseline"].append(line["baseline"])
                rows["candidate"].append(line["candidate"])
                rows["seq"].append(int(line["seq"]))
                rows["severity"].append(line["severity"])
                rows["signature"].append(line["signature"])
                rows["effect"].append(line.get("effect"))
                rows["kinds"].append(",".join(line["kinds"]))
                rows["baseline_rule"].append(attribution.get("baseline", {}).get("rule") or "")
                rows["candidate_rule"].append(attribution.get("candidate", {}).get("rule") or "")
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(str(path), number, f"not a divergence line: {exc}") from exc
    frame = pd.DataFrame(rows)
    frame["seq"] = frame["seq"].astype("int64")
    return frame


def _read_gates(path: Path) -> list[dict[str, Any]]:
    """Every ``gate-P.json`` of the folder, by stage."""
    gates = []
    for file in path.glob("gate-*.json"):
        stage = file.stem.removeprefix("gate-")
        if not stage.isdigit():
            continue
        try:
            document = json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(str(file), exc.lineno, f"not valid JSON: {exc.msg}") from exc
        document.setdefault("stage", int(stage))
        gates.append(document)
    return sorted(gates, key=lambda g: int(g["stage"]))


def _display(stream: pd.DataFrame, pseudonymize: bool) -> Callable[[str], str]:
    if not pseudonymize:
        return str
    order = pd.unique(stream["contact_id"].astype("string"))
    names = {str(raw): f"c{index + 1:06d}" for index, raw in enumerate(order)}
    return lambda contact: names.get(contact, "c??????")


# --- aggregates ----------------------------------------------------------------------------


def fate_rows(data: RunData) -> list[dict[str, Any]]:
    """One row per fate: count and share per arm (run.json ``fates``)."""
    fates = data.manifest.get("fates", {})
    totals = {arm: sum(fates.get(arm, {}).values()) for arm in data.arms}
    rows = []
    for fate in FATES:
        cells = []
        for arm in data.arms:
            count = int(fates.get(arm, {}).get(fate, 0))
            cells.append({"count": count, "share": share(count, totals[arm])})
        if any(c["count"] for c in cells) or fate == "answered":
            rows.append({"fate": fate, "cells": cells})
    return rows


def share(count: float, total: float) -> str:
    return f"{100 * count / total:.1f}%" if total else "-"


def divergence_tables(data: RunData) -> dict[str, Any]:
    """Counts by severity per pair, and by kind (rows) per pair (columns)."""
    pairs = data.manifest.get("divergences", {})
    names = data.pairs
    severity_rows = [
        {"pair": pair, "counts": [int(pairs[pair]["by_severity"].get(s, 0)) for s in SEVERITIES]}
        for pair in names
    ]
    kinds = sorted({kind for pair in names for kind in pairs[pair].get("by_kind", {})})
    kind_rows = [
        {"kind": kind, "counts": [int(pairs[p].get("by_kind", {}).get(kind, 0)) for p in names]}
        for kind in kinds
    ]
    return {"pairs": names, "severity_rows": severity_rows, "kind_rows": kind_rows}


def signature_rules(data: RunData, signature: str, pair: str | None = None) -> tuple[str, str]:
    """The rule on each side for a signature's first divergence (in ``pair`` when given)."""
    frame = data.divergences
    rows = frame[frame["signature"] == signature]
    if pair is not None:
        rows = rows[rows["pair"] == pair]
    if rows.empty:
        return "", ""
    first = rows.iloc[0]
    return str(first["baseline_rule"]), str(first["candidate_rule"])


def cohort_rows(data: RunData) -> list[dict[str, Any]]:
    """Per stage: cohort size, then per pair with that stage's rollout arm, direct/indirect."""
    cohorts = data.manifest.get("rollout", {}).get("cohorts", {})
    stream = data.manifest.get("stream", {})
    frame = data.divergences
    rows = []
    for stage in sorted(cohorts, key=int):
        arm = f"rollout@{stage}"
        info = cohorts[stage]
        pairs = []
        subset = frame[frame["candidate"] == arm]
        for pair in sorted(subset["pair"].unique()):
            lines = subset[subset["pair"] == pair]
            effects = []
            for effect in ("direct", "indirect"):
                part = lines[lines["effect"] == effect]
                counts = part["severity"].value_counts()
                effects.append([int(counts.get(s, 0)) for s in SEVERITIES])
            pairs.append({"pair": pair, "direct": effects[0], "indirect": effects[1]})
        rows.append(
            {
                "stage": int(stage),
                "contacts": int(info.get("contacts", 0)),
                "messages": int(info.get("messages", 0)),
                "contact_share": share(info.get("contacts", 0), stream.get("contacts", 0)),
                "message_share": share(info.get("messages", 0), stream.get("messages", 0)),
                "pairs": pairs,
            }
        )
    return rows


def latency_summary(data: RunData) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Per arm: answered count and percentiles; and the quantile curve each chart line uses."""
    rows = []
    curves: dict[str, np.ndarray] = {}
    for arm in data.arms:
        answered = data.outcomes.loc[data.outcomes["arm"] == arm, "reply_latency"].dropna()
        values = answered.to_numpy(dtype=float)
        if values.size == 0:
            rows.append(
                {
                    "arm": arm,
                    "answered": 0,
                    "p50": None,
                    "p90": None,
                    "p95": None,
                    "p99": None,
                    "max": None,
                }
            )
            continue
        p50, p90, p95, p99 = np.quantile(values, [0.5, 0.9, 0.95, 0.99])
        rows.append(
            {
                "arm": arm,
                "answered": int(values.size),
                "p50": float(p50),
                "p90": float(p90),
                "p95": float(p95),
                "p99": float(p99),
                "max": float(values.max()),
            }
        )
        curves[arm] = np.quantile(values, QUANTILES)
    return rows, curves


def divergences_over_time(data: RunData) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """Divergences per time bin (from each message's arrival), per pair: all and regressions."""
    span = max(float(data.manifest.get("stream", {}).get("span_s") or 0.0), 1.0)
    edges = np.linspace(0.0, span, TIME_BINS + 1)
    frame = data.divergences
    at = data.stream["at_s"].to_numpy(dtype=float)
    series: dict[str, dict[str, np.ndarray]] = {}
    for pair in data.pairs:
        lines = frame[frame["pair"] == pair]
        times = at[lines["seq"].to_numpy(dtype=np.int64)]
        regressions = times[(lines["severity"] == "regression").to_numpy()]
        series[pair] = {
            "all": np.histogram(times, bins=edges)[0],
            "regression": np.histogram(regressions, bins=edges)[0],
        }
    return edges, series


def gauge_rows(data: RunData) -> list[dict[str, Any]]:
    """Every structure of every arm: peak, when, cap, and the seed's figure when it has one."""
    rows = []
    gauges = data.manifest.get("gauges", {})
    for arm in [a for a in data.arms if a in gauges] + sorted(set(gauges) - set(data.arms)):
        structures = gauges[arm]
        for name in sorted(structures):
            info = structures[name]
            base = name.split("/")[-1]
            cap = info.get("cap")
            peak = int(info.get("peak", 0))
            rows.append(
                {
                    "arm": arm,
                    "structure": name,
                    "peak": peak,
                    "peak_at_s": float(info.get("peak_at_s", 0.0)),
                    "cap": cap,
                    "cap_share": share(peak, cap) if cap else "-",
                    "seed": SEED_MEMORY.get(base),
                    "at_cap": bool(cap) and peak >= int(cap),
                }
            )
    return rows


def gauge_totals(data: RunData) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per arm, entries held in all structures over time (max per time bin)."""
    frame = data.gauges
    if frame.empty:
        return {}
    memory = frame[~frame["structure"].astype("string").str.endswith(NOT_MEMORY)]
    totals = memory.groupby(["arm", "time"], sort=True)["value"].sum().reset_index()
    span = max(float(totals["time"].max()), 1.0)
    edges = np.linspace(0.0, span, GAUGE_BINS + 1)
    result = {}
    for arm in data.arms:
        part = totals[totals["arm"] == arm]
        if part.empty:
            continue
        bins = np.clip(
            np.searchsorted(edges, part["time"].to_numpy(), side="right") - 1, 0, GAUGE_BINS - 1
        )
        peak = pd.Series(part["value"].to_numpy()).groupby(bins).max()
        result[arm] = (edges[peak.index.to_numpy()], peak.to_numpy(dtype=float))
    return result
