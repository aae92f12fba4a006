"""The gate's harm checks: absolute harms of the candidate arm against the policy's maxima,
and "no harm worse" against the baseline arm (docs/divergences.md, "Harms").

The counts come from ``shadow.compare.arm_harms`` over the run folder's outcome columns: the
same function the report's harms table uses, so both show the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping

from shadow.compare import HARMS, arm_harms
from shadow.gate.checks import CheckResult, Measure, worst
from shadow.gate.input import GateInput
from shadow.gate.policy import Policy

ABSOLUTE = "harms within policy"
NO_WORSE = "no harm worse"


def harm_counts(inp: GateInput, policy: Policy) -> dict[str, dict[str, int]]:
    """Per arm (run order), every harm's count; {} when the run folder lacks the columns."""
    arms = [str(arm) for arm in inp.run.get("arms", [])]
    return {
        arm: arm_harms(inp.harm_frames[arm], policy.duplicate_reply_window)
        for arm in arms
        if arm in inp.harm_frames
    }


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
