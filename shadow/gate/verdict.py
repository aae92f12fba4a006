"""The gate for the flip to stage P: policy checks over the paired comparison -> verdicts.

Pure: records in (``GateInput``), a verdict document out; no file, no clock (``as_of`` is given).

Guarantees (docs/gate.md, docs/reference.md "Gate verdicts"):

1. The pair is ``rollout@P`` against the baseline (``legacy``, or with ``baseline: previous``
   the highest ``rollout@Q`` with Q < P in the run, else ``legacy``).
2. Never ``pass`` on: a missing arm or an empty cohort (fail), a cohort below ``min_messages``
   or ``min_contacts`` (inconclusive), a fingerprint different from ``previous`` (fail), no
   ``previous`` for a stage after the first (inconclusive), any ``harness_error`` in the run
   (fail), a run without a fingerprint (fail).
3. ``scope: all`` judges direct (cohort) and indirect (everyone else) effects each on its own
   population and takes the worse **[A20]**: pooling them would dilute a cohort regression by
   the 90% who did not move at stage 10.
4. A rate check bounds messages and contacts and takes the worse verdict; a kinds check counts
   regression-severity occurrences not waived; the latency check bootstraps over contacts.
5. Overall: ``fail`` if any check fails, else ``inconclusive`` if any is, else ``pass``.
   Improvements are reported beside each check, never netted against regressions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from shadow.common import ShadowError
from shadow.gate.checks import (
    CheckResult,
    Memo,
    PairView,
    explain_command,
    kinds_check,
    latency_check,
    new_failures_check,
    worst,
)
from shadow.gate.harms import fidelity_check, harm_checks, harm_counts
from shadow.gate.input import ArmOutcomes, GateInput
from shadow.gate.policy import Policy, Waiver
from shadow.gate.readings import judge_readings
from shadow.gate.waivers import WaiverOutcome, apply_waivers
from shadow.rollout import check_stage, fingerprint_id

SCHEMA_VERSION = 2  # 2: harms, readings and per-pair counts in gate-P.json
EXIT_STATUS = {"pass": 0, "fail": 1, "inconclusive": 2}
ASSUMPTION = (
    "[A19] USE_UNIFIED_COORDINATOR is evaluated per message by a flag service with the contact "
    "id as stickiness key (the seed names a boolean environment variable)"
)


class GateVerdict(ShadowError):
    """A gate that did not pass, as an exit: 1 fail, 2 inconclusive (docs/reference.md)."""

    def __init__(self, stage: int, verdict: str, reasons: Sequence[str]) -> None:
        # reasons come failing checks first (``deciding_checks``): the first one decides
        first = f": {reasons[0]}" if reasons else ""
        super().__init__(f"gate stage {stage}: {verdict}{first}")
        self.exit_code = EXIT_STATUS[verdict]


@dataclass(frozen=True, slots=True)
class GateOptions:
    """What the gate is asked beyond the run: the stage, the date, the previous verdict."""

    stage: int
    as_of: dt.date
    policy_sha256: str
    policy_source: str
    waivers: Sequence[Waiver] = ()
    previous: Mapping[str, Any] | None = None


@dataclass(slots=True)
class GateReport:
    verdict: str
    document: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS[self.verdict]


def run_fingerprint(run: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``run.json["rollout"]["fingerprint"]``, or None when the run does not record one."""
    rollout = run.get("rollout")
    found = rollout.get("fingerprint") if isinstance(rollout, Mapping) else None
    return found if isinstance(found, Mapping) else None


def _stages_in_run(arms: Sequence[str]) -> list[int]:
    stages = []
    for arm in arms:
        if arm.startswith("rollout@") and arm[len("rollout@") :].isdigit():
            stages.append(int(arm[len("rollout@") :]))
    return sorted(stages)


def _precondition(name: str, verdict: str, reason: str) -> CheckResult:
    return CheckResult(name=name, type="precondition", scope="all", verdict=verdict, reason=reason)


