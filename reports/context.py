"""Everything both reports show, as plain data: sections in order, with their explanations.

Guarantees:

1. The Markdown and the HTML report render the same context, so they never disagree.
2. The sections are always present and always in ``SECTIONS`` order; a section without data
   says why (e.g. "not gated yet", "no recorded replies").
3. Commands name the run folder ``RUN_DIR`` (report.md then names it as the user did,
   ``reports.render``) and the inputs, config and seed only: never
   ``--out``, ``--workers``, ``--force``, an absolute path or a date (the report is the same
   bytes wherever the run folder lives).
"""

from __future__ import annotations

from typing import Any

import reports.charts as charts
from reports.data import (
    SEED_MEMORY,
    SEED_MEMORY_TOTAL,
    RunData,
    cohort_rows,
    divergence_tables,
    divergences_over_time,
    fate_rows,
    gauge_rows,
    gauge_totals,
    latency_summary,
    signature_rules,
)
from reports.fidelity import extra_reply_rows, fidelity_rows
from reports.reproduce import ConfigDiff, config_sets, reproduce_commands
from reports.swimlanes import contact_timelines
from reports.verdicts import explain_command, verdicts
from shadow.common import SEVERITIES
from shadow.config import render_value

SECTIONS = (
    ("verdict", "Verdict"),
    ("replayed", "What was replayed"),
    ("fates", "Fates per arm"),
    ("divergences", "Divergences by severity and kind"),
    ("signatures", "Top signatures"),
    ("cohorts", "Rollout stages: direct and indirect effects"),
    ("latency", "Reply latency"),
    ("over-time", "Divergences over virtual time"),
    ("gauges", "State gauges against caps and the seed's memory analysis"),
    ("timelines", "Contact timelines for the top signatures"),
    ("fidelity", "Model fidelity against recorded production replies"),
    ("more-replies", "Contacts that get more replies on unified"),
    ("assumptions", "Model assumptions in force"),
    ("reproduce", "How to reproduce"),
)
TOP_SIGNATURES = 10
TIMELINE_EXAMPLES = 3
EXTRA_REPLY_ROWS = 20
KIND_HELP = {
    "lost_reply": "the baseline answered; the candidate did not (and did not suppress it)",
    "lost_message": "the candidate dropped as a copy a message the user meant (distinct content,"
    " or a repeat after a reply); the baseline did not drop it",
    "suppressed_as_duplicate": "the candidate dropped it as a duplicate; the baseline answered",
    "recovered_reply": "the candidate answered; the baseline did not",
    "processing_removed": "the candidate did not call the agent for it; the baseline did",
    "processing_added": "the candidate called the agent for it; the baseline did not",
    "extra_replies": "both answered; the candidate sent more replies",
    "fewer_replies": "both answered; the candidate sent fewer replies",
    "slower": "both answered; the candidate replied notably later",
    "faster": "both answered; the candidate replied notably sooner",
    "order_broken": "the candidate answered it after a later message of the same contact",
    "order_fixed": "the baseline answered out of order; the candidate in order",
    "batching_changed": "the agent call held a different number of messages",
    "reply_text_changed": "both answered with different reply texts",
    "handover": "a contact moved between systems at the flip and this message paid for it",
    "harness_error": "comparing this message failed inside the harness (the gate fails)",
}
SEVERITY_HELP = {
    "regression": "worse for the user (the gate counts these)",
    "change": "different, neither better nor worse by itself",
    "improvement": "better for the user (never netted against regressions)",
}


def repro_command(signature: str, arms: list[str]) -> str:
    """``shadow repro`` of a signature (as shadow.repro spells it); none for pairs it cannot
    replay from a scenario (``recorded``, ``legacy~N``)."""
    if any(arm == "recorded" or arm.startswith("legacy~") for arm in arms):
        return ""
    return f"shadow repro RUN_DIR {signature} --pair {','.join(arms)}"


