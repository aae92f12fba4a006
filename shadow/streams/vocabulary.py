"""Vocabularies: what synthetic users say, by category, and how a conversation mixes them.

A vocabulary is a YAML file in ``replay_data/vocabularies/`` (found with importlib.resources):
``categories`` of entries (a text, or ``{type, text}`` for media placeholders: media without a
caption has empty text, docs/capture.md) and ``turns`` weights per position in a conversation
(``opening``, ``middle``, ``closing``).

Guarantees:

1. ``Vocabulary.pick(position, u_category, u_entry, previous)`` is a pure function of its
   arguments; it never returns ``previous`` when the chosen category has another entry.
2. Category and weight order follow the file (YAML insertion order), never hashing.
"""

from __future__ import annotations

import functools
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shadow.common import InputError, UsageError
from shadow.streams.record import KNOWN_TYPES

MESSAGE_TYPES = KNOWN_TYPES  # the normalized types of docs/capture.md
Position = Literal["opening", "middle", "closing"]


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = ""
    type: str = "text"

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: object) -> object:
        return {"text": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _known_type(self) -> Entry:
        if self.type not in MESSAGE_TYPES:
            raise ValueError(f"unknown message type {self.type!r}")
        return self


class Turns(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    opening: dict[str, float]
    middle: dict[str, float]
    closing: dict[str, float]


class Vocabulary(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    categories: dict[str, list[Entry]] = Field(min_length=1)
    turns: Turns
    bot_replies: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _weights_name_categories(self) -> Vocabulary:
        for position in ("opening", "middle", "closing"):
            weights: dict[str, float] = getattr(self.turns, position)
            if not weights or sum(weights.values()) <= 0:
                raise ValueError(f"turns.{position} needs positive weights")
            for category, weight in weights.items():
                if category not in self.categories or not self.categories[category]:
                    raise ValueError(f"turns.{position}: no entries for {category!r}")
                if weight < 0:
                    raise ValueError(f"turns.{position}.{category}: negative weight")
        return self

    def pick(self, position: Position, u_category: float, u_entry: float, previous: str) -> Entry:
        """An entry for a turn at ``position`` (guarantee 1)."""
        weights: dict[str, float] = getattr(self.turns, position)
        target = u_category * sum(weights.values())
        chosen = next(iter(weights))
        for category, weight in weights.items():
            chosen = category
            if target < weight:
                break
            target -= weight
        return pick_text(self.categories[chosen], u_entry, previous)

    def all_texts(self) -> list[str]:
        """Every distinct non-empty text, in file order."""
        seen: dict[str, None] = {}
        for entries in self.categories.values():
            for entry in entries:
                if entry.text:
                    seen.setdefault(entry.text, None)
        return list(seen)


def pick_text(entries: list[Entry], u: float, previous: str) -> Entry:
    """A uniform entry, never the previous text again when another entry exists."""
    candidates = [entry for entry in entries if entry.text != previous or not previous]
    pool = candidates or entries
    return pool[min(int(u * len(pool)), len(pool) - 1)]


def _directory() -> Traversable:
    return resources.files("replay_data").joinpath("vocabularies")


def list_vocabularies() -> list[str]:
    """The bundled vocabulary names, sorted."""
    return sorted(
        item.name.removesuffix(".yaml")
        for item in _directory().iterdir()
        if item.name.endswith(".yaml")
    )


@functools.cache
def load_vocabulary(name: str) -> Vocabulary:
    """The bundled vocabulary ``name``; ``UsageError`` listing the names when unknown."""
    names = list_vocabularies()
    if name not in names:
        raise UsageError(f"unknown vocabulary {name!r}; bundled: {', '.join(names)}")
    source = _directory().joinpath(f"{name}.yaml")
    label = f"replay_data/vocabularies/{name}.yaml"
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        return Vocabulary.model_validate(data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(label, mark.line + 1 if mark else None, str(exc)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InputError(label, None, f"{where}: {first['msg']}") from None
