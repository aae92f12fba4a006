"""A small, realistic run folder for the report tests (no model run needed).

The folder has every file ``shadow replay`` writes, with the same columns and the divergences
computed by ``shadow.compare`` itself, so the reports read it exactly like a real run. All
values come from arithmetic on the seq: the same call writes the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shadow.compare.frame import OUTCOME_COLUMNS
from shadow.compare.lines import outcome_records
from shadow.compare.pairs import SEVERITIES, CompareSettings, compare_pair
from shadow.compare.signatures import divergence_records, signatures_summary
from shadow.config.assumptions import assumptions_in_force
from shadow.config.effective import load_config
from shadow.gate.verdict import SCHEMA_VERSION as GATE_SCHEMA_VERSION
from shadow.kernel import FATES
from shadow.runfolder import SCHEMA_VERSION
from shadow.runfolder.folder import file_hashes, write_json, write_jsonl, write_parquet

T0 = 1_700_000_000_000_000
CONTACTS = 12
MESSAGES = 90
COHORT = {3, 7}  # contacts (by index) in the 10% cohort


def _contact(index: int, keep_raw: bool) -> str:
    return f"+55119876500{index:02d}" if keep_raw else f"c{index + 1:06d}"


def _stream(keep_raw: bool) -> dict[str, list[Any]]:
    contact_index = [(seq * 5 + seq // 24) % CONTACTS for seq in range(MESSAGES)]
    received = [T0 + seq * 20_000_000 + (seq % 3) * 1_500_000 for seq in range(MESSAGES)]
    repeat = [
        ("resend" if seq % 11 == 4 else "legit" if seq % 13 == 6 else None)
        for seq in range(MESSAGES)
    ]
    columns: dict[str, list[Any]] = {
        "seq": list(range(MESSAGES)),
        "message_id": [f"m{seq + 1:07d}" for seq in range(MESSAGES)],
        "contact_id": [_contact(i, keep_raw) for i in contact_index],
        "received_at": received,
        "sent_at": [r - 400_000 for r in received],
        "type": ["text"] * MESSAGES,
        "text_hash": [f"{(seq // 2) * 7919 % 65536:016x}" for seq in range(MESSAGES)],
        "text_norm_hash": [f"{(seq // 2) * 7919 % 65536:016x}" for seq in range(MESSAGES)],
        "topic": [f"t{seq // 3}" for seq in range(MESSAGES)],
        "repeat_kind": repeat,
        "bucket": [(3 if i in COHORT else 40 + i) for i in contact_index],
    }
    if keep_raw:
        columns["text"] = [f"Oi, pedido {seq // 2}" for seq in range(MESSAGES)]
    return columns


def _outcomes(arm: str, stream: dict[str, list[Any]], cohort: list[bool]) -> pd.DataFrame:
    size = MESSAGES
    at = (np.asarray(stream["received_at"]) - T0) / 1e6
    fate, rule, cause, pc, rc, batch, latency, system = [], [], [], [], [], [], [], []
    unified_like = arm == "unified"
    for seq in range(size):
        uni = unified_like or (arm.startswith("rollout@") and cohort[seq])
        system.append("unified" if uni else ("recorded" if arm == "recorded" else "legacy"))
        f, r, c, p, n, b = "answered", "", "", 1, 1, 1
        lat = 3.0 + (seq % 7) * 0.8
        if arm == "recorded":
            p, b = 0, 0
            if seq % 17 == 3:
                f, r, c, n, lat = "unanswered", "recorded", "recorded", 0, float("nan")
            else:
                lat += 0.4
        elif uni:
            if seq % 11 == 4:
                f, r, c, p, n, b, lat = (
                    "duplicate_suppressed",
                    "unified.duplicate_window",
                    "unified.duplicate_window",
                    0,
                    0,
                    0,
                    float("nan"),
                )
            elif seq % 9 == 2:
                n, c = 2, "unified.lock_wait"
                lat += 4.5
        else:
            if seq % 6 == 1:
                b, c = 2, "coordinator.batching.batch_delay"
                lat += 1.0
            if seq % 19 == 5:
                f, r, c, n, lat = (
                    "unanswered",
                    "response_manager.duplicate_window",
                    "response_manager.duplicate_window",
                    0,
                    float("nan"),
                )
        fate.append(f)
        rule.append(r)
        cause.append(c)
        pc.append(p)
        rc.append(n)
        batch.append(b if b > 0 else None)
        latency.append(lat)
    latency_arr = np.asarray(latency, dtype=float)
    return pd.DataFrame(
        {
            "arm": pd.Series([arm] * size, dtype="string"),
            "seq": np.arange(size, dtype=np.int64),
            "contact_id": pd.Series(stream["contact_id"], dtype="string"),
            "fate": pd.Series(fate, dtype="string"),
            "rule": pd.Series(rule, dtype="string"),
            "cause": pd.Series(cause, dtype="string"),
            "processing_count": pd.array(pc, dtype="Int64"),
            "reply_count": pd.array(rc, dtype="Int64"),
            "first_reply_at": pd.Series(at + latency_arr, dtype="float64"),
            "reply_latency": pd.Series(latency_arr, dtype="float64"),
            "batch_size": pd.array(batch, dtype="Int64"),
            "reply_text_hash": pd.Series(
                [None if np.isnan(v) else f"r{seq % 5}" for seq, v in enumerate(latency)],
                dtype="string",
            ),
            "order_violation": np.zeros(size, dtype=bool),
            "wait_orchestrator": pd.Series([np.nan] * size, dtype="float64"),
            "wait_coordinator": pd.Series([np.nan] * size, dtype="float64"),
            "wait_response_manager": pd.Series([np.nan] * size, dtype="float64"),
            "system": pd.Series(system, dtype="string"),
            "repeat_of": pd.array(
                [s - 1 if k else None for s, k in enumerate(stream["repeat_kind"])], dtype="Int64"
            ),
            "repeat_kind": pd.Series(stream["repeat_kind"], dtype="string"),
        }
    )[list(OUTCOME_COLUMNS)]


def _gauges(arms: list[str]) -> pd.DataFrame:
    structures: dict[str, list[tuple[str, int | None]]] = {
        "legacy": [
            ("orchestrator.locks", 50),
            ("coordinator.hashes", None),
            ("coordinator.queued_messages", None),
            ("response_manager.cache", 10_000),
            ("chain.lock_disagreement", None),
        ],
        "unified": [
            ("unified.locks", 10_000),
            ("unified.hashes", 10_000),
            ("unified.responses", 10_000),
        ],
    }
    structures["rollout@10"] = [(f"legacy/{n}", c) for n, c in structures["legacy"]] + [
        (f"unified/{n}", c) for n, c in structures["unified"]
    ]
    rows: dict[str, list[Any]] = {"arm": [], "structure": [], "time": [], "value": [], "cap": []}
    for arm in arms:
        for rank, (name, cap) in enumerate(structures.get(arm, [])):
            for step in range(0, 200):
                rows["arm"].append(arm)
                rows["structure"].append(name)
                rows["time"].append(step * 10.0)
                rows["value"].append((step * (rank + 2)) % (37 + 11 * rank))
                rows["cap"].append(cap)
    return pd.DataFrame(
        {
            "arm": pd.Series(rows["arm"], dtype="string"),
            "structure": pd.Series(rows["structure"], dtype="string"),
            "time": pd.Series(rows["time"], dtype="float64"),
            "value": pd.Series(rows["value"], dtype="int64"),
            "cap": pd.array(rows["cap"], dtype="Int64"),
        }
    )


def write_fixture_run(
    out: Path, *, keep_raw: bool = False, recorded: bool = True, gate: bool = False
) -> Path:
    """Write a run folder of 90 messages, 12 contacts, arms legacy/unified/rollout@10[/recorded]."""
    out.mkdir(parents=True, exist_ok=True)
    stream = _stream(keep_raw)
    contact_index = [(seq * 5 + seq // 24) % CONTACTS for seq in range(MESSAGES)]
    cohort = [i in COHORT for i in contact_index]
    arms = ["legacy", "unified", "rollout@10"] + (["recorded"] if recorded else [])
    frames = {arm: _outcomes(arm, stream, cohort) for arm in arms}
    write_parquet(out / "stream.parquet", stream)
    write_parquet(out / "outcomes.parquet", pd.concat(frames.values(), ignore_index=True))
    lines: list[dict[str, Any]] = []
    counts: dict[str, Any] = {}
    for baseline, candidate in (("legacy", "unified"), ("legacy", "rollout@10")):
        effect = np.asarray(cohort) if candidate.startswith("rollout@") else None
        pair = compare_pair(frames[baseline], frames[candidate], CompareSettings(), effect=effect)
        pair_lines = divergence_records(pair, frames[baseline], frames[candidate], outcome_records)
        lines.extend(pair_lines)
        by_kind: dict[str, int] = {}
        for line in pair_lines:
            for kind in line["kinds"]:
                by_kind[kind] = by_kind.get(kind, 0) + 1
        counts[f"{baseline} vs {candidate}"] = {
            "by_severity": {
                s: sum(1 for x in pair_lines if x["severity"] == s) for s in SEVERITIES
            },
            "by_kind": dict(sorted(by_kind.items())),
        }
    write_jsonl(out / "divergences.jsonl", lines)
    write_json(out / "signatures.json", signatures_summary(lines))
    gauges = _gauges(arms)
    write_parquet(out / "gauges.parquet", gauges)
    config = load_config(None, ["environment.seed=7", "coordinator.duplicate_window=5s"])
    manifest: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "harness_version": "0.1.0",
        "inputs": [
            {
                "scenario": "conflict-2-oi",
                "seed": 7,
                "sha256": "ab" * 32,
                "format": "shadow",
                "lines": MESSAGES,
                "line_kinds": {"inbound": MESSAGES},
                "messages": MESSAGES,
            }
        ],
        "accounting": {},
        "warnings": [],
        "config": config.document(),
        "config_sha256": config.sha256,
        "seed": 7,
        "arms": arms,
        "stages": [10],
        "flip_at": None,
        "rollout": {
            "fingerprint": {
                "provider": "unleash",
                "flag": "USE_UNIFIED_COORDINATOR",
                "group_id": "USE_UNIFIED_COORDINATOR",
                "stickiness": "contact_id",
            },
            "cohorts": {"10": {"contacts": len(COHORT), "messages": int(sum(cohort))}},
        },
        "assumptions": assumptions_in_force(config.flat()),
        "keep_raw": keep_raw,
        "stream": {
            "messages": MESSAGES,
            "contacts": CONTACTS,
            "first_at_us": T0,
            "span_s": (stream["received_at"][-1] - T0) / 1e6,
        },
        "fates": {arm: {f: int((frames[arm]["fate"] == f).sum()) for f in FATES} for arm in arms},
        "divergences": counts,
        "stats": {arm: {} for arm in arms},
        "lock_disagreement_s": {"legacy": 0},
        "gauges": {
            arm: {
                str(name): {
                    "peak": int(part["value"].max()),
                    "peak_at_s": float(part["time"].iloc[int(part["value"].to_numpy().argmax())]),
                    "cap": None if pd.isna(part["cap"].iloc[0]) else int(part["cap"].iloc[0]),
                }
                for name, part in gauges[gauges["arm"] == arm].groupby("structure", sort=True)
            }
            for arm in arms
        },
        "recorded_latency_fallbacks": {arm: 0 for arm in arms},
        "rejected_lines": 0,
        "script_message_ids": {},
    }
    manifest["files"] = file_hashes(out)
    write_json(out / "run.json", manifest)
    if gate:
        write_json(out / "gate-10.json", gate_document())
    return out


def gate_document() -> dict[str, Any]:
    """A gate-10.json shaped like shadow.gate's (one failing check)."""
    return {
        "schema_version": GATE_SCHEMA_VERSION,
        "stage": 10,
        "verdict": "fail",
        "baseline": "legacy",
        "candidate": "rollout@10",
        "as_of": "2025-01-15",
        "checks": [
            {
                "name": "flag fingerprint",
                "type": "precondition",
                "scope": "all",
                "verdict": "pass",
                "reason": "first stage",
                "measures": [],
                "examples": [],
            },
            {
                "name": "no lost replies",
                "type": "rate",
                "scope": "all",
                "verdict": "fail",
                "reason": "direct messages: 3 of 15 (20%) above max_rate 0.5%",
                "measures": [
                    {
                        "scope": "direct",
                        "unit": "messages",
                        "threshold_key": "max_rate",
                        "n": 15,
                        "count": 3,
                        "observed": 0.2,
                        "lower": 0.057,
                        "upper": 0.43,
                        "threshold": 0.005,
                        "verdict": "fail",
                        "messages_needed": None,
                    }
                ],
                "examples": [
                    {
                        "seq": 15,
                        "command": "shadow explain RUN_DIR --seq 15 --arms legacy,rollout@10",
                    }
                ],
            },
        ],
        "reasons": ["no lost replies: direct messages: 3 of 15 (20%) above max_rate 0.5%"],
        "readings": {
            "pinned": [
                {
                    "key": "unified.record_response",
                    "tag": "A11",
                    "value": "after_send",
                    "label": "after_send",
                    "reason": "read in the code",
                    "approver": "ana",
                }
            ],
            "depends_on": [
                {
                    "key": "unified.late_result",
                    "tag": "A13",
                    "verdicts": [
                        {
                            "value": "drop",
                            "label": "drop",
                            "in_force": True,
                            "verdict": "fail",
                            "clause": "late results are dropped",
                        },
                        {
                            "value": "send",
                            "label": "send",
                            "in_force": False,
                            "verdict": "pass",
                            "clause": "late results are sent",
                        },
                    ],
                }
            ],
            "holds_under": ["unified.dedupe_by_message_id"],
            "not_evaluated": [],
        },
    }


