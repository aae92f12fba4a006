"""The reports' verdict part (the banner and section 1): each stage's gate verdict and checks,
the headline counts and every arm's absolute harms, as plain data.

Apart from the rest of the context (``reports.context``) so that ``shadow gate``, which refreshes
only this part (``reports.render.verdict_parts``), imports no chart library.
"""

from __future__ import annotations

from typing import Any

from reports.data import RunData
from shadow.common import SEVERITIES
from shadow.compare import DUPLICATE_REPLY_WINDOW_S, HARM_COLUMNS, HARMS, arm_harms


def explain_command(seq: int, arms: tuple[str, str] | list[str]) -> str:
    return f"shadow explain RUN_DIR --seq {seq} --arms {','.join(arms)}"


def verdicts(data: RunData) -> dict[str, Any]:
    """Per evaluated stage the gate's verdict and checks; the commands for stages not gated."""
    gated = {int(g["stage"]): g for g in data.gates}
    stages = sorted({int(s) for s in data.manifest.get("stages", [])} | set(gated))
    rows = []
    previous: int | None = None
    for stage in stages:
        gate = gated.get(stage)
        if gate is None:
            command = f"shadow gate RUN_DIR --stage {stage}"
            if previous is not None:
                command += f" --previous RUN_DIR/gate-{previous}.json"
            rows.append({"stage": stage, "verdict": "not gated yet", "command": command})
        else:
            rows.append(
                {
                    "stage": stage,
                    "verdict": str(gate.get("verdict", "fail")),
                    "baseline": gate.get("baseline", ""),
                    "candidate": gate.get("candidate", f"rollout@{stage}"),
                    "as_of": gate.get("as_of", ""),
                    "checks": [_check(c, gate) for c in gate.get("checks", [])],
                    "deciding": _deciding(gate),
                    "readings": _readings(gate),
                }
            )
        previous = stage
    order = {"fail": 0, "inconclusive": 1, "not gated yet": 2, "pass": 3}
    verdicts_seen = [str(r["verdict"]) for r in rows]
    overall = min(verdicts_seen, key=lambda v: order.get(v, 0), default=None)
    pairs = data.manifest.get("divergences", {})
    headline = [
        {"pair": pair, "counts": [int(pairs[pair]["by_severity"].get(s, 0)) for s in SEVERITIES]}
        for pair in data.pairs
        if pair.startswith("legacy vs ")
    ]
    return {
        "stages": rows,
        "overall": overall or "no stage replayed",
        "headline": headline,
        "harms": harm_table(data),
    }


HARM_HELP = {
    "redeliveries_answered": "redeliveries answered again",
    "meant_suppressed": "meant messages suppressed",
    "never_answered": "never answered",
    "duplicate_replies": "duplicate replies",
    "stranded": "stranded at the end",
}


def harm_table(data: RunData) -> dict[str, Any]:
    """Every arm's absolute harms (``shadow.compare.arm_harms``, the gate's own counts), with
    the duplicate-reply window of the gate's policy (the default when not gated)."""
    window = DUPLICATE_REPLY_WINDOW_S
    for gate in data.gates:
        window = float((gate.get("policy") or {}).get("duplicate_reply_window", window))
        break
    outcomes = data.outcomes
    rows = []
    if all(column in outcomes.columns for column in HARM_COLUMNS):
        arms = outcomes["arm"].astype(str)
        for arm in data.arms:
            counts = arm_harms(outcomes[arms == arm], window)
            rows.append({"arm": arm, "counts": [counts[harm] for harm in HARMS]})
    return {
        "names": [HARM_HELP[harm] for harm in HARMS],
        "keys": list(HARMS),
        "rows": rows,
        "window": _count(window) + "s",
    }


def _readings(gate: dict[str, Any]) -> dict[str, Any] | None:
    """The open readings the verdict depends on (each value with its verdict), how many it
    holds under, the ones not replayed and the pinned ones (docs/gate.md, Open readings)."""
    readings = gate.get("readings")
    if not isinstance(readings, dict):
        return None
    depends = [
        {
            "reading": f"{entry.get('key', '')} [{entry.get('tag', '')}]",
            "outcomes": [
                {
                    "label": str(value.get("label", "")),
                    "verdict": str(value.get("verdict", "")),
                    "clause": str(value.get("clause", "")),
                    "in_force": bool(value.get("in_force")),
                }
                for value in entry.get("verdicts", [])
            ],
        }
        for entry in readings.get("depends_on", [])
    ]
    pinned = [
        {
            "reading": f"{pin.get('key', '')} [{pin.get('tag', '')}]",
            "label": str(pin.get("label", "")),
            "approver": str(pin.get("approver", "")),
            "reason": str(pin.get("reason", "")),
        }
        for pin in readings.get("pinned", [])
    ]
    return {
        "depends_on": depends,
        "holds_under": len(readings.get("holds_under", [])),
        "not_evaluated": [str(key) for key in readings.get("not_evaluated", [])],
        "pinned": pinned,
    }


def _deciding(gate: dict[str, Any]) -> list[dict[str, Any]]:
    """The gate's deciding checks in its own order (failing first, then inconclusive)."""
    checks = [c for c in gate.get("checks", []) if c.get("verdict") != "pass"]
    order = {"fail": 0, "inconclusive": 1}
    checks.sort(key=lambda c: order.get(str(c.get("verdict")), 2))  # stable: check order kept
    return [
        {"name": c.get("name", ""), "verdict": c.get("verdict", ""), "reason": c.get("reason", "")}
        for c in checks
    ]


def _check(check: dict[str, Any], gate: dict[str, Any]) -> dict[str, Any]:
    measures = []
    for m in check.get("measures", []):
        seconds = m.get("unit") == "seconds"
        fmt = _seconds if seconds else _rate
        count = "" if seconds else f"{m.get('count')} of {m.get('n')} {m.get('unit', '')}"
        if m.get("threshold_key") in ("max_count", "baseline_count"):
            fmt = _count
        measures.append(
            {
                "scope": m.get("scope", ""),
                "verdict": m.get("verdict", ""),
                "count": count,
                "observed": fmt(m.get("observed")),
                "bound": "-"
                if m.get("threshold_key") in ("max_count", "baseline_count")
                else fmt(m.get("upper")),
                "threshold": f"{m.get('threshold_key', '')} {fmt(m.get('threshold'))}".strip(),
                "needed": m.get("messages_needed"),
            }
        )
    examples = check.get("examples") or []
    return {
        "name": check.get("name", ""),
        "verdict": check.get("verdict", ""),
        "reason": check.get("reason", ""),
        "measures": measures,
        # rebuilt with RUN_DIR: the gate names the folder as it was called
        "command": explain_command(
            int(examples[0]["seq"]),
            (str(gate.get("baseline", "legacy")), str(gate.get("candidate", ""))),
        )
        if examples and "seq" in examples[0]
        else "",
    }


def _rate(value: Any) -> str:
    return "-" if value is None else f"{float(value) * 100:.3g}%"


def _seconds(value: Any) -> str:
    return "-" if value is None else f"{float(value):.2f}s"


def _count(value: Any) -> str:
    return "-" if value is None else f"{float(value):g}"
