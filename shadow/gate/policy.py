"""The gate policy and waivers: pydantic models of the YAML (docs/gate.md), parsed from text.

Guarantees:

1. Unknown keys, bad values and incoherent policies are refused with UsageError or
   InputError (exit 3), naming the file and the reason; never a traceback.
2. A coherent policy can pass: every rate threshold is above the one-sided upper bound of
   0 failures in ``min_messages`` (``max_rate``) or ``min_contacts`` (``max_contact_rate``);
   the error states the n needed.
3. Pure: parsing takes text and a source name; reading files is ``files``' job.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shadow.common import DivergenceKind, InputError, UsageError, duration_value
from shadow.config import reading_for, value_label
from shadow.gate.stats import min_n_to_pass, upper_bound

Kind = DivergenceKind

#: The absolute harms (``shadow.compare.HARMS``; tests/unit/test_harms.py keeps them equal).
Harm = Literal[
    "redeliveries_answered",
    "meant_suppressed",
    "never_answered",
    "duplicate_replies",
    "stranded",
]


def parse_duration_s(value: Any) -> float:
    """A policy duration (``"300ms"``, ``"2s"``, ``"5m"``) in seconds: the config's own parser."""
    try:
        return duration_value(value) / 1_000_000
    except ValueError as exc:
        raise ValueError(str(exc)) from None


