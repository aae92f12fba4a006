"""Value types of the configuration: durations, latency models, severity overrides.

Each is an ``Annotated`` type whose validator raises ``ConfigValueError`` with a reason that
says what is allowed (and, for nested values, which part is wrong), and whose JSON form is the
spelling a user would write (``3s``, ``{median: 3s, p95: 9s}``), so ``config show`` output can
be pasted back into ``--set``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import PlainSerializer, PlainValidator

from shadow.common import KINDS as DIVERGENCE_KINDS
from shadow.common import SEVERITIES, duration_value, format_duration
from shadow.world import Latency


class ConfigValueError(ValueError):
    """A bad value; ``subpath`` extends the field's dotted key to the exact wrong part."""

    def __init__(self, reason: str, subpath: tuple[str | int, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.subpath = subpath


def _duration(value: object) -> int:
    try:
        return duration_value(value)
    except ValueError as exc:
        raise ConfigValueError(str(exc)) from None


def _positive_duration(value: object) -> int:
    us = _duration(value)
    if us <= 0:
        raise ConfigValueError("must be longer than 0s (a periodic task needs a period)")
    return us


#: Microseconds in the model, ``"3s"`` in JSON and in ``config show``.
Duration = Annotated[
    int,
    PlainValidator(_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
PositiveDuration = Annotated[
    int,
    PlainValidator(_positive_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]

SENDER_LATENCY_FORMS = "a duration (300ms), {median: 3s, p95: 9s} or {uniform: [1s, 5s]}"
LATENCY_FORMS = SENDER_LATENCY_FORMS + " or recorded"


def _latency(value: object, allow_recorded: bool) -> Latency:
    forms = LATENCY_FORMS if allow_recorded else SENDER_LATENCY_FORMS
    if isinstance(value, Latency):
        return value
    if value == "recorded":
        if not allow_recorded:
            raise ConfigValueError(f"recorded is only for the agent; write {SENDER_LATENCY_FORMS}")
        return Latency(kind="recorded")
    if isinstance(value, Mapping):
        keys = sorted(str(key) for key in value)
        if keys == ["median", "p95"]:
            median = _part(value["median"], "median")
            p95 = _part(value["p95"], "p95")
            if median <= 0:
                raise ConfigValueError("the median must be longer than 0s", ("median",))
            if p95 < median:
                raise ConfigValueError("p95 must not be below the median", ("p95",))
            return Latency(kind="lognormal", median=median, p95=p95)
        if keys == ["uniform"]:
            bounds = value["uniform"]
            if not isinstance(bounds, list | tuple) or len(bounds) != 2:
                raise ConfigValueError("write {uniform: [low, high]}", ("uniform",))
            low, high = _part(bounds[0], "uniform", 0), _part(bounds[1], "uniform", 1)
            if high < low:
                raise ConfigValueError("high must not be below low", ("uniform", 1))
            return Latency(kind="uniform", low=low, high=high)
        raise ConfigValueError(
            f"a mapping of {', '.join(keys) or 'nothing'} is not a latency model: write {forms}"
        )
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            return Latency(kind="fixed", fixed=duration_value(value))
        except ValueError:
            problem = (
                "is not a duration"
                if isinstance(value, str)
                else "has no unit (seconds? milliseconds?)"
            )
            raise ConfigValueError(f"{value!r} {problem}: write {forms}") from None
    raise ConfigValueError(f"{value!r} is not {forms}")


def _part(value: object, *where: str | int) -> int:
    try:
        return duration_value(value)
    except ValueError as exc:
        raise ConfigValueError(str(exc), where) from None


def format_latency(latency: Latency) -> str | dict[str, Any]:
    """The spelling of a latency model, as it is written in YAML."""
    if latency.kind == "fixed":
        return format_duration(latency.fixed)
    if latency.kind == "uniform":
        return {"uniform": [format_duration(latency.low), format_duration(latency.high)]}
    if latency.kind == "recorded":
        return "recorded"
    return {"median": format_duration(latency.median), "p95": format_duration(latency.p95)}


AgentLatency = Annotated[
    Latency,
    PlainValidator(lambda value: _latency(value, allow_recorded=True)),
    PlainSerializer(format_latency, when_used="json"),
]
SenderLatency = Annotated[
    Latency,
    PlainValidator(lambda value: _latency(value, allow_recorded=False)),
    PlainSerializer(format_latency, when_used="json"),
]

# --- divergence severities (docs/reference.md "Divergences") ------------------------------------

#: The repeat classes (docs/divergences.md); ``legit`` and ``none`` are earlier names of
#: ``repeat_after_reply`` and ``distinct``, still read.
REPEAT_KINDS = ("redelivery", "resend", "repeat_after_reply", "distinct", "unknown")
REPEAT_ALIASES = {"legit": "repeat_after_reply", "none": "distinct"}

SeverityRule = str | dict[str, str]


def _severity_map(value: object) -> dict[str, SeverityRule]:
    if not isinstance(value, Mapping):
        raise ConfigValueError("write a map {kind: severity} or {kind: {repeat_kind: severity}}")
    rules: dict[str, SeverityRule] = {}
    for kind, rule in value.items():
        if kind not in DIVERGENCE_KINDS:
            raise ConfigValueError(
                f"unknown divergence kind; one of {', '.join(DIVERGENCE_KINDS)}", (str(kind),)
            )
        if isinstance(rule, Mapping):
            by_repeat: dict[str, str] = {}
            for named, severity in rule.items():
                repeat_kind = REPEAT_ALIASES.get(str(named), named)
                if repeat_kind not in REPEAT_KINDS:
                    raise ConfigValueError(
                        f"unknown repeat_kind; one of {', '.join(REPEAT_KINDS)}",
                        (kind, str(repeat_kind)),
                    )
                by_repeat[repeat_kind] = _severity(severity, kind, repeat_kind)
            rules[kind] = by_repeat
        else:
            rules[kind] = _severity(rule, kind)
    return rules


def _severity(value: object, *where: str) -> str:
    if value not in SEVERITIES:
        raise ConfigValueError(f"{value!r} is not one of {', '.join(SEVERITIES)}", where)
    return str(value)


SeverityMap = Annotated[dict[str, SeverityRule], PlainValidator(_severity_map)]


def _string_keys(value: object) -> object:
    # YAML reads a message id or topic like 123 or yes as a number or a bool: keys are text
    if isinstance(value, Mapping):
        return {_key_text(key): item for key, item in value.items()}
    return value


def _key_text(key: object) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return key if isinstance(key, str) else str(key)


Outcome = Literal["ok", "error", "hang"]
