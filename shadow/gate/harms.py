"""The gate's harm checks: absolute harms of the candidate arm against the policy's maxima,
and "no harm worse" against the baseline arm (docs/divergences.md, "Harms").

The counts come from ``shadow.compare.arm_harms`` over the run folder's outcome columns: the
same function the report's harms table uses, so both show the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shadow.compare import HARMS, arm_harms, fidelity
from shadow.gate.checks import CheckResult, Measure, Memo, worst
from shadow.gate.input import GateInput
from shadow.gate.policy import Policy

ABSOLUTE = "harms within policy"
NO_WORSE = "no harm worse"
FIDELITY = "model fidelity"
#: The [A#] switches whose reading moves the legacy model's answered/unanswered state most.
FIDELITY_SWITCHES = {
    "model_only": "[A13] late results, the agent latency and error rates (environment.agent)",
    "recorded_only": "the agent latency and hang rate (environment.agent), the reply windows",
    "reply_count": "[A2]/[A5] batching and the response manager's duplicate window",
}


def fidelity_check(inp: GateInput, policy: Policy) -> tuple[CheckResult | None, Any]:
    """``legacy`` against ``recorded`` when the run has both (else None): inconclusive below
    ``min_fidelity``, naming the disagreement kinds and the switches that would move them."""
    frames = inp.harm_frames
    if "recorded" not in frames or "legacy" not in frames:
        return None, None
    found = fidelity(frames["legacy"], frames["recorded"])
    n, agree = found["messages"], found["agree"]
    share = agree / n if n else 0.0
    verdict = "pass" if share >= policy.min_fidelity else "inconclusive"
    measure = Measure(
        "legacy vs recorded", "messages", n, agree, share, policy.min_fidelity, verdict,
        key="min_fidelity",
    )  # fmt: skip
    kinds = [(k, c) for k, c in found["disagreements"].items() if c]
    named = "; ".join(f"{kind} {count} ({FIDELITY_SWITCHES[kind]})" for kind, count in kinds)
    reason = (
        f"the legacy model agrees with production on {agree} of {n} messages "
        f"({share:.1%}) and {found['contacts_agree']} of {found['contacts']} contacts, "
        f"vs min_fidelity {policy.min_fidelity:.0%}"
        + (f"; disagreements: {named}" if named else "")
    )
    return CheckResult(FIDELITY, "fidelity", "all", verdict, reason, [measure]), found


def harm_counts(
    inp: GateInput, policy: Policy, memo: Memo | None = None, arms: Sequence[str] | None = None
) -> dict[str, dict[str, int]]:
    """Per arm (run order; only ``arms`` when given), every harm's count; {} when the run
    folder lacks the columns. ``memo`` counts a frame shared by several runs once."""
    memo = memo if memo is not None else Memo()
    window = policy.duplicate_reply_window
    counts: dict[str, dict[str, int]] = {}
    for arm in [str(arm) for arm in inp.run.get("arms", [])]:
        if arm not in inp.harm_frames or (arms is not None and arm not in arms):
            continue
        frame = inp.harm_frames[arm]
        key = (id(frame), window)
        if key not in memo.harms:
            memo.harms[key] = (frame, arm_harms(frame, window))
        counts[arm] = dict(memo.harms[key][1])
    return counts


def harm_checks(
    counts: Mapping[str, Mapping[str, int]],
    policy: Policy,
    baseline: str,
    candidate: str,
    messages: int,
) -> list[CheckResult]:
    """The two checks over the candidate's ``messages``, or none when the counts are missing
    for either arm."""
    if baseline not in counts or candidate not in counts:
        return []
    base, cand = counts[baseline], counts[candidate]
    n = messages
    results = []
    if policy.harms:
        measures = [
            Measure(
                harm, "messages", n, cand[harm], float(cand[harm]), limit,
                "fail" if cand[harm] > limit else "pass", key="max_count",
            )
            for harm, limit in sorted(policy.harms.items(), key=lambda item: HARMS.index(item[0]))
        ]  # fmt: skip
        results.append(_result(ABSOLUTE, measures, candidate))
    worse = [
        Measure(
            harm, "messages", n, cand[harm], float(cand[harm]), base[harm],
            "fail" if cand[harm] > base[harm] else "pass", key="baseline_count",
        )
        for harm in HARMS
    ]  # fmt: skip
    results.append(_result(NO_WORSE, worse, candidate))
    return results


def _result(name: str, measures: list[Measure], candidate: str) -> CheckResult:
    verdict = worst(measure.verdict for measure in measures)
    shown = [m for m in measures if m.verdict == "fail"] or measures
    reason = "; ".join(m.describe() for m in shown)
    return CheckResult(name, "harm", "all", verdict, f"{candidate}: {reason}", measures)
