"""A scenario's ``expect`` block: what the rules imply, checked against an arm's metrics.

An expect block maps an arm to ``{metric: "op value"}``. ``op`` is one of ``< <= > >= == !=``;
``value`` is a number (``0.5``, ``5%``), a duration (``2s``, compared in seconds as the latency
metrics are) or the name of another arm (``"< legacy"``: the same metric in that arm).

Guarantees:

1. ``parse_expectation`` accepts exactly the forms above and names what is wrong otherwise.
2. ``check_expect`` is pure and keeps the block's order: one result per (arm, metric); a result
   whose observed or referenced value is missing or NaN is not ok (never silently passed).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import NamedTuple

from shadow.kernel import FATES
from shadow.streams.quantities import SECOND, parse_duration

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
METRICS = (
    "answered_rate",
    *(f"fate_rate.{fate}" for fate in FATES),
    "duplicate_processing",
    "legit_repeats_lost",
    "replies_blocked",
    "reply_latency_p50",
    "reply_latency_p95",
    "lock_disagreement_s",
    "new_failures",
)
_ARM = re.compile(
    r"^(legacy|unified|orchestrator|coordinator|response_manager|recorded"
    r"|rollout@\d+(\.\d+)?|legacy~\d+)$"
)
_EXPECTATION = re.compile(r"^\s*(<=|>=|==|!=|<|>)\s*(\S.*?)\s*$")


class Expectation(NamedTuple):
    """One parsed ``"op value"``: ``value`` is a float, or ``arm`` names the reference arm."""

    op: str
    value: float | None
    arm: str | None


class ExpectResult(NamedTuple):
    arm: str
    metric: str
    op: str
    expected: float | None
    observed: float | None
    ok: bool


def is_arm(name: str) -> bool:
    """Whether ``name`` is an arm name of docs/reference.md."""
    return _ARM.match(name) is not None


def parse_expectation(text: object) -> Expectation:
    """``"> 0"``, ``"<= 5%"``, ``"< 2s"`` or ``"< legacy"``; ``ValueError`` otherwise."""
    match = _EXPECTATION.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f'expected "op value" with op one of < <= > >= == !=, got {text!r}')
    op, operand = match.group(1), match.group(2)
    if is_arm(operand):
        return Expectation(op, None, operand)
    try:
        if operand.endswith("%"):
            return Expectation(op, float(operand[:-1]) / 100, None)
        return Expectation(op, float(operand), None)
    except ValueError:
        pass
    try:
        return Expectation(op, parse_duration(operand) / SECOND, None)
    except ValueError:
        raise ValueError(f"{operand!r} is neither a number, a duration nor an arm name") from None


def validate_expect(block: Mapping[str, Mapping[str, object]]) -> None:
    """Raise ``ValueError`` naming the first bad arm, metric or expectation."""
    for arm, checks in block.items():
        if not is_arm(arm):
            raise ValueError(f"unknown arm {arm!r} in expect")
        for metric, text in checks.items():
            if metric not in METRICS:
                raise ValueError(f"unknown metric {metric!r} (known: {', '.join(METRICS)})")
            parse_expectation(text)


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        return None if math.isnan(number) else number
    return None


def check_expect(
    expect: Mapping[str, Mapping[str, str]],
    metrics_by_arm: Mapping[str, Mapping[str, float]],
) -> list[ExpectResult]:
    """Each expectation of ``expect`` against the observed metrics (guarantee 2)."""
    results: list[ExpectResult] = []
    for arm, checks in expect.items():
        for metric, text in checks.items():
            expectation = parse_expectation(text)
            observed = _number(metrics_by_arm.get(arm, {}).get(metric))
            if expectation.arm is not None:
                expected = _number(metrics_by_arm.get(expectation.arm, {}).get(metric))
            else:
                expected = expectation.value
            ok = (
                observed is not None
                and expected is not None
                and OPERATORS[expectation.op](observed, expected)
            )
            results.append(ExpectResult(arm, metric, expectation.op, expected, observed, ok))
    return results


def describe(result: ExpectResult, expect_text: str | None = None) -> str:
    """One readable line: ``unified duplicate_processing < legacy: observed 3 vs 41 FAIL``."""
    verdict = "ok" if result.ok else "FAIL"
    target = expect_text or f"{result.op} {result.expected}"
    return (
        f"{result.arm} {result.metric} {target}: observed {result.observed} "
        f"(expected {result.op} {result.expected}) {verdict}"
    )
