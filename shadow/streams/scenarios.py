"""Scenario files: the YAML model, the built-ins, ``--set`` overrides (docs/scenarios.md).

A scenario names a ``duration``, a pool of ``contacts``, a ``traffic`` list (each element a
one-key mapping: ``conversations``, ``burst``, ``surge`` make original messages; ``resend``,
``legit_repeat``, ``redelivery`` derive repeats from the elements above them), an
``environment`` block (passed through as a plain mapping: shadow/config/ validates it) and an
``expect`` block checked with docs/reference.md metrics (shadow.streams.expect).

Guarantees:

1. A bad file stops with ``InputError`` naming the file, the line of the offending key and the
   reason; a bad ``--set`` stops with ``UsageError`` naming the override.
2. ``load_scenario`` takes a built-in name or a path; an unknown name is a ``UsageError``
   listing the built-ins.
3. ``--set KEY=VALUE`` edits the file's mapping before validation: dotted keys, list indices as
   integers (``traffic.0.conversations.rate=50/min``), values read as YAML scalars.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from shadow.common import InputError, UsageError
from shadow.streams.expect import parse_expectation, validate_expect
from shadow.streams.quantities import SECOND, Distribution, Duration, Rate
from shadow.streams.vocabulary import list_vocabularies

DEFAULT_START = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)
SOURCE_KINDS = ("conversations", "burst", "surge", "messages")
REPEAT_KINDS = ("resend", "legit_repeat", "redelivery")


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str | int | float) else value


def _check_texts(value: str | list[str]) -> str | list[str]:
    if isinstance(value, str) and value not in list_vocabularies():
        raise ValueError(f"unknown vocabulary {value!r}; bundled: {', '.join(list_vocabularies())}")
    if isinstance(value, list) and not value:
        raise ValueError("an empty list of texts")
    return value


def _check_expectation(text: str) -> str:
    parse_expectation(text)
    return text


ExpectText = Annotated[str, AfterValidator(_check_expectation)]
Texts = Annotated[str | list[str], AfterValidator(_check_texts)]
Times = Annotated[list[Duration], BeforeValidator(_as_list)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Conversations(_Spec):
    """Poisson conversations: ``rate`` inbound turns a minute over all contacts together."""

    rate: Rate
    turns: float = Field(6.0, ge=1.0, description="mean turns per conversation (geometric)")
    texts: Texts = "pt_br_support"
    think_time: Distribution = Distribution(median=20 * SECOND, p95=90 * SECOND)
    start: Duration = 0
    end: Duration | None = None


class Burst(_Spec):
    """One contact sends ``messages`` messages within ``span``; ``at`` or ``count`` bursts."""

    messages: int = Field(25, ge=1)
    span: Duration = 10 * SECOND
    at: Times | None = None
    count: int = Field(1, ge=0)
    start: Duration = 0
    end: Duration | None = None
    texts: Texts = "pt_br_support"


class Surge(_Spec):
    """``contacts`` distinct contacts start within ``span`` of each time in ``at``."""

    contacts: int = Field(150, ge=1)
    at: Times
    span: Duration = 10 * SECOND
    messages: int = Field(3, ge=1, description="messages per contact")
    gap: Distribution = Distribution(min=SECOND, max=4 * SECOND)
    texts: Texts = "pt_br_support"


class ListedMessage(_Spec):
    """One message of a ``messages`` element, written out: a repro's stream (docs/scenarios.md)."""

    at: Duration
    contact: int = Field(ge=1, description="the pool's contact number, 1 = 5511900000001")
    text: str = ""
    type: str = "text"
    id: str | None = Field(None, min_length=1, description="default wamid.<name>.<element>.<n>")
    topic: str | None = Field(None, description="default t<element>.<n>")
    repeat_kind: str = Field("", pattern=r"^(|resend|legit)$")
    content: str = Field(
        "", description="what identifies non-text content: equal strings, the same content"
    )

    @field_validator("at")
    @classmethod
    def _whole_ms(cls, value: int) -> int:
        if value % 1000:
            raise ValueError("a message's time is a whole number of milliseconds")
        return value


def _as_messages(value: object) -> object:
    return {"list": value} if isinstance(value, list) else value


class Messages(_Spec):
    """Messages listed one by one (``messages: [{at, contact, text, ...}]``), in any order."""

    list_: list[ListedMessage] = Field(alias="list", min_length=1)


