"""The verdict's dependence on the open readings: the stage judged under each replayed
alternative, pinned readings taken at their pinned value (docs/gate.md, Open readings).

Pure: the run's inputs and a function judging one input in, a check and its document out.
No reading is named here; the table is ``shadow.config.READINGS``.

Guarantees:

1. A stage passes only if it passes under every alternative of every reading the policy does
   not pin; a reading under which the verdict differs makes this check inconclusive, naming the
   reading and what each value gives.
2. A reading the run did not replay (``run.readings``) and the policy does not pin leaves the
   check inconclusive: the gate cannot say the verdict holds under it.
3. A pinned value other than the run's is judged on its replayed alternative (one such pin;
   two would need both at once: replay with them set); a pinned reading is never varied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shadow.config import READINGS, reading_for, value_label
from shadow.gate.checks import CheckResult
from shadow.gate.input import GateInput
from shadow.gate.policy import Policy

CHECK = "open readings"
VERBS = {"pass": "passes", "fail": "fails", "inconclusive": "is inconclusive"}


@dataclass(slots=True)
class JudgedReadings:
    """The input the stage is judged on, the check, and what the report shows."""

    base: GateInput
    check: CheckResult
    document: dict[str, Any] = field(default_factory=dict)


def _check(verdict: str, reason: str) -> CheckResult:
    return CheckResult(name=CHECK, type="readings", scope="all", verdict=verdict, reason=reason)


def _in_force(run: Mapping[str, Any], key: str) -> Any:
    value: Any = run.get("config", {})
    for part in key.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def judge_readings(
    inp: GateInput, policy: Policy, verdict_of: Callable[[GateInput], str]
) -> JudgedReadings | None:
    """None when the run folder records no readings (a run without stages, or written by
    hand); else guarantees 1-3."""
    info = inp.run.get("readings")
    if not isinstance(info, Mapping):
        return None
    records = [r for r in info.get("evaluated", []) if isinstance(r, Mapping)]
    not_evaluated = [str(key) for key in info.get("not_evaluated", [])]

    def variant(record: Mapping[str, Any]) -> GateInput:
        folder = record.get("folder")
        if not record.get("arms") or folder not in inp.variants:
            return base  # the alternative changes no model: the run itself
        return inp.with_variant(inp.variants[str(folder)])

    pinned = []
    base = inp
    moved: list[str] = []
    missing: list[str] = []
    for key, pin in sorted(policy.readings.items()):
        reading = reading_for(key)
        tag = reading.tag if reading else ""
        pinned.append(
            {
                "key": key,
                "tag": tag,
                "value": pin.value,
                "label": value_label(pin.value),
                "reason": pin.reason,
                "approver": pin.approver,
            }
        )
        if pin.value == _in_force(inp.run, key):
            continue
        found = [r for r in records if r.get("key") == key and r.get("value") == pin.value]
        if not found:
            missing.append(f"{key}={value_label(pin.value)}")
        else:
            moved.append(key)
            base = variant(found[0])
    document: dict[str, Any] = {
        "pinned": pinned,
        "depends_on": [],
        "holds_under": [],
        "not_evaluated": [k for k in not_evaluated if k not in policy.readings],
    }
    if missing or len(moved) > 1:
        reason = (
            f"the policy pins {', '.join(missing)}, which the run did not replay: replay with "
            "it set (--set KEY=VALUE)"
            if missing
            else f"the policy pins {', '.join(moved)} to values other than the run's; replay "
            "with them set (--set KEY=VALUE) so the run is judged on both at once"
        )
        return JudgedReadings(inp, _check("inconclusive", reason), document)
    verdict = verdict_of(base)
    depends: list[str] = []
    for reading in READINGS:
        if reading.key in policy.readings or reading.key in not_evaluated:
            continue
        own = [r for r in records if r.get("key") == reading.key]
        if not own:
            continue
        in_force = own[0].get("in_force")
        outcomes = [(in_force, verdict)]
        for record in own:
            outcomes.append((record.get("value"), verdict_of(variant(record))))
        entry = {
            "key": reading.key,
            "tag": reading.tag,
            "verdicts": [
                {
                    "value": value,
                    "label": value_label(value),
                    "in_force": value == in_force,
                    "verdict": result,
                    "clause": reading.clause(value),
                }
                for value, result in outcomes
            ],
        }
        if any(result != verdict for _, result in outcomes):
            document["depends_on"].append(entry)
            said = [
                f"{VERBS[result]} if {reading.clause(value)}"
                + (f" [{reading.tag}]" if index == 0 else "")
                for index, (value, result) in enumerate(outcomes)
            ]
            depends.append(", ".join(said))
        else:
            document["holds_under"].append(reading.key)
    unreplayed = document["not_evaluated"]
    if depends:
        reason = "; ".join(depends) + "; pin it in the policy once the implementation is known"
        check = _check("inconclusive", reason)
    elif unreplayed:
        check = _check(
            "inconclusive",
            f"{len(unreplayed)} open readings not replayed (run.readings): "
            f"{', '.join(unreplayed)}; replay them or pin them in the policy",
        )
    else:
        held = len(document["holds_under"])
        pins = f"; {len(pinned)} pinned" if pinned else ""
        check = _check(
            "pass", f"the verdict holds under every alternative of {held} readings{pins}"
        )
    return JudgedReadings(base, check, document)
