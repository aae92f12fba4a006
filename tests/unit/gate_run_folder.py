"""A small run-folder writer for gate tests: run.json (with the files' sha256),
divergences.jsonl and outcomes.parquet, shaped like the comparator's (shadow/gate/input.py)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from shadow.rollout.flags import RolloutSettings, fingerprint, in_stage
from shadow.runfolder import SCHEMA_VERSION

SETTINGS = RolloutSettings()


def contact_of(seq: int, contacts: int) -> str:
    return f"c{seq % contacts:06d}"


def outcome_rows(
    arm: str,
    messages: int,
    contacts: int,
    *,
    stage: int | None = None,
    failing: Iterable[int] = (),
    latency: float = 3.0,
    slow_by: float = 0.0,
) -> list[dict[str, Any]]:
    """Every message answered with ``latency`` (+ 1 ms per seq mod 100), except ``failing``."""
    failed = set(failing)
    rows = []
    for seq in range(messages):
        contact = contact_of(seq, contacts)
        unified = stage is not None and in_stage(contact, stage, SETTINGS)
        answered = seq not in failed
        system = ("unified" if unified else "legacy") if stage is not None else arm
        rows.append(
            {
                "arm": arm,
                "seq": seq,
                "contact_id": contact,
                "fate": "answered" if answered else "unanswered",
                "reply_latency": latency + (seq % 100) / 1000 + (slow_by if unified else 0.0)
                if answered
                else None,
                "system": system,
            }
        )
    return rows


def line(
    seq: int,
    contact: str,
    kinds: Sequence[str],
    *,
    baseline: str = "legacy",
    candidate: str = "rollout@10",
    severity: str = "regression",
    cause: str = "unified.processing_timeout",
    signature: str = "aaaaaaaaaaaa",
) -> dict[str, Any]:
    return {
        "seq": seq,
        "baseline": baseline,
        "candidate": candidate,
        "pair": f"{candidate} vs {baseline}",
        "kinds": list(kinds),
        "severity": severity,
        "signature": signature,
        "attribution": {
            "baseline": {"rule": "", "cause": ""},
            "candidate": {"rule": cause, "cause": cause},
        },
        "effect": "direct",
        "baseline_outcome": {"contact_id": contact},
        "candidate_outcome": {"contact_id": contact},
    }


def write_run(
    folder: Path,
    rows: Sequence[Mapping[str, Any]],
    lines: Sequence[Mapping[str, Any]],
    *,
    arms: Sequence[str] = ("legacy", "rollout@10"),
    settings: RolloutSettings = SETTINGS,
    seed: int = 1,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    divergences = folder / "divergences.jsonl"
    divergences.write_text(
        "".join(json.dumps(item, sort_keys=True) + "\n" for item in lines), encoding="utf-8"
    )
    outcomes = folder / "outcomes.parquet"
    pd.DataFrame(list(rows)).to_parquet(outcomes, index=False)
    files = {
        name: hashlib.sha256(path.read_bytes()).hexdigest()
        for name, path in (("divergences", divergences), ("outcomes", outcomes))
    }
    run = {
        "schema_version": SCHEMA_VERSION,
        "arms": list(arms),
        "seed": seed,
        "rollout": {"fingerprint": fingerprint(settings)},
        "files": files,
    }
    (folder / "run.json").write_text(json.dumps(run, indent=2, sort_keys=True), encoding="utf-8")
    return folder


def healthy_run(folder: Path, messages: int = 4000, contacts: int = 1000, **kw: Any) -> Path:
    """legacy and rollout@10 with identical outcomes: a run that should pass stage 10."""
    rows = outcome_rows("legacy", messages, contacts) + outcome_rows(
        "rollout@10", messages, contacts, stage=10
    )
    return write_run(folder, rows, [], **kw)