def _fingerprint_check(
    run: Mapping[str, Any], stage: int, earlier: list[int], previous: Mapping[str, Any] | None
) -> CheckResult:
    name = "flag fingerprint"
    current = run_fingerprint(run)
    if not isinstance(current, Mapping):
        return _precondition(name, "fail", "run.json records no rollout fingerprint")
    if previous is None:
        if earlier:
            return _precondition(
                name,
                "inconclusive",
                f"stage {stage} follows stage {earlier[-1]} in this run: pass --previous "
                f"gate-{earlier[-1]}.json so the gate can check that the flag still buckets the "
                "same contacts",
            )
        return _precondition(
            name, "pass", f"first stage; fingerprint {fingerprint_id(dict(current))}"
        )
    before = previous.get("fingerprint")
    if not isinstance(before, Mapping):
        return _precondition(name, "fail", "the previous gate file records no fingerprint")
    fields = sorted((set(current) | set(before)) - {"id"})
    changed = [key for key in fields if current.get(key) != before.get(key)]
    if changed:
        detail = "; ".join(f"{key}: {before.get(key)!r} -> {current.get(key)!r}" for key in changed)
        return _precondition(
            name,
            "fail",
            f"the flag fingerprint changed since stage {previous.get('stage')} ({detail}): "
            "contacts are redrawn, the earlier cohort is no longer nested",
        )
    return _precondition(
        name,
        "pass",
        f"same fingerprint as stage {previous.get('stage')} ({fingerprint_id(dict(current))})",
    )


def _cohort_check(
    view: PairView, policy: Policy, stage: int, flag: Mapping[str, Any] | None = None
) -> CheckResult:
    messages, contacts = view.cohort_messages, view.cohort_contacts
    name = "cohort size"
    if messages == 0:
        return _precondition(name, "fail", _empty_cohort(stage, flag))
    short = []
    if messages < policy.min_messages:
        short.append(f"{messages} messages < min_messages {policy.min_messages}")
    if contacts < policy.min_contacts:
        short.append(f"{contacts} contacts < min_contacts {policy.min_contacts}")
    if short:
        result = _precondition(name, "inconclusive", "cohort too small: " + "; ".join(short))
        per_contact = messages / contacts if contacts else 1.0
        result.messages_needed = max(
            policy.min_messages, int(np.ceil(policy.min_contacts * per_contact))
        )
        return result
    return _precondition(name, "pass", f"{messages} messages, {contacts} contacts")


def _empty_cohort(stage: int, flag: Mapping[str, Any] | None) -> str:
    """Why a cohort is usually empty: the flag's settings do not match production's."""
    settings = dict(flag or {})
    used = ", ".join(
        f"{key} {settings.get(key)!r}" for key in ("flag", "provider", "salt") if key in settings
    )
    return (
        f"empty cohort: no message went to the unified system at stage {stage}. Usually the "
        f"flag settings differ from production's ({used or 'none recorded'}): check "
        "--flag, --provider and rollout.salt, that --stage is the stage to gate, and that a "
        "redacted capture was redacted with --flag"
    )


def _changes_check(view: PairView, waived: WaiverOutcome) -> CheckResult:
    unwaived = [
        int(line["seq"])
        for line in view.lines
        if any(
            view.severity(line, kind) == "change" and not waived.waived(int(line["seq"]), kind)
            for kind in line.get("kinds", ())
        )
    ]
    if unwaived:
        result = _precondition(
            "changes waived",
            "fail",
            f"{len(unwaived)} messages with a change not covered by a waiver "
            "(policy changes: require_waiver)",
        )
        result.examples = view.examples(sorted(unwaived))
        return result
    return _precondition("changes waived", "pass", "every change is waived")


