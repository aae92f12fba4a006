"""The Markdown summary of a gate verdict, for a pull request comment or a CI job summary.

Guarantees: a pure function of the verdict document (same document, same bytes); every
failing or inconclusive check shows its observed figure, bound, threshold, the messages that
would decide it, and example seqs with their ``shadow explain`` commands; waivers (used,
unused, stale) and waived divergences are listed apart, never as matched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

COUNT_KEYS = ("max_count", "baseline_count")
_MARK = {"pass": "✅ pass", "fail": "❌ fail", "inconclusive": "⚠️ inconclusive"}


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _figure(measure: Mapping[str, Any]) -> str:
    if measure["unit"] == "seconds":
        return f"{measure['observed']:+.3g}s p95 ({measure['n']} msgs)"
    if measure["threshold_key"] in COUNT_KEYS:
        return f"{measure['count']} msgs"
    return f"{measure['count']}/{measure['n']} {measure['unit']} ({measure['observed']:.3%})"


def _bound(measure: Mapping[str, Any]) -> str:
    if measure["upper"] is None:
        return "—"
    if measure["unit"] == "seconds":
        return f"[{measure['lower']:.3g}s, {measure['upper']:.3g}s]"
    return f"[{measure['lower']:.3%}, {measure['upper']:.3%}]"


def _threshold(measure: Mapping[str, Any]) -> str:
    value = measure["threshold"]
    if measure["unit"] == "seconds":
        return f"{measure['threshold_key']} {value:g}s"
    if measure["threshold_key"] in COUNT_KEYS:
        return f"{measure['threshold_key']} {value}"
    return f"{measure['threshold_key']} {value:.3%}"


def _check_rows(checks: Sequence[Mapping[str, Any]]) -> list[str]:
    rows = [
        "| check | verdict | scope | observed | bound | threshold | messages needed |",
        "|---|---|---|---|---|---|---|",
    ]
    for check in checks:
        measures = check.get("measures") or []
        needed = check.get("messages_needed")
        if not measures:
            rows.append(
                f"| {_cell(check['name'])} | {_MARK[check['verdict']]} | | "
                f"{_cell(check['reason'])} | | | {needed if needed is not None else ''} |"
            )
            continue
        for index, measure in enumerate(measures):
            name = _cell(check["name"]) if index == 0 else ""
            rows.append(
                f"| {name} | {_MARK[measure['verdict']]} | {measure['scope']} | "
                f"{_cell(_figure(measure))} | {_bound(measure)} | {_cell(_threshold(measure))} | "
                f"{measure['messages_needed'] if measure['messages_needed'] is not None else ''} |"
            )
    return rows


def _details(checks: Sequence[Mapping[str, Any]]) -> list[str]:
    lines: list[str] = []
    for check in checks:
        if check["verdict"] == "pass":
            continue
        lines += ["", f"#### {_MARK[check['verdict']]}: {check['name']}", "", check["reason"]]
        if check.get("messages_needed") is not None:
            lines.append(f"\nMessages that would decide it: {check['messages_needed']}.")
        if check.get("examples"):
            lines += ["", "```sh"] + [ex["command"] for ex in check["examples"]] + ["```"]
    return lines


def _waiver_lines(document: Mapping[str, Any]) -> list[str]:
    waivers = document.get("waivers") or []
    if not waivers:
        return []
    lines = [
        "",
        "### Waivers",
        "",
        "| # | match | status | matched / max | expires | approver | link |",
        "|---|---|---|---|---|---|---|",
    ]
    for waiver in waivers:
        lines.append(
            f"| {waiver['index']} | {_cell(waiver['match'])} | {waiver['status']} | "
            f"{waiver['matched']} / {waiver['max_count']} | {waiver['expires']} | "
            f"{_cell(waiver['approver'])} | {_cell(waiver['link'])} |"
        )
    waived = document.get("waived") or []
    if waived:
        lines += ["", "Waived divergences (accepted, not matched):", ""]
        lines += [
            f"- `{group['signature']}` {', '.join(group['kinds'])}: {group['count']} messages "
            f"(waiver {', '.join(str(i) for i in group['waivers'])}; seqs "
            f"{', '.join(str(s) for s in group['example_seqs'])})"
            for group in waived
        ]
    return lines


def render_gate_summary(document: Mapping[str, Any]) -> str:
    """Markdown text of a ``gate-P.json`` document."""
    verdict = str(document["verdict"])
    fingerprint = document.get("fingerprint") or {}
    cohort = document.get("cohort") or {}
    deciding = [str(name) for name in document.get("deciding") or []]
    lines = [
        f"## Shadow gate, stage {document['stage']}%: {_MARK[verdict]}",
        "",
        *(
            [f"Deciding checks: {', '.join(_cell(name) for name in deciding)}.", ""]
            if deciding
            else []
        ),
        f"`{document['candidate']}` against `{document['baseline']}` · as of "
        f"{document['as_of']} · policy {document['policy_source']} "
        f"(sha256 `{str(document['policy_sha256'])[:12]}`) · flag fingerprint "
        f"`{fingerprint.get('id')}` ({fingerprint.get('provider')}, "
        f"flag `{fingerprint.get('flag')}`)",
    ]
    if cohort:
        lines += [
            "",
            f"Cohort: {cohort['messages']} messages from {cohort['contacts']} contacts; "
            f"indirect: {cohort['indirect_messages']} messages from "
            f"{cohort['indirect_contacts']} contacts.",
        ]
    lines += ["", *_check_rows(document.get("checks") or [])]
    lines += _details(document.get("checks") or [])
    lines += _waiver_lines(document)
    versus = document.get("versus_legacy")
    if versus:
        parts = versus["new_failures"]
        text = "; ".join(
            f"{scope} {value['failures']}/{value['messages']}" for scope, value in parts.items()
        )
        lines += ["", f"Cumulative against `legacy` (reported beside): new failures {text}."]
    lines += ["", *(f"_{assumption}_" for assumption in document.get("assumptions") or [])]
    return "\n".join(lines) + "\n"