class _Repeat(_Spec):
    probability: float = Field(ge=0.0, le=1.0)
    of: list[int] | None = Field(None, description="traffic indices to repeat (default: above)")


class Resend(_Repeat):
    """The same text again, same topic: ``repeat_kind: resend``."""

    delay: Distribution = Distribution(min=2 * SECOND, max=12 * SECOND)


class LegitRepeat(_Repeat):
    """The same text to a new question (new topic): ``repeat_kind: legit``."""

    delay: Distribution = Distribution(min=4 * SECOND, max=9 * SECOND)
    texts: list[str] | None = Field(None, description="only repeat these texts (normalized)")


class Redelivery(_Repeat):
    """The gateway delivers the same ``message_id`` again after ``delay``."""

    delay: Distribution = Distribution(min=SECOND, max=7200 * SECOND, log=True)


Spec = Conversations | Burst | Surge | Messages | Resend | LegitRepeat | Redelivery


class TrafficElement(_Spec):
    """Exactly one of the element kinds."""

    conversations: Conversations | None = None
    burst: Burst | None = None
    surge: Surge | None = None
    messages: Annotated[Messages | None, BeforeValidator(_as_messages)] = None
    resend: Resend | None = None
    legit_repeat: LegitRepeat | None = None
    redelivery: Redelivery | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> TrafficElement:
        if sum(getattr(self, kind) is not None for kind in (*SOURCE_KINDS, *REPEAT_KINDS)) != 1:
            raise ValueError(
                "a traffic element is a mapping with exactly one of: "
                + ", ".join((*SOURCE_KINDS, *REPEAT_KINDS))
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in (*SOURCE_KINDS, *REPEAT_KINDS) if getattr(self, k) is not None)

    @property
    def spec(self) -> Spec:
        value: Spec = getattr(self, self.kind)
        return value


