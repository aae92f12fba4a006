"""The alert policy: YAML in the gate's policy format (named checks, ``kinds`` or ``metric``,
``max_count``), plus the sliding window each check is counted over.

Guarantees:

1. Unknown keys, unknown kinds or metrics and bad durations are refused with InputError
   (exit 3) naming the file and the field; never a traceback.
2. Every check has a window (its own or the policy's), a threshold and a resolve level below
   it (hysteresis): default ``max_count // 2`` for counts and half of ``max_lag`` for the lag.
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shadow.common import KINDS, InputError, duration_value

Metric = Literal["regressions", "harms", "stuck_contacts", "late_lines", "lag"]
#: Fates an arm must not give a message: counted by ``harms``.
HARM_FATES = ("lost", "dropped", "timed_out", "stranded")


def _duration(value: Any) -> int:
    try:
        return duration_value(value)
    except ValueError as exc:
        raise ValueError(str(exc)) from None


class AlertCheck(BaseModel):
    """One alert: divergence ``kinds`` counted per pair, or a ``metric``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kinds: list[str] | None = None
    metric: Metric | None = None
    max_count: int | None = Field(default=None, ge=0)
    resolve_at: int | None = Field(default=None, ge=0)
    max_lag: int | None = None  # microseconds of capture time
    window: int | None = None  # microseconds; default the policy's

    @field_validator("max_lag", "window", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        return None if value is None else _duration(value)

    @field_validator("kinds")
    @classmethod
    def _known(cls, value: list[str] | None) -> list[str] | None:
        unknown = [kind for kind in value or [] if kind not in KINDS]
        if unknown:
            raise ValueError(f"unknown divergence kind {unknown[0]!r}")
        return value

    @model_validator(mode="after")
    def _shape(self) -> AlertCheck:
        if (self.kinds is None) == (self.metric is None):
            raise ValueError("an alert names either `kinds` or `metric`")
        if self.metric == "lag":
            if self.max_lag is None or self.max_count is not None:
                raise ValueError(f"alert {self.name!r}: metric lag takes `max_lag`, not max_count")
        elif self.max_count is None or self.max_lag is not None:
            raise ValueError(f"alert {self.name!r} needs `max_count` (and no max_lag)")
        if self.resolve_at is not None and self.resolve_at > (self.max_count or 0):
            raise ValueError(f"alert {self.name!r}: resolve_at above max_count")
        return self

    def resolve_level(self) -> int:
        if self.metric == "lag":
            return (self.max_lag or 0) // 2
        return self.resolve_at if self.resolve_at is not None else (self.max_count or 0) // 2

    def threshold(self) -> int:
        return self.max_lag if self.metric == "lag" else self.max_count or 0  # type: ignore[return-value]


class AlertPolicy(BaseModel):
    """``window`` (default 1h) and ``step`` (default 1m) in capture time; ``checks``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int = 3_600_000_000
    step: int = 60_000_000
    checks: list[AlertCheck] = Field(min_length=1)

    @field_validator("window", "step", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        return _duration(value)

    @model_validator(mode="after")
    def _coherent(self) -> AlertPolicy:
        if self.step <= 0 or self.window < self.step:
            raise ValueError("step must be positive and window at least one step")
        names = [check.name for check in self.checks]
        if len(set(names)) != len(names):
            raise ValueError("alert names must be unique")
        return self

    def window_of(self, check: AlertCheck) -> int:
        return check.window or self.window


DEFAULT_POLICY = """\
# Alerts while shadowing (docs/live.md): counts over a sliding 1h window of capture time.
window: 1h
step: 1m
checks:
  - name: regressions
    metric: regressions
    max_count: 5
  - name: lost replies
    kinds: [lost_reply]
    max_count: 0
  - name: harms
    metric: harms
    max_count: 10
  - name: stuck contacts
    metric: stuck_contacts
    max_count: 0
  - name: late lines
    metric: late_lines
    max_count: 0
  - name: lag behind the capture
    metric: lag
    max_lag: 5m
"""


def parse_alert_policy(text: str, source: str) -> AlertPolicy:
    """Parse and validate an alert policy; any problem is one InputError line."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(source, None, f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(source, None, "an alert policy is a YAML mapping")
    try:
        return AlertPolicy.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        raise InputError(source, None, f"{where}: {message}" if where else message) from None
