"""The gate's checks over one arm pair: new failures, kinds counts, latency (docs/gate.md).

``PairView`` aligns the baseline and candidate outcomes by seq, splits them into the direct
population (the candidate's ``unified`` messages: the cohort) and the indirect one (everyone
else), and indexes the pair's divergence lines. Each check returns a ``CheckResult`` whose
``measures`` hold every observed figure, bound and threshold behind its verdict.
"""

from __future__ import annotations

import hashlib
import math
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from shadow.gate.input import ArmOutcomes, GateInput
from shadow.gate.policy import Check, Policy, format_duration
from shadow.gate.stats import (
    BootstrapResult,
    bootstrap_messages_needed,
    bootstrap_p95_increase,
    lower_bound,
    messages_needed,
    rate_verdict,
    upper_bound,
)
from shadow.gate.waivers import WaiverOutcome

Mask = npt.NDArray[np.bool_]
FAILURE_KINDS = ("lost_reply", "lost_message", "suppressed_as_duplicate")
#: The improvement reported beside each regression kind (never netted against it).
MIRROR = {
    "lost_reply": "recovered_reply",
    "lost_message": "recovered_reply",
    "suppressed_as_duplicate": "recovered_reply",
    "processing_added": "processing_removed",
    "extra_replies": "fewer_replies",
    "slower": "faster",
    "order_broken": "order_fixed",
}
_RANK = {"pass": 0, "inconclusive": 1, "fail": 2}
MAX_EXAMPLES = 5


def worst(verdicts: Iterable[str]) -> str:
    """``fail`` if any, else ``inconclusive`` if any, else ``pass`` (``pass`` when empty)."""
    return max(verdicts, key=lambda verdict: _RANK[verdict], default="pass")


@dataclass(slots=True)
class Measure:
    """One figure judged against one threshold, e.g. direct messages vs ``max_rate``."""

    scope: str
    unit: str
    n: int
    count: int
    observed: float
    threshold: float
    verdict: str
    lower: float | None = None
    upper: float | None = None
    needed: int | None = None  # messages that would decide it, when inconclusive
    key: str = ""

    def to_dict(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 6)

        return {
            "scope": self.scope,
            "unit": self.unit,
            "threshold_key": self.key,
            "n": self.n,
            "count": self.count,
            "observed": rounded(self.observed),
            "lower": rounded(self.lower),
            "upper": rounded(self.upper),
            "threshold": self.threshold,
            "verdict": self.verdict,
            "messages_needed": self.needed,
        }

    def describe(self) -> str:
        if self.unit == "seconds":
            return (
                f"{self.scope} p95 latency increase {format_duration(self.observed)} over "
                f"{self.n} messages answered in both, bounds [{format_duration(self.lower or 0)}, "
                f"{format_duration(self.upper or 0)}] vs {self.key} "
                f"{format_duration(self.threshold)}"
            )
        if self.key == "max_count":
            return (
                f"{self.scope}: {self.count} of {self.n} messages vs max_count {self.threshold:g}"
            )
        if self.key == "min_fidelity":
            return (
                f"{self.scope}: {self.count} of {self.n} messages agree ({_pct(self.observed)}) "
                f"vs min_fidelity {_pct(self.threshold)}"
            )
        if self.key == "baseline_count":
            return (
                f"{self.scope}: {self.count} of {self.n} messages vs {self.threshold:g} in the "
                "baseline"
            )
        return (
            f"{self.scope} {self.unit}: {self.count} of {self.n} ({_pct(self.observed)}), "
            f"one-sided bounds [{_pct(self.lower or 0)}, {_pct(self.upper or 0)}] vs "
            f"{self.key} {_pct(self.threshold)}"
        )


def _pct(rate: float) -> str:
    return f"{rate * 100:.3g}%"


@dataclass(slots=True)
class CheckResult:
    name: str
    type: str
    scope: str
    verdict: str
    reason: str
    measures: list[Measure] = field(default_factory=list)
    messages_needed: int | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)
    waived: int = 0
    improvements: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "scope": self.scope,
            "verdict": self.verdict,
            "reason": self.reason,
            "measures": [measure.to_dict() for measure in self.measures],
            "messages_needed": self.messages_needed,
            "examples": self.examples,
            "waived": self.waived,
            "improvements": self.improvements,
        }


