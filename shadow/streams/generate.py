"""The scenario generator: a deterministic shadow-JSONL stream and its environment file.

Guarantees:

1. Every draw comes from ``KeyedRandom(seed)`` keyed by ``(scenario name, element index,
   ...)``: the same scenario and seed give the same rows everywhere, and changing one traffic
   element never changes the rows of another element that does not derive from it.
2. Rows are sorted by ``received_at`` (stable: element order, then generation order), every
   ``received_at`` is a whole millisecond inside ``[0, duration)`` from ``start``.
3. Original messages get ids ``wamid.<scenario>.<element>.<n>`` and topics ``t<element>.<n>``;
   a resend keeps the text and topic under a new id; a legit repeat keeps the text under a new
   id and a new topic; a redelivery is a copy with the same id. ``repeat_kind`` is written only
   on resends (``resend``) and legit repeats (``legit``).
4. Contacts are drawn uniformly from the pool: ``55119`` + 8 digits (``5511900000001`` is the
   first), 13 digits in the Brazilian mobile form.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from shadow.common import staged_file
from shadow.config import scenario_environment
from shadow.kernel import KeyedRandom
from shadow.streams.quantities import MS, Distribution
from shadow.streams.scenarios import (
    Burst,
    Conversations,
    LegitRepeat,
    Messages,
    Redelivery,
    Resend,
    Scenario,
    Surge,
    Texts,
    load_scenario,
)
from shadow.streams.vocabulary import Entry, Position, load_vocabulary, pick_text
from shadow.world import normalize_text

MAX_TURNS = 200
MAX_WARMUP = 86_400_000_000.0
# the warm-up starts conversations this many mean conversation lengths before `start`, so the
# rate is already steady at the first row (a cold start would ramp up over minutes)
WARMUP_LENGTHS = 3.0


@dataclass(frozen=True, slots=True)
class Row:
    """One generated inbound message; ``at`` is µs from the scenario's start."""

    at: int
    contact_id: str
    message_id: str
    text: str
    type: str
    topic: str
    repeat_kind: str = ""
    content_key: str = ""  # a listed message's ``content`` (a repro's content class)


def contact_id(index: int) -> str:
    """The ``index``-th (0-based) contact of the pool (guarantee 4)."""
    return f"55119{index + 1:08d}"


def _ms(us: float) -> int:
    return round(us / MS) * MS


class _Texts:
    """Text choice for one element: a vocabulary's turn mix or a literal list."""

    def __init__(self, texts: Texts) -> None:
        self.vocabulary = load_vocabulary(texts) if isinstance(texts, str) else None
        self.literal = [Entry(text=t) for t in texts] if isinstance(texts, list) else []

    def pick(self, position: Position, u_category: float, u_entry: float, previous: str) -> Entry:
        if self.vocabulary is not None:
            return self.vocabulary.pick(position, u_category, u_entry, previous)
        return pick_text(self.literal, u_entry, previous)


class _Element:
    """Rows of one traffic element, numbered in generation order."""

    def __init__(self, scenario: Scenario, index: int, rand: KeyedRandom) -> None:
        self.scenario = scenario
        self.index = index
        self.rand = rand
        self.count = 0
        self.rows: list[Row] = []

    def uniforms(self, count: int, *key: str | int) -> list[float]:
        return self.rand.uniforms(count, self.scenario.name, self.index, *key)

    def add(self, at: int, contact: str, entry: Entry) -> None:
        n = self.count
        self.count += 1
        self.rows.append(
            Row(
                at=at,
                contact_id=contact,
                message_id=f"wamid.{self.scenario.name}.{self.index}.{n}",
                text=entry.text,
                type=entry.type,
                topic=f"t{self.index}.{n}",
            )
        )

    def contact(self, u: float) -> str:
        pool = self.scenario.contacts
        return contact_id(min(int(u * pool), pool - 1))


