"""Durations, rates and delay distributions as scenario files write them.

Guarantees:

1. ``parse_duration`` reads ``300ms``, ``3s``, ``5m``, ``2h``, ``1d`` and sums of them
   (``1h30m``) into integer microseconds; a bare number means seconds. Anything else raises
   ``ValueError`` with the offending text.
2. ``parse_rate`` reads ``100/min`` (also ``/s``, ``/h``, ``/d``) into events per second.
3. ``Distribution.draw(u)`` maps one uniform to a delay in µs rounded to 1 ms: a fixed
   duration, ``{median, p95}`` (lognormal), ``{min, max}`` (uniform) or ``{min, max, log:
   true}`` (log-uniform: as many draws between 1 s and 10 s as between 10 s and 100 s).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

from shadow.kernel import normal_quantile

MS = 1_000
SECOND = 1_000_000
_UNITS = {"us": 1, "µs": 1, "ms": MS, "s": SECOND, "m": 60 * SECOND, "min": 60 * SECOND}
_UNITS |= {"h": 3600 * SECOND, "d": 86400 * SECOND}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(us|µs|ms|min|s|m|h|d)")
_RATE_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_Z95 = 1.6448536269514722


def parse_duration(value: object) -> int:
    """A duration (``"5s"``, ``"1h30m"``, or a number of seconds) in integer µs."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"not a duration: {value!r}")
        return round(value * SECOND)
    if not isinstance(value, str):
        raise ValueError(f"not a duration: {value!r} (write it like 300ms, 3s, 5m, 2h)")
    text = value.strip()
    position, total = 0, 0.0
    while position < len(text):
        match = _PART.match(text, position)
        if match is None:
            raise ValueError(f"not a duration: {value!r} (write it like 300ms, 3s, 5m, 2h)")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
        while position < len(text) and text[position] == " ":
            position += 1
    if not text:
        raise ValueError("empty duration")
    return round(total)


def format_duration(us: int) -> str:
    """The shortest exact spelling of a duration: ``300ms``, ``4s``, ``10m``, ``2h``."""
    for unit, size in (("d", 86400 * SECOND), ("h", 3600 * SECOND), ("m", 60 * SECOND)):
        if us and us % size == 0:
            return f"{us // size}{unit}"
    if us % SECOND == 0:
        return f"{us // SECOND}s"
    if us % MS == 0:
        return f"{us // MS}ms"
    return f"{us}us"


def parse_rate(value: object) -> float:
    """A rate such as ``"100/min"`` in events per second."""
    if isinstance(value, str) and "/" in value:
        count, _, unit = value.partition("/")
        try:
            number = float(count.strip())
        except ValueError:
            number = -1.0
        per = _RATE_UNITS.get(unit.strip())
        if per is not None and number >= 0:
            return number / per
    raise ValueError(f"not a rate: {value!r} (write it like 100/min, 2/s, 30/h)")


Duration = Annotated[int, BeforeValidator(parse_duration)]
Rate = Annotated[float, BeforeValidator(parse_rate)]


class Distribution(BaseModel):
    """A delay distribution; see guarantee 3. Built from a duration or a mapping."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fixed: Duration | None = None
    median: Duration | None = None
    p95: Duration | None = None
    min: Duration | None = None
    max: Duration | None = None
    log: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_scalar(cls, data: Any) -> Any:
        if isinstance(data, str | int | float) and not isinstance(data, bool):
            return {"fixed": data}
        return data

    @model_validator(mode="after")
    def _one_shape(self) -> Distribution:
        lognormal = self.median is not None or self.p95 is not None
        uniform = self.min is not None or self.max is not None
        if sum((self.fixed is not None, lognormal, uniform)) != 1:
            raise ValueError("give a duration, {median, p95} or {min, max}")
        if lognormal and (self.median is None or self.p95 is None):
            raise ValueError("a lognormal needs both median and p95")
        if lognormal and not 0 < self.median <= self.p95:  # type: ignore[operator]
            raise ValueError("need 0 < median <= p95")
        if uniform and (self.min is None or self.max is None or self.min > self.max):
            raise ValueError("a uniform needs min <= max")
        if self.log and (not uniform or not self.min):
            raise ValueError("log: true needs {min, max} with min > 0")
        return self

    def draw(self, u: float) -> int:
        """The delay in µs for the uniform ``u``, rounded to 1 ms."""
        if self.fixed is not None:
            value = float(self.fixed)
        elif self.median is not None and self.p95 is not None:
            mu = math.log(self.median)
            sigma = (math.log(self.p95) - mu) / _Z95
            value = math.exp(mu + sigma * normal_quantile(u))
        else:
            low, high = float(self.min or 0), float(self.max or 0)
            if self.log:
                value = math.exp(math.log(low) + (math.log(high) - math.log(low)) * u)
            else:
                value = low + (high - low) * u
        return max(0, round(value / MS)) * MS

    def mean(self) -> float:
        """The mean delay in µs (used to size a warm-up)."""
        if self.fixed is not None:
            return float(self.fixed)
        if self.median is not None and self.p95 is not None:
            sigma = (math.log(self.p95) - math.log(self.median)) / _Z95
            return self.median * math.exp(sigma * sigma / 2)
        low, high = float(self.min or 0), float(self.max or 0)
        if self.log and high > low:
            return (high - low) / (math.log(high) - math.log(low))
        return (low + high) / 2