class Scenario(BaseModel):
    """A validated scenario file; durations are integer µs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    description: str
    duration: Duration = Field(gt=0)
    contacts: int = Field(ge=1, le=99_999_999)
    start: datetime = DEFAULT_START
    traffic: list[TrafficElement] = Field(min_length=1)
    environment: dict[str, Any] = Field(default_factory=dict)
    expect: dict[str, dict[str, ExpectText]] = Field(default_factory=dict)
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)
    _source: str = PrivateAttr(default="")

    @field_validator("start")
    @classmethod
    def _zoned(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("start needs a zone, e.g. 2026-01-05T12:00:00Z")
        return value.astimezone(UTC)

    @field_validator("expect")
    @classmethod
    def _expect(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        validate_expect(value)
        return value

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        for index, element in enumerate(self.traffic):
            spec = element.spec
            if isinstance(spec, _Repeat):
                if index == 0:
                    raise ValueError(f"traffic.{index}: a {element.kind} needs elements above it")
                for source in spec.of or ():
                    if not 0 <= source < index:
                        raise ValueError(f"traffic.{index}.of: {source} is not an element above")
            if isinstance(spec, Surge) and spec.contacts > self.contacts:
                raise ValueError(f"traffic.{index}: surge of {spec.contacts} > {self.contacts}")
            if isinstance(spec, Messages):
                for position, message in enumerate(spec.list_):
                    where = f"traffic.{index}.messages.{position}"
                    if message.contact > self.contacts:
                        raise ValueError(f"{where}: contact {message.contact} > {self.contacts}")
                    if message.at >= self.duration:
                        raise ValueError(f"{where}: at is not inside the duration")
        return self

    def traffic_kinds(self) -> list[str]:
        """The kinds of its traffic elements; a burst or surge of one message each is
        ``single`` (nobody types on without waiting: shadow.config.scenario_environment)."""
        kinds = []
        for element in self.traffic:
            spec = element.spec
            single = isinstance(spec, Burst | Surge) and spec.messages == 1
            kinds.append("single" if single else element.kind)
        return kinds

    @property
    def raw(self) -> dict[str, Any]:
        """The mapping this scenario was validated from (after ``--set``)."""
        return self._raw

    @property
    def source(self) -> str:
        return self._source


# --- overrides ------------------------------------------------------------------------------


def parse_sets(sets: Iterable[str] | Mapping[str, object]) -> list[tuple[str, object]]:
    """``KEY=VALUE`` strings (or a mapping) as (dotted key, YAML-read value) pairs."""
    if isinstance(sets, Mapping):
        return [(str(key), value) for key, value in sets.items()]
    pairs: list[tuple[str, object]] = []
    for item in sets:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: expected KEY=VALUE")
        try:
            value: object = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        pairs.append((key.strip(), value))
    return pairs


def apply_sets(data: dict[str, Any], sets: Sequence[tuple[str, object]]) -> dict[str, Any]:
    """A copy of ``data`` with each dotted key set (guarantee 3)."""
    result: dict[str, Any] = yaml.safe_load(yaml.safe_dump(data, allow_unicode=True)) or {}
    for key, value in sets:
        parts = key.split(".")
        node: Any = result
        position = 0
        while position < len(parts) - 1:
            part = parts[position]
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise UsageError(f"--set {key}: no list item {part!r}")
                node = node[int(part)]
            elif isinstance(node, dict):
                rest = ".".join(parts[position:])
                if rest in node:  # keys that contain dots, e.g. fate_rate.dropped
                    break
                node = node.setdefault(part, {})
            else:
                raise UsageError(f"--set {key}: {'.'.join(parts[:position])} is not a mapping")
            position += 1
        last = ".".join(parts[position:])
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise UsageError(f"--set {key}: no list item {last!r}")
            node[int(last)] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise UsageError(f"--set {key}: cannot set inside a {type(node).__name__}")
    return result


# --- loading --------------------------------------------------------------------------------


def _directory() -> Traversable:
    return resources.files("replay_data").joinpath("scenarios")


def builtin_names() -> list[str]:
    return sorted(
        item.name.removesuffix(".yaml")
        for item in _directory().iterdir()
        if item.name.endswith(".yaml")
    )


def list_scenarios() -> list[tuple[str, str]]:
    """``(name, description)`` of every built-in scenario, sorted by name."""
    listing = []
    for name in builtin_names():
        data = yaml.safe_load(_directory().joinpath(f"{name}.yaml").read_text(encoding="utf-8"))
        description = data.get("description", "") if isinstance(data, dict) else ""
        listing.append((name, " ".join(str(description).split())))
    return listing


def _line_of(root: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """The 1-based line of the deepest node on ``loc`` in a composed YAML tree."""
    node, line = root, None
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if str(k.value) == str(part)]
            if not match:
                break
            line = match[0][0].start_mark.line + 1
            node = match[0][1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if part < len(node.value) else None
        else:
            break
    return line


def scenario_from_text(
    text: str, label: str, sets: Iterable[str] | Mapping[str, object] = ()
) -> Scenario:
    """Parse, override and validate a scenario file's text (guarantee 1)."""
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(label, mark.line + 1 if mark else None, problem) from None
    if not isinstance(data, dict):
        raise InputError(label, 1, "a scenario file is a YAML mapping")
    pairs = parse_sets(sets)
    if pairs:
        data = apply_sets(data, pairs)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [part for part in first["loc"] if not isinstance(part, str) or "[" not in part]
        # a ``messages`` element is written as a bare list: its model's ``list`` is not a key
        loc = [p for i, p in enumerate(loc) if not (p == "list" and loc[i - 1] == "messages")]
        where = ".".join(str(part) for part in loc)
        message = str(first["msg"]).removeprefix("Value error, ")
        reason = f"{where}: {message}" if where else message
        for key, _ in pairs:
            if where.startswith(key) or key.startswith(where or "\0"):
                raise UsageError(f"--set {key}: {reason}") from None
        raise InputError(label, _line_of(root, loc), reason) from None
    scenario._raw = data
    scenario._source = label
    return scenario


def load_scenario(
    name_or_path: str | Path, sets: Iterable[str] | Mapping[str, object] = ()
) -> Scenario:
    """A built-in by name, or a scenario file by path (guarantee 2)."""
    text = str(name_or_path)
    path = Path(text)
    if text.endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise InputError(text, None, "no such scenario file")
        return scenario_from_text(path.read_text(encoding="utf-8"), text, sets)
    names = builtin_names()
    if text not in names:
        raise UsageError(f"unknown scenario {text!r}; built-in scenarios: {', '.join(names)}")
    source = _directory().joinpath(f"{text}.yaml")
    label = f"replay_data/scenarios/{text}.yaml"
    return scenario_from_text(source.read_text(encoding="utf-8"), label, sets)