def _conversations(element: _Element, spec: Conversations) -> None:
    scenario = element.scenario
    end = min(spec.end if spec.end is not None else scenario.duration, scenario.duration)
    texts = _Texts(spec.texts)
    per_us = spec.rate / spec.turns / 1_000_000
    if per_us <= 0 or end <= spec.start:
        return
    length = (spec.turns - 1) * spec.think_time.mean()
    t = spec.start - min(WARMUP_LENGTHS * length, MAX_WARMUP)
    p_end = 1.0 / spec.turns
    n = 0
    while True:
        t += -math.log(1.0 - element.uniforms(1, "arrival", n)[0]) / per_us
        if t >= end:
            return
        u_contact, u_turns = element.uniforms(2, "conversation", n)
        turns = 1
        if p_end < 1.0:
            turns = 1 + int(math.log(1.0 - u_turns) / math.log(1.0 - p_end))
        turns = min(turns, MAX_TURNS)
        contact = element.contact(u_contact)
        at, previous = t, ""
        for turn in range(turns):
            u_think, u_category, u_entry = element.uniforms(3, "turn", n, turn)
            if turn:
                at += spec.think_time.draw(u_think)
            if at >= end:
                break
            position: Position = "middle"
            if turn == 0:
                position = "opening"
            elif turn == turns - 1:
                position = "closing"
            entry = texts.pick(position, u_category, u_entry, previous)
            previous = entry.text
            if at >= spec.start:
                element.add(_ms(at), contact, entry)
        n += 1


def _bursts(element: _Element, spec: Burst) -> None:
    scenario = element.scenario
    end = min(spec.end if spec.end is not None else scenario.duration, scenario.duration)
    texts = _Texts(spec.texts)
    if spec.at is not None:
        starts = [float(at) for at in spec.at]
    else:
        latest = max(spec.start, end - spec.span)
        starts = [
            spec.start + (latest - spec.start) * element.uniforms(1, "start", b)[0]
            for b in range(spec.count)
        ]
    for b, start in enumerate(starts):
        contact = element.contact(element.uniforms(1, "contact", b)[0])
        later = (
            element.uniforms(1, "offset", b, i)[0] * spec.span for i in range(1, spec.messages)
        )
        offsets = [0.0, *sorted(later)]
        previous = ""
        for i, offset in enumerate(offsets):
            u_category, u_entry = element.uniforms(2, "text", b, i)
            entry = texts.pick("middle", u_category, u_entry, previous)
            previous = entry.text
            at = _ms(start + offset)
            if 0 <= at < scenario.duration:
                element.add(at, contact, entry)


def _surges(element: _Element, spec: Surge) -> None:
    scenario = element.scenario
    texts = _Texts(spec.texts)
    for s, start in enumerate(spec.at):
        order = sorted(
            range(scenario.contacts), key=lambda i: (element.uniforms(1, "pick", s, i)[0], i)
        )
        for c in order[: spec.contacts]:
            u_start = element.uniforms(1, "first", s, c)[0]
            at, previous = start + u_start * spec.span, ""
            for i in range(spec.messages):
                u_gap, u_category, u_entry = element.uniforms(3, "message", s, c, i)
                if i:
                    at += spec.gap.draw(u_gap)
                entry = texts.pick("opening" if i == 0 else "middle", u_category, u_entry, previous)
                previous = entry.text
                if 0 <= _ms(at) < scenario.duration:
                    element.add(_ms(at), contact_id(c), entry)


def _listed(element: _Element, spec: Messages) -> None:
    """Listed messages in list order; ``id`` and ``topic`` as given, else numbered."""
    for message in spec.list_:
        entry = Entry(text=message.text, type=message.type)
        element.add(message.at, contact_id(message.contact - 1), entry)
        row = element.rows[-1]
        element.rows[-1] = replace(
            row,
            message_id=message.id if message.id is not None else row.message_id,
            topic=message.topic if message.topic is not None else row.topic,
            repeat_kind=message.repeat_kind,
            content_key=message.content,
        )


def _repeats(
    element: _Element,
    spec: Resend | LegitRepeat | Redelivery,
    sources: Iterable[Row],
) -> None:
    scenario = element.scenario
    wanted = None
    if isinstance(spec, LegitRepeat) and spec.texts is not None:
        wanted = {normalize_text(text) for text in spec.texts}
    delay: Distribution = spec.delay
    for row in sources:
        if wanted is not None and normalize_text(row.text) not in wanted:
            continue
        u_pick, u_delay = element.uniforms(2, row.message_id)
        if u_pick >= spec.probability:
            continue
        at = row.at + delay.draw(u_delay)
        if at >= scenario.duration:
            continue
        if isinstance(spec, Resend):
            copy = replace(
                row, at=at, message_id=f"{row.message_id}.r{element.index}", repeat_kind="resend"
            )
        elif isinstance(spec, LegitRepeat):
            copy = replace(
                row,
                at=at,
                message_id=f"{row.message_id}.l{element.index}",
                topic=f"{row.topic}.l{element.index}",
                repeat_kind="legit",
            )
        else:
            copy = replace(row, at=at)
        element.rows.append(copy)