def explain_command(run_ref: str, seq: int, baseline: str, candidate: str) -> str:
    return f"shadow explain {shlex.quote(run_ref)} --seq {seq} --arms {baseline},{candidate}"


@dataclass(slots=True)
class PairView:
    """Baseline and candidate outcomes aligned on seq, with the pair's lines and waivers."""

    seq: npt.NDArray[np.int64]
    contact: npt.NDArray[np.int64]
    direct: Mask
    base_fate: npt.NDArray[np.str_]
    cand_fate: npt.NDArray[np.str_]
    base_latency: npt.NDArray[np.float64]
    cand_latency: npt.NDArray[np.float64]
    lines: Sequence[Mapping[str, Any]]
    line_at: dict[int, Mapping[str, Any]]
    waivers: WaiverOutcome
    run_ref: str
    baseline: str
    candidate: str

    @classmethod
    def build(
        cls,
        base: ArmOutcomes,
        cand: ArmOutcomes,
        lines: Sequence[Mapping[str, Any]],
        waivers: WaiverOutcome,
        inp: GateInput,
        baseline: str,
        candidate: str,
    ) -> PairView:
        seqs, bi, ci = np.intersect1d(base.seq, cand.seq, assume_unique=True, return_indices=True)
        _, contact = np.unique(cand.contact_id[ci], return_inverse=True)
        return cls(
            seq=seqs.astype(np.int64),
            contact=contact.astype(np.int64).reshape(-1),
            direct=cand.system[ci] == "unified",
            base_fate=base.fate[bi],
            cand_fate=cand.fate[ci],
            base_latency=base.reply_latency[bi],
            cand_latency=cand.reply_latency[ci],
            lines=lines,
            line_at={int(line["seq"]): line for line in lines},
            waivers=waivers,
            run_ref=inp.run_ref,
            baseline=baseline,
            candidate=candidate,
        )

    @staticmethod
    def severity(line: Mapping[str, Any], kind: str) -> str:
        severities = line.get("severities") or {}
        return str(severities.get(kind, line.get("severity", "regression")))

    def mask_of(self, seqs: Iterable[int]) -> Mask:
        wanted = np.fromiter(seqs, dtype=np.int64)
        return np.isin(self.seq, wanted)

    def examples(self, seqs: Sequence[int]) -> list[dict[str, Any]]:
        return [
            {
                "seq": seq,
                "command": explain_command(self.run_ref, seq, self.baseline, self.candidate),
            }
            for seq in list(seqs)[:MAX_EXAMPLES]
        ]

    def populations(self, scope: str) -> list[tuple[str, Mask]]:
        parts: list[tuple[str, Mask]] = []
        if scope in ("direct", "all"):
            parts.append(("direct", self.direct))
        # nobody is indirect at stage 100: nothing to judge there (the cohort check stands)
        if scope in ("indirect", "all") and bool((~self.direct).any()):
            parts.append(("indirect", ~self.direct))
        return parts

    @property
    def cohort_messages(self) -> int:
        return int(self.direct.sum())

    @property
    def cohort_contacts(self) -> int:
        return len(np.unique(self.contact[self.direct]))

    def cohort_summary(self) -> dict[str, int]:
        other = ~self.direct
        return {
            "messages": self.cohort_messages,
            "contacts": self.cohort_contacts,
            "indirect_messages": int(other.sum()),
            "indirect_contacts": len(np.unique(self.contact[other])),
        }

    def severity_counts(self) -> dict[str, dict[str, int]]:
        by_severity: dict[str, int] = {}
        by_kind: dict[str, int] = {}
        for line in self.lines:
            severity = str(line.get("severity", ""))
            by_severity[severity] = by_severity.get(severity, 0) + 1
            for kind in line.get("kinds", ()):
                by_kind[str(kind)] = by_kind.get(str(kind), 0) + 1
        return {
            "by_severity": dict(sorted(by_severity.items())),
            "by_kind": dict(sorted(by_kind.items())),
        }

    def failure_masks(self) -> tuple[Mask, Mask]:
        """New failures (answered in baseline, not in candidate) not excused, and waived ones."""
        failed = (self.base_fate == "answered") & (self.cand_fate != "answered")
        excused: list[int] = []
        waived: list[int] = []
        for seq, line in self.line_at.items():
            kinds = [kind for kind in line.get("kinds", ()) if kind in FAILURE_KINDS]
            if any(self.severity(line, kind) == "improvement" for kind in kinds):
                excused.append(seq)
            elif any(self.waivers.waived(seq, kind) for kind in kinds):
                waived.append(seq)
        waived_mask = failed & self.mask_of(waived)
        return failed & ~self.mask_of(excused) & ~waived_mask, waived_mask

    def kind_masks(self, kinds: Sequence[str]) -> tuple[Mask, Mask, Mask]:
        """Messages with a regression of these kinds not waived, waived ones, improvements."""
        counted: list[int] = []
        waived: list[int] = []
        better: list[int] = []
        mirrors = {MIRROR[kind] for kind in kinds if kind in MIRROR}
        for seq, line in self.line_at.items():
            line_kinds = line.get("kinds", ())
            hits = [k for k in line_kinds if k in kinds and self.severity(line, k) == "regression"]
            if hits:
                if all(self.waivers.waived(seq, kind) for kind in hits):
                    waived.append(seq)
                else:
                    counted.append(seq)
            if any(k in mirrors and self.severity(line, k) == "improvement" for k in line_kinds):
                better.append(seq)
        return self.mask_of(counted), self.mask_of(waived), self.mask_of(better)

    def new_failure_summary(self) -> dict[str, Any]:
        failed, _ = self.failure_masks()
        return {
            "baseline": self.baseline,
            "candidate": self.candidate,
            "new_failures": {
                part: {"messages": int(mask.sum()), "failures": int((failed & mask).sum())}
                for part, mask in self.populations("all")
            },
        }


