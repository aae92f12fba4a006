"""Durations as people write them (``300ms``, ``3s``, ``5m``, ``2h``) and as the models use them.

Guarantees:

1. ``parse_duration`` returns an exact, non-negative integer number of microseconds. Units are
   ``h``, ``m``, ``s``, ``ms``, ``us`` (or ``µs``); components may be combined in strictly
   descending order (``1m30s``, ``2s500ms``) and may carry a decimal fraction (``1.5s``) as long
   as the total is a whole number of microseconds.
2. A bare number is refused, except ``0``: the seed's code is JavaScript, where timeouts are
   milliseconds, so ``3`` could mean 3 s or 3 ms. Negative values, empty strings, repeated or
   ascending units and inner spaces are refused too. Every refusal is a ``ValueError`` whose
   message says what is allowed.
3. ``format_duration`` writes the largest single unit that divides the value exactly
   (``90s``, not ``1m30s``; ``1500ms``; ``0s``): one canonical spelling per value, so
   ``parse_duration(format_duration(us)) == us`` and ``format_duration(parse_duration(text))``
   is the canonical form of ``text``.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

US = 1
MS = 1_000
SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

#: Units from the largest down; ``format_duration`` tries them in this order.
UNITS: tuple[tuple[str, int], ...] = (
    ("h", HOUR),
    ("m", MINUTE),
    ("s", SECOND),
    ("ms", MS),
    ("us", US),
)
_FACTOR = dict(UNITS) | {"µs": US}
_RANK = {"h": 0, "m": 1, "s": 2, "ms": 3, "us": 4, "µs": 4}
_COMPONENT = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs)")
ALLOWED = "a duration such as 300ms, 3s, 5m, 2h or 1m30s"


def parse_duration(text: str) -> int:
    """``text`` in microseconds (guarantees 1-2); ``ValueError`` naming what is allowed."""
    source = text.strip()
    if not source:
        raise ValueError(f"empty duration: write {ALLOWED}")
    if source.startswith("-"):
        raise ValueError(f"{text!r} is negative: write {ALLOWED}")
    position = 0
    total = Decimal(0)
    last_rank = -1
    while position < len(source):
        match = _COMPONENT.match(source, position)
        if match is None:
            raise ValueError(f"{text!r} is not {ALLOWED}")
        number, unit = match.groups()
        if _RANK[unit] <= last_rank:
            raise ValueError(f"{text!r}: units must go from larger to smaller, each once")
        last_rank = _RANK[unit]
        try:
            total += Decimal(number) * _FACTOR[unit]
        except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
            raise ValueError(f"{text!r} is not {ALLOWED}") from exc
        position = match.end()
    if total != total.to_integral_value():
        raise ValueError(f"{text!r} is not a whole number of microseconds")
    return int(total)


def duration_value(value: object) -> int:
    """A config value (string, or the number ``0``) in microseconds; guarantee 2 for numbers."""
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not {ALLOWED}")
    if isinstance(value, int | float):
        if value == 0:
            return 0
        raise ValueError(
            f"{value!r} has no unit (seconds? milliseconds?): write {ALLOWED}, "
            f"e.g. {_example(value)}"
        )
    raise ValueError(f"{value!r} is not {ALLOWED}")


def format_duration(us: int) -> str:
    """The canonical spelling of ``us`` microseconds (guarantee 3)."""
    if us < 0:
        raise ValueError(f"negative duration: {us} µs")
    if us == 0:
        return "0s"
    for unit, factor in UNITS:
        if us % factor == 0:
            return f"{us // factor}{unit}"
    raise AssertionError("unreachable: the microsecond divides everything")


def _example(value: float) -> str:
    magnitude = abs(value)
    return f"{magnitude:g}s or {magnitude:g}ms"