def generate_rows(scenario: Scenario, seed: int = 1) -> list[Row]:
    """The scenario's rows for ``seed``, sorted by time (guarantees 1-3)."""
    rand = KeyedRandom(seed)
    produced: list[list[Row]] = []
    for index, traffic in enumerate(scenario.traffic):
        element = _Element(scenario, index, rand)
        spec = traffic.spec
        if isinstance(spec, Conversations):
            _conversations(element, spec)
        elif isinstance(spec, Burst):
            _bursts(element, spec)
        elif isinstance(spec, Surge):
            _surges(element, spec)
        elif isinstance(spec, Messages):
            _listed(element, spec)
        else:
            chosen = spec.of if spec.of is not None else range(index)
            redelivery = isinstance(spec, Redelivery)
            sources = [
                row
                for source in chosen
                for row in produced[source]
                if redelivery or not row.repeat_kind
            ]
            _repeats(element, spec, sources)
        produced.append(element.rows)
    rows = [row for element_rows in produced for row in element_rows]
    rows.sort(key=lambda row: row.at)
    return rows


def iso_ms(start: datetime, at: int) -> str:
    """``start + at`` µs as ISO 8601 UTC with milliseconds and ``Z``."""
    moment = start + timedelta(microseconds=at)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def row_dict(row: Row, start: datetime) -> dict[str, str]:
    """A shadow JSONL object (docs/capture.md): ``repeat_kind`` and ``content_key`` only when
    set."""
    document = {
        "received_at": iso_ms(start, row.at),
        "contact_id": row.contact_id,
        "message_id": row.message_id,
        "text": row.text,
        "type": row.type,
        "topic": row.topic,
    }
    if row.repeat_kind:
        document["repeat_kind"] = row.repeat_kind
    if row.content_key:
        document["content_key"] = row.content_key
    return document


def generate(
    scenario: Scenario | str | Path,
    seed: int = 1,
    sets: Iterable[str] | Mapping[str, object] = (),
) -> list[dict[str, str]]:
    """The stream of a scenario (object, built-in name or path) as shadow JSONL objects."""
    if isinstance(scenario, Scenario):
        if sets:
            scenario = load_scenario_from(scenario, sets)
    else:
        scenario = load_scenario(scenario, sets)
    return [row_dict(row, scenario.start) for row in generate_rows(scenario, seed)]


def load_scenario_from(scenario: Scenario, sets: Iterable[str] | Mapping[str, object]) -> Scenario:
    """``scenario`` with ``--set`` overrides applied to the mapping it came from."""
    from shadow.streams.scenarios import scenario_from_text

    raw = scenario.raw or scenario.model_dump(mode="json")
    text = yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)
    return scenario_from_text(text, scenario.source or scenario.name, sets)


def write_stream(rows: Iterable[Mapping[str, str]], path: str | Path) -> int:
    """Write shadow JSONL (UTF-8, ``\\n`` line ends); returns the number of rows."""
    count = 0
    with (
        staged_file(Path(path)) as staging,
        staging.open("w", encoding="utf-8", newline="\n") as handle,
    ):
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    return count


def env_path(path: str | Path) -> Path:
    """Where the environment of a generated stream goes: ``FILE.env.yaml``."""
    return Path(f"{path}.env.yaml")


def write_environment(
    environment: Mapping[str, Any], path: str | Path, traffic_kinds: Iterable[str] = ()
) -> Path:
    """Write the scenario's ``environment`` mapping beside ``path`` (YAML, sorted keys), with
    the scenario defaults under it (``users: reactive`` unless its traffic has bursts or
    surges: a generated stream replays as its scenario does)."""
    target = env_path(path)
    text = yaml.safe_dump(
        scenario_environment(environment, traffic_kinds),
        sort_keys=True,
        allow_unicode=True,
        default_flow_style=False,
    )
    with staged_file(target) as staging:
        staging.write_text(text, encoding="utf-8", newline="\n")
    return target


def generate_to_file(
    scenario: str | Path | Scenario,
    path: str | Path,
    seed: int = 1,
    sets: Iterable[str] | Mapping[str, object] = (),
) -> tuple[int, Path]:
    """``shadow generate``: writes ``path`` and ``path.env.yaml``; returns (rows, env path)."""
    loaded = scenario if isinstance(scenario, Scenario) else load_scenario(scenario, sets)
    if isinstance(scenario, Scenario) and sets:
        loaded = load_scenario_from(scenario, sets)
    rows = [row_dict(row, loaded.start) for row in generate_rows(loaded, seed)]
    count = write_stream(rows, path)
    return count, write_environment(loaded.environment, path, loaded.traffic_kinds())