def evaluate(inp: GateInput, policy: Policy, options: GateOptions) -> GateReport:
    """The verdict document for the flip to ``options.stage`` (module guarantees), judged under
    the open readings the run replayed (``gate.readings``): ``pass`` only if the stage passes
    under every alternative the policy does not pin.

    Each alternative needs only its verdict: its checks run cheapest first and stop at the
    first ``fail`` (nothing can lift it), and what two evaluations share (a bootstrap over the
    same latencies, an arm's harm counts) is computed once (``Memo``)."""
    memo = Memo()
    verdicts: dict[int, tuple[GateInput, str]] = {}

    def verdict_of(variant: GateInput) -> str:
        # keyed by identity: the variant is kept in the entry, so its id is not reused
        if id(variant) not in verdicts:
            found = _evaluate_run(variant, policy, options, memo=memo, verdict_only=True)
            verdicts[id(variant)] = (variant, found.verdict)
        return verdicts[id(variant)][1]

    judged = judge_readings(inp, policy, verdict_of)
    if judged is None:
        return _evaluate_run(inp, policy, options, memo=memo)
    report = _evaluate_run(judged.base, policy, options, [judged.check], memo=memo)
    report.document["readings"] = judged.document
    return report


def _evaluate_run(
    inp: GateInput,
    policy: Policy,
    options: GateOptions,
    extra: Sequence[CheckResult] = (),
    *,
    memo: Memo | None = None,
    verdict_only: bool = False,
) -> GateReport:
    """The report of one run; with ``verdict_only`` its verdict alone (the document empty),
    from the same checks, the costly ones (latency bootstraps, harm counts) skipped once a
    cheaper one fails."""
    memo = memo if memo is not None else Memo()
    stage = check_stage(options.stage)
    arms = list(inp.run.get("arms", []))
    stages = _stages_in_run(arms)
    earlier = [q for q in stages if q < stage]
    candidate = f"rollout@{stage}"
    baseline = f"rollout@{earlier[-1]}" if policy.baseline == "previous" and earlier else "legacy"
    checks: list[CheckResult] = []
    missing = [arm for arm in (candidate, baseline) if arm not in arms or arm not in inp.outcomes]
    harness = sorted(
        int(line["seq"]) for line in inp.divergences if "harness_error" in line.get("kinds", ())
    )
    harness_check = _precondition(
        "harness errors in the run",
        "fail" if harness else "pass",
        f"{len(harness)} harness errors in the run" if harness else "no harness error",
    )
    checks.append(_fingerprint_check(inp.run, stage, earlier, options.previous))
    document: dict[str, Any] = {}
    if missing:
        checks.append(
            _precondition(
                "stage arms",
                "fail",
                f"the run has no {' or '.join(missing)} arm (arms: {', '.join(arms) or 'none'})",
            )
        )
        checks.append(harness_check)
        for check in policy.checks:
            checks.append(
                CheckResult(
                    name=check.name,
                    type="not_evaluated",
                    scope=check.scope,
                    verdict="fail",
                    reason=f"not evaluated: the run has no {' or '.join(missing)} arm",
                )
            )
    else:
        pair_lines = [
            line
            for line in inp.divergences
            if line.get("baseline") == baseline and line.get("candidate") == candidate
        ]
        waived = apply_waivers(options.waivers, pair_lines, stage, options.as_of)
        view = PairView.build(
            inp.outcomes[baseline],
            inp.outcomes[candidate],
            pair_lines,
            waived,
            inp,
            baseline,
            candidate,
        )
        harness_check.examples = view.examples(harness)
        checks.append(_precondition("stage arms", "pass", f"{candidate} against {baseline}"))
        checks.append(harness_check)
        checks.append(_cohort_check(view, policy, options.stage, run_fingerprint(inp.run)))
        if policy.changes == "require_waiver":
            checks.append(_changes_check(view, waived))
        seed = int(inp.run.get("seed") or 1)
        messages = len(inp.outcomes[candidate].seq)
        # the rest in document order, each part flagged when costly
        parts: list[tuple[bool, Callable[[], list[CheckResult]]]] = []
        for check in policy.checks:
            if check.kinds is not None:
                parts.append((False, partial(lambda c: [kinds_check(c, view)], check)))
            elif check.metric == "new_failures":
                parts.append(
                    (False, partial(lambda c: [new_failures_check(c, view, policy)], check))
                )
            else:
                parts.append(
                    (True, partial(lambda c: [latency_check(c, view, policy, seed, memo)], check))
                )
        if verdict_only:
            pair = [baseline, candidate]

            def pair_harms() -> list[CheckResult]:
                counts = harm_counts(inp, policy, memo, arms=pair)
                return harm_checks(counts, policy, baseline, candidate, messages)

            parts.append((True, pair_harms))
            parts.append((True, lambda: [c for c in [fidelity_check(inp, policy)[0]] if c]))
            for _, part in sorted(parts, key=lambda item: item[0]):  # stable: cheap ones first
                if "fail" in (found.verdict for found in checks):
                    return GateReport(verdict="fail")
                checks.extend(part())
            return GateReport(verdict=worst(check.verdict for check in [*checks, *extra]))
        for _, part in parts:
            checks.extend(part())
        harms = harm_counts(inp, policy, memo)
        checks.extend(harm_checks(harms, policy, baseline, candidate, messages))
        document["harms"] = harms
        check_of_fidelity, document["fidelity"] = fidelity_check(inp, policy)
        if check_of_fidelity is not None:
            checks.append(check_of_fidelity)
        document["cohort"] = view.cohort_summary()
        document["waivers"] = [status.to_dict() for status in waived.statuses]
        document["waived"] = waived.waived_by_signature
        document["changes"] = view.severity_counts()
        if baseline != "legacy" and "legacy" in inp.outcomes:
            document["versus_legacy"] = _versus_legacy(inp, policy, candidate)
    checks.extend(extra)
    verdict = worst(check.verdict for check in checks)
    if verdict_only:
        return GateReport(verdict=verdict)
    deciding = deciding_checks(checks)
    document.update(
        {
            "schema_version": SCHEMA_VERSION,
            "stage": stage,
            "verdict": verdict,
            "baseline": baseline,
            "candidate": candidate,
            "as_of": options.as_of.isoformat(),
            "policy": policy.model_dump(mode="json"),
            "policy_sha256": options.policy_sha256,
            "policy_source": options.policy_source,
            "fingerprint": run_fingerprint(inp.run),
            "previous": _previous_summary(options.previous),
            "checks": [check.to_dict() for check in checks],
            "deciding": [check.name for check in deciding],
            "reasons": [f"{check.name}: {check.reason}" for check in deciding],
            "assumptions": [ASSUMPTION],
        }
    )
    document.setdefault("cohort", None)
    document.setdefault("harms", {})
    document.setdefault("fidelity", None)
    document.setdefault("readings", None)
    document.setdefault("waivers", [])
    document.setdefault("waived", [])
    return GateReport(verdict=verdict, document=document)