def build_context(data: RunData) -> dict[str, Any]:
    """The whole report as data (guarantee 1)."""
    latency_rows, curves = latency_summary(data)
    edges, series = divergences_over_time(data)
    extra_rows, extra_totals = extra_reply_rows(data, EXTRA_REPLY_ROWS)
    signatures = top_signatures(data)
    examples, timeline_note = contact_timelines(data, data.signatures, TIMELINE_EXAMPLES)
    diff = config_sets(data)
    return {
        "sections": [{"id": key, "title": title} for key, title in SECTIONS],
        "verdict": verdicts(data),
        "replayed": replayed(data),
        "arms": data.arms,
        "fates": fate_rows(data),
        "divergences": divergence_tables(data),
        "severities": list(SEVERITIES),
        "severity_help": SEVERITY_HELP,
        "kind_help": KIND_HELP,
        "signatures": signatures,
        "signature_total": len(data.signatures),
        "cohorts": cohort_rows(data),
        "latency": latency_rows,
        "latency_chart": charts.latency_cdf(curves, data.arms, data.pairs),
        "over_time_chart": charts.divergences_timeline(edges, series),
        "over_time_bins": {pair: int(s["all"].sum()) for pair, s in series.items()},
        "gauges": gauge_rows(data),
        "gauge_chart": charts.gauge_totals(gauge_totals(data), data.arms, SEED_MEMORY_TOTAL),
        "seed_memory": SEED_MEMORY,
        "seed_memory_total": SEED_MEMORY_TOTAL,
        "timelines": examples,
        "timeline_note": timeline_note,
        "fidelity": fidelity_rows(data),
        "has_recorded": "recorded" in data.arms,
        "extra_replies": extra_rows,
        "extra_totals": extra_totals,
        "extra_limit": EXTRA_REPLY_ROWS,
        "assumptions": assumptions(data, diff),
        "reproduce": reproduce_commands(data, diff),
        "show_text": data.show_text,
    }


def duration(seconds: float) -> str:
    """``1h 05m``, ``12m 30s`` or ``42.0s``."""
    whole = round(seconds)
    if whole >= 3600:
        return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
    if whole >= 60:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{seconds:.1f}s"


def replayed(data: RunData) -> dict[str, Any]:
    m = data.manifest
    stream = m.get("stream", {})
    inputs = []
    for item in m.get("inputs", []):
        name = f"scenario:{item['scenario']}" if "scenario" in item else str(item.get("path"))
        inputs.append(
            {
                "name": name,
                "sha256": item.get("sha256", ""),
                "format": item.get("format", ""),
                "lines": item.get("lines", ""),
                "messages": item.get("messages", ""),
            }
        )
    fingerprint = m.get("rollout", {}).get("fingerprint", {})
    return {
        "inputs": inputs,
        "messages": int(stream.get("messages", 0)),
        "contacts": int(stream.get("contacts", 0)),
        "span": duration(float(stream.get("span_s", 0.0))),
        "seed": m.get("seed"),
        "config_sha256": m.get("config_sha256", ""),
        "harness_version": m.get("harness_version", ""),
        "arms": data.arms,
        "stages": m.get("stages", []),
        "flip_at": None if m.get("flip_at") is None else duration(int(m["flip_at"]) / 1e6),
        "fingerprint": ", ".join(f"{k}={fingerprint[k]}" for k in sorted(fingerprint)),
        "warnings": [str(w) for w in m.get("warnings", [])][:10],
        "rejected": int(m.get("rejected_lines", 0) or 0),
        "keep_raw": bool(m.get("keep_raw")),
    }


def top_signatures(data: RunData) -> list[dict[str, Any]]:
    rows = []
    for sig in data.signatures[:TOP_SIGNATURES]:
        pair = sorted(sig.get("pairs", {}))[0]  # a group belongs to one pair
        arms = pair.split(" vs ")
        baseline_rule, candidate_rule = signature_rules(data, str(sig["signature"]), pair)
        examples = [int(s) for s in sig.get("examples", [])]
        rows.append(
            {
                "signature": sig["signature"],
                "severity": sig["severity"],
                "count": int(sig["count"]),
                "kinds": list(sig["kinds"]),
                "pairs": ", ".join(f"{p} ({n})" for p, n in sorted(sig.get("pairs", {}).items())),
                "baseline": sig.get("baseline_family", arms[0]),
                "candidate": sig.get("candidate_family", arms[-1]),
                "baseline_rule": baseline_rule or "-",
                "candidate_rule": candidate_rule or "-",
                "baseline_cause": sig.get("baseline_cause") or "-",
                "candidate_cause": sig.get("candidate_cause") or "-",
                "examples": examples,
                "command": explain_command(examples[0], arms) if examples else "",
                "repro": repro_command(str(sig["signature"]), arms),
                "text": data.text_of(examples[0]) if examples else None,
                "contact": data.contact_of(examples[0]) if examples else "",
            }
        )
    return rows


def assumptions(data: RunData, diff: ConfigDiff) -> list[dict[str, Any]]:
    """Each [A#] with its value in force and whether the run changed it."""
    return [
        {
            "tag": a.get("tag", ""),
            "key": a.get("key", ""),
            "reading": a.get("reading", ""),
            "value": render_value(a.get("value")),
            "changed": a.get("key", "") in diff.changed,
        }
        for a in data.manifest.get("assumptions", [])
    ]