def _finish(check: Check, kind: str, measures: list[Measure], view: PairView) -> CheckResult:
    verdict = worst(measure.verdict for measure in measures)
    shown = [m for m in measures if m.verdict == verdict] if verdict != "pass" else measures
    needed: int | None = None
    if verdict == "inconclusive":
        values = [m.needed for m in measures if m.verdict == "inconclusive"]
        needed = None if any(v is None for v in values) else max(v for v in values if v is not None)
    reason = "; ".join(m.describe() for m in shown) or "no messages in scope"
    return CheckResult(check.name, kind, check.scope, verdict, reason, measures, needed)


def _rate_measure(
    scope: str,
    unit: str,
    count: int,
    n: int,
    threshold: float,
    key: str,
    policy: Policy,
    scale: float,
) -> Measure:
    low = lower_bound(count, n, policy.confidence, policy.method)
    high = upper_bound(count, n, policy.confidence, policy.method)
    verdict = rate_verdict(low, high, threshold)
    needed = None
    if verdict == "inconclusive":
        units = messages_needed(count, n, threshold, policy.confidence, policy.method)
        needed = None if units is None else math.ceil(units * scale)
    observed = count / n if n else 0.0
    return Measure(scope, unit, n, count, observed, threshold, verdict, low, high, needed, key)


def new_failures_check(check: Check, view: PairView, policy: Policy) -> CheckResult:
    failed, waived = view.failure_masks()
    measures: list[Measure] = []
    examples: list[int] = []
    recovered = view.kind_masks(["lost_reply"])[2]
    for scope, population in view.populations(check.scope):
        hit = failed & population
        examples.extend(int(seq) for seq in view.seq[hit][:MAX_EXAMPLES])
        n = int(population.sum())
        if check.max_rate is not None:
            measures.append(
                _rate_measure(
                    scope, "messages", int(hit.sum()), n, check.max_rate, "max_rate", policy, 1.0
                )
            )
        if check.max_contact_rate is not None:
            contacts = len(np.unique(view.contact[population]))
            failing = len(np.unique(view.contact[hit]))
            per_contact = n / contacts if contacts else 1.0
            measures.append(
                _rate_measure(
                    scope,
                    "contacts",
                    failing,
                    contacts,
                    check.max_contact_rate,
                    "max_contact_rate",
                    policy,
                    per_contact,
                )
            )
    result = _finish(check, "rate", measures, view)
    scoped = _scope_mask(view, check.scope)
    result.examples = view.examples(sorted(examples))
    result.waived = int((waived & scoped).sum())
    result.improvements = int((recovered & scoped).sum())
    return result