def deciding_checks(checks: Sequence[CheckResult]) -> list[CheckResult]:
    """The checks that decide the verdict: failing ones first, then inconclusive ones, each
    group in check order (a failing check is never named after an inconclusive one)."""
    failing = [check for check in checks if check.verdict == "fail"]
    return failing + [check for check in checks if check.verdict == "inconclusive"]


def result_line(document: Mapping[str, Any]) -> str:
    """``gate stage P: VERDICT``, then the deciding checks' names, failing ones first."""
    line = f"gate stage {document['stage']}: {document['verdict']}"
    deciding = [str(name) for name in document.get("deciding") or []]
    return f"{line} ({'; '.join(deciding)})" if deciding else line


def _previous_summary(previous: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if previous is None:
        return None
    return {key: previous.get(key) for key in ("stage", "verdict", "as_of", "fingerprint")}


def _versus_legacy(inp: GateInput, policy: Policy, candidate: str) -> dict[str, Any]:
    """The cumulative comparison with ``legacy``, reported beside (no verdict)."""
    lines = [
        line
        for line in inp.divergences
        if line.get("baseline") == "legacy" and line.get("candidate") == candidate
    ]
    view = PairView.build(
        inp.outcomes["legacy"],
        inp.outcomes[candidate],
        lines,
        apply_waivers((), lines, 0, dt.date.min),
        inp,
        "legacy",
        candidate,
    )
    return view.new_failure_summary()


__all__ = [
    "ArmOutcomes",
    "GateInput",
    "GateOptions",
    "GateReport",
    "deciding_checks",
    "evaluate",
    "explain_command",
    "result_line",
]