def fake_timelines(path: Path, seqs: list[int], arms: list[str]) -> list[Any]:
    """Stand-in for ``shadow.explain`` re-runs: a plausible event trail per seq and arm."""
    from shadow.explain.timelines import Timeline
    from shadow.kernel import DecisionEvent

    timelines = []
    for arm in arms:
        events = []
        for seq in seqs:
            at = seq * 20_000_000 + (seq % 3) * 1_500_000
            events.append(DecisionEvent(at, "arrived", (seq,), "", "orchestrator", arm, ""))
            if arm == "unified" and seq % 11 == 4:
                events.append(
                    DecisionEvent(
                        at + 1_000,
                        "duplicate_suppressed",
                        (seq,),
                        "unified.duplicate_window",
                        "unified",
                        arm,
                        "",
                    )
                )
                continue
            events.append(
                DecisionEvent(at + 2_000, "processing_started", (seq,), "", "coordinator", arm, "")
            )
            events.append(
                DecisionEvent(
                    at + 3_000_000 + (seq % 7) * 800_000,
                    "reply_sent",
                    (seq,),
                    "",
                    "response_manager",
                    arm,
                    f"r{seq % 5}",
                )
            )
        timelines.append(Timeline(arm, sorted(events, key=lambda e: e.at), []))
    return timelines