def format_duration(seconds: float) -> str:
    """Seconds -> the shortest of ``ms``/``s``/``m``/``h`` that writes it exactly enough."""
    sign = "-" if seconds < 0 else ""
    value = abs(seconds)
    for unit, size in (("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if value >= size and round(value / size, 3) == round(value / size):
            return f"{sign}{round(value / size)}{unit}"
    if value >= 1:
        return f"{sign}{value:.3g}s"
    return f"{sign}{round(value * 1000, 1):g}ms"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Check(_Strict):
    """One policy check: a metric with thresholds, or a list of kinds with ``max_count``."""

    name: str = Field(min_length=1)
    metric: Literal["new_failures", "reply_latency_p95"] | None = None
    kinds: list[Kind] | None = None
    max_rate: float | None = Field(default=None, gt=0, le=1)
    max_contact_rate: float | None = Field(default=None, gt=0, le=1)
    max_count: int | None = Field(default=None, ge=0)
    max_increase: float | None = None  # seconds
    scope: Literal["direct", "indirect", "all"] = "all"

    @field_validator("max_increase", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration_s(value)

    @model_validator(mode="after")
    def _shape(self) -> Check:
        if (self.metric is None) == (self.kinds is None):
            raise ValueError("a check names either `metric` or `kinds`")
        if self.kinds is not None:
            if not self.kinds:
                raise ValueError("`kinds` must list at least one divergence kind")
            self._only("max_count", needs=("max_count",))
        elif self.metric == "new_failures":
            if self.max_rate is None and self.max_contact_rate is None:
                raise ValueError("new_failures needs `max_rate` and/or `max_contact_rate`")
            self._only("max_rate", "max_contact_rate")
        else:
            self._only("max_increase", needs=("max_increase",))
        return self

    def _only(self, *allowed: str, needs: tuple[str, ...] = ()) -> None:
        thresholds = ("max_rate", "max_contact_rate", "max_count", "max_increase")
        extra = [key for key in thresholds if key not in allowed and getattr(self, key) is not None]
        if extra:
            raise ValueError(f"check {self.name!r}: {', '.join(extra)} does not apply here")
        missing = [key for key in needs if getattr(self, key) is None]
        if missing:
            raise ValueError(f"check {self.name!r} needs {', '.join(missing)}")


class Waiver(_Strict):
    """An approved divergence: a signature, or kinds + causes; valid for some stages until
    ``expires`` (stale on and after that date) and up to ``max_count`` matches."""

    signature: str | None = Field(default=None, pattern=r"^[0-9a-f]{12}$")
    kinds: list[Kind] | None = None
    causes: list[str] | None = None
    approver: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    link: str = Field(min_length=1)
    expires: dt.date
    stages: list[int] = Field(min_length=1)
    max_count: int = Field(ge=0)

    @model_validator(mode="after")
    def _shape(self) -> Waiver:
        by_signature = self.signature is not None
        by_cause = self.kinds is not None or self.causes is not None
        if by_signature == by_cause:
            raise ValueError("a waiver names either `signature` or `kinds` + `causes`")
        if by_cause and not (self.kinds and self.causes):
            raise ValueError("a waiver by cause needs both `kinds` and `causes` (non-empty)")
        if self.kinds and "harness_error" in self.kinds:
            raise ValueError("harness_error cannot be waived: the gate fails closed on it")
        return self

    def label(self) -> str:
        if self.signature is not None:
            return f"signature {self.signature}"
        return f"kinds {','.join(self.kinds or [])} causes {','.join(self.causes or [])}"


class Pin(_Strict):
    """An open reading settled by someone who knows the implementation (docs/gate.md)."""

    value: Any
    reason: str = Field(min_length=1)
    approver: str = Field(min_length=1)


class Policy(_Strict):
    """The policy YAML of docs/gate.md; ``waivers`` is a file name or an inline list."""

    baseline: Literal["previous", "legacy"] = "previous"
    min_messages: int = Field(ge=1)
    min_contacts: int = Field(ge=1)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    method: Literal["clopper-pearson", "wilson"] = "clopper-pearson"
    changes: Literal["report", "require_waiver"] = "report"
    checks: list[Check] = Field(min_length=1)
    waivers: str | list[Waiver] | None = None
    #: the most of each harm the candidate arm may show (docs/divergences.md, "Harms")
    harms: dict[Harm, int] = Field(default_factory=dict)
    duplicate_reply_window: float = 60.0  # seconds
    #: the share of messages on which ``legacy`` must agree with ``recorded`` (production)
    #: for the verdict to rest on the models; below it the gate is inconclusive
    min_fidelity: float = Field(default=0.9, ge=0, le=1)
    #: open readings pinned to one value: the gate no longer asks the others (docs/gate.md)
    readings: dict[str, Pin] = Field(default_factory=dict)

    @field_validator("readings")
    @classmethod
    def _known_readings(cls, value: dict[str, Pin]) -> dict[str, Pin]:
        for key, pin in value.items():
            reading = reading_for(key)
            if reading is None:
                raise ValueError(f"{key} is not an open reading")
            if pin.value not in reading.values:
                shown = ", ".join(value_label(v) for v in reading.values)
                raise ValueError(f"{key}: {pin.value!r} is not one of {shown}")
        return value

    @field_validator("duplicate_reply_window", mode="before")
    @classmethod
    def _window(cls, value: Any) -> Any:
        return parse_duration_s(value)

    @field_validator("harms")
    @classmethod
    def _counts(cls, value: dict[str, int]) -> dict[str, int]:
        negative = sorted(name for name, count in value.items() if count < 0)
        if negative:
            raise ValueError(f"harm counts are at least 0: {', '.join(negative)}")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> Policy:
        names = [check.name for check in self.checks]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"check names must be unique: {', '.join(duplicated)}")
        return self


def _load_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InputError(source, line, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def parse_policy(text: str, source: str) -> Policy:
    """Parse and validate a policy; incoherent thresholds raise UsageError (exit 3)."""
    data = _load_yaml(text, source)
    if not isinstance(data, dict):
        raise InputError(source, None, "a policy is a YAML mapping")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise InputError(source, None, _first_error(exc)) from None
    check_coherent(policy, source)
    return policy


def parse_waivers(text: str, source: str) -> list[Waiver]:
    """A waivers file: a list of waivers, or a mapping with a ``waivers`` list."""
    data = _load_yaml(text, source)
    if isinstance(data, dict) and set(data) == {"waivers"}:
        data = data["waivers"]
    if data is None:
        return []
    if not isinstance(data, list):
        raise InputError(source, None, "a waivers file is a list of waivers")
    waivers: list[Waiver] = []
    for index, item in enumerate(data):
        try:
            waivers.append(Waiver.model_validate(item))
        except ValidationError as exc:
            raise InputError(source, None, f"waiver {index + 1}: {_first_error(exc)}") from None
    return waivers


def check_coherent(policy: Policy, source: str) -> None:
    """Every rate check must be able to pass with 0 failures at the policy's minimum sizes."""
    for check in policy.checks:
        for key, threshold, n, unit in (
            ("max_rate", check.max_rate, policy.min_messages, "min_messages"),
            ("max_contact_rate", check.max_contact_rate, policy.min_contacts, "min_contacts"),
        ):
            if threshold is None:
                continue
            bound = upper_bound(0, n, policy.confidence, policy.method)
            if bound < threshold:
                continue
            needed = min_n_to_pass(threshold, policy.confidence, policy.method)
            raise UsageError(
                f"{source}: incoherent policy: check {check.name!r} {key} {threshold:g} can "
                f"never pass at {unit} {n} (0 failures in {n} gives a one-sided "
                f"{policy.confidence:g} upper bound of {bound:.4g}); it needs {unit} >= {needed}"
            )
