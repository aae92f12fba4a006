"""What a published run folder says, for alerts and metrics: read from its files once.

Guarantees: every figure comes from the run folder's own files (``stream.parquet``,
``outcomes.parquet``, ``divergences.jsonl``, ``gauges.parquet``): the numbers the alerts fire on
are the numbers ``shadow report`` and ``shadow gate`` read.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from shadow.live.alert_policy import HARM_FATES, AlertPolicy


def run_figures(run: Path) -> dict[str, Any]:
    """Counts for the metrics, and each divergence's and harm's capture time."""
    stream = pd.read_parquet(run / "stream.parquet", columns=["seq", "received_at"])
    at = dict(zip(stream["seq"].tolist(), stream["received_at"].tolist(), strict=True))
    outcomes = pd.read_parquet(
        run / "outcomes.parquet", columns=["arm", "seq", "contact_id", "fate"]
    )
    messages = {str(k): int(v) for k, v in outcomes.groupby("arm").size().items()}
    fates = Counter(zip(outcomes["arm"].tolist(), outcomes["fate"].tolist(), strict=True))
    harmed = outcomes[outcomes["fate"].isin(HARM_FATES)]
    harms = [(str(a), int(at[s])) for a, s in zip(harmed["arm"], harmed["seq"], strict=True)]
    stranded = outcomes[outcomes["fate"] == "stranded"].sort_values(["arm", "seq"])
    first = stranded.drop_duplicates(["arm", "contact_id"])
    stuck = [(str(a), int(at[s])) for a, s in zip(first["arm"], first["seq"], strict=True)]
    divergences: list[dict[str, Any]] = []
    by_kind: Counter[tuple[str, str, str]] = Counter()
    path = run / "divergences.jsonl"
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            pair = f"{record['baseline']}->{record['candidate']}"
            for kind in record["kinds"]:
                by_kind[(pair, kind, record["severities"].get(kind, record["severity"]))] += 1
            divergences.append(
                {
                    "pair": pair,
                    "at": int(at[record["seq"]]),
                    "kinds": record["kinds"],
                    "severity": record["severity"],
                }
            )
    gauges = pd.read_parquet(run / "gauges.parquet", columns=["arm", "structure", "time", "value"])
    last = gauges.sort_values("time").groupby(["arm", "structure"]).tail(1)
    model_state = {
        (str(a), str(s)): float(v)
        for a, s, v in zip(last["arm"], last["structure"], last["value"], strict=True)
    }
    return {
        "messages": messages,
        "fates": {(str(a), str(f)): int(n) for (a, f), n in fates.items()},
        "divergences": dict(by_kind),
        "model_state": model_state,
        "divergence_events": divergences,
        "harm_events": harms,
        "stuck_events": stuck,
    }


def alert_events(
    policy: AlertPolicy, figures: dict[str, Any], late_times: list[int]
) -> dict[str, dict[str, list[int]]]:
    """Per check, per key: the capture times of what the check counts."""
    events: dict[str, dict[str, list[int]]] = {}
    for check in policy.checks:
        keyed: dict[str, list[int]] = {}
        if check.kinds is not None:
            wanted = set(check.kinds)
            for d in figures["divergence_events"]:
                if wanted.intersection(d["kinds"]):
                    keyed.setdefault(d["pair"], []).append(d["at"])
        elif check.metric == "regressions":
            for d in figures["divergence_events"]:
                if d["severity"] == "regression":
                    keyed.setdefault(d["pair"], []).append(d["at"])
        elif check.metric == "harms":
            for arm, at in figures["harm_events"]:
                keyed.setdefault(arm, []).append(at)
        elif check.metric == "stuck_contacts":
            for arm, at in figures["stuck_events"]:
                keyed.setdefault(arm, []).append(at)
        elif check.metric == "late_lines" and late_times:
            keyed["capture"] = list(late_times)
        events[check.name] = keyed
    return events