def _scope_mask(view: PairView, scope: str) -> Mask:
    mask = np.zeros(len(view.seq), dtype=bool)
    for _, population in view.populations(scope):
        mask |= population
    return mask


def kinds_check(check: Check, view: PairView) -> CheckResult:
    counted, waived, better = view.kind_masks(list(check.kinds or ()))
    measures: list[Measure] = []
    limit = check.max_count if check.max_count is not None else 0
    for scope, population in view.populations(check.scope):
        count = int((counted & population).sum())
        verdict = "fail" if count > limit else "pass"
        measures.append(
            Measure(
                scope,
                "messages",
                int(population.sum()),
                count,
                float(count),
                limit,
                verdict,
                key="max_count",
            )
        )
    result = _finish(check, "count", measures, view)
    scoped = _scope_mask(view, check.scope)
    result.examples = view.examples([int(seq) for seq in view.seq[counted & scoped]])
    result.waived = int((waived & scoped).sum())
    result.improvements = int((better & scoped).sum())
    return result


@dataclass(slots=True)
class Memo:
    """What one gate evaluation computes once for all the runs it judges (the run and its
    replayed readings): bootstraps by their inputs' bytes, arms' harm counts by frame."""

    bootstraps: dict[tuple[Any, ...], BootstrapResult] = field(default_factory=dict)
    #: ``id(frame)`` and the window -> (the frame, kept so its id is not reused; its counts)
    harms: dict[tuple[int, float], tuple[Any, dict[str, int]]] = field(default_factory=dict)

    def bootstrap(
        self,
        codes: npt.NDArray[np.int64],
        baseline: npt.NDArray[np.float64],
        candidate: npt.NDArray[np.float64],
        confidence: float,
        seed: int,
        check: str,
    ) -> BootstrapResult:
        """``bootstrap_p95_increase``, once per distinct input."""
        digest = hashlib.blake2b(digest_size=16)
        for array in (codes, baseline, candidate):
            digest.update(str((array.dtype.str, array.shape)).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        key = (digest.hexdigest(), confidence, seed, check)
        if key not in self.bootstraps:
            self.bootstraps[key] = bootstrap_p95_increase(
                codes, baseline, candidate, confidence, seed, check
            )
        return self.bootstraps[key]


def latency_check(
    check: Check, view: PairView, policy: Policy, seed: int, memo: Memo | None = None
) -> CheckResult:
    threshold = float(check.max_increase or 0.0)
    both = (
        (view.base_fate == "answered")
        & (view.cand_fate == "answered")
        & np.isfinite(view.base_latency)
        & np.isfinite(view.cand_latency)
    )
    measures: list[Measure] = []
    scoped = np.zeros(len(view.seq), dtype=bool)
    for scope, population in view.populations(check.scope):
        mask = both & population
        scoped |= mask
        n = int(mask.sum())
        if n == 0:
            measures.append(
                Measure(scope, "seconds", 0, 0, 0.0, threshold, "inconclusive", key="max_increase")
            )
            continue
        _, codes = np.unique(view.contact[mask], return_inverse=True)
        result = (memo or Memo()).bootstrap(
            codes.astype(np.int64).reshape(-1),
            view.base_latency[mask],
            view.cand_latency[mask],
            policy.confidence,
            seed,
            f"{check.name}:{scope}",
        )
        verdict = rate_verdict(result.lower, result.upper, threshold)
        needed = (
            bootstrap_messages_needed(result, threshold, n) if verdict == "inconclusive" else None
        )
        measures.append(
            Measure(
                scope,
                "seconds",
                n,
                n,
                result.observed,
                threshold,
                verdict,
                result.lower,
                result.upper,
                needed,
                "max_increase",
            )
        )
    check_result = _finish(check, "latency", measures, view)
    increase = view.cand_latency - view.base_latency
    candidates = np.flatnonzero(scoped & (increase > 0))
    order = sorted(candidates.tolist(), key=lambda i: (-float(increase[i]), int(view.seq[i])))
    check_result.examples = view.examples([int(view.seq[i]) for i in order])
    check_result.improvements = int((view.kind_masks(["slower"])[2] & scoped).sum())
    return check_result
