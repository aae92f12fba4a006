"""The raw layers of the configuration: a YAML file (with the line of every key) and ``--set``.

Guarantees:

1. A layer is plain data shaped like the configuration tree; nothing here validates values
   (``shadow.config`` does, once every layer is merged).
2. ``file_layer`` reads the file once; YAML syntax errors, a repeated key or a top level that is
   not a mapping raise ``InputError(file name, line, reason)``. Only the file's name (never an
   absolute path) is kept, so a source label never depends on where the file lives.
3. ``parse_set`` reads ``dotted.key=value`` with the value as YAML (``5s``, ``null``,
   ``[1s, 2s]``, ``{median: 2s, p95: 5s}``). Keys of ``replies`` and ``script`` may contain dots
   (message ids do): after ``environment.agent.replies.`` the rest is one key, and after
   ``environment.agent.script.`` the rest is one message id unless it ends with ``.latency``,
   ``.outcome`` or ``.reply``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shadow.common import InputError, UsageError

Path_ = tuple[str | int, ...]
SCRIPT_FIELDS = ("latency", "outcome", "reply")


@dataclass(frozen=True)
class Layer:
    """One source of values: its label, its data, and for a file its name and key lines."""

    label: str
    data: dict[str, Any]
    file: str | None = None
    lines: dict[Path_, int] = field(default_factory=dict, repr=False)


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key repeated in one mapping (the last would silently win)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Hashable, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} repeated (first on line {seen[key]})", key_node.start_mark
            )
        if isinstance(key, Hashable):
            seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def read_yaml(text: str) -> Any:
    """Parse YAML strictly (guarantee 2); ``yaml.YAMLError`` on bad input."""
    return yaml.load(text, Loader=_StrictLoader)


def file_layer(path: Path) -> Layer:
    """The ``--config`` file as a layer labelled ``config:<file name>`` (guarantee 2)."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(name, None, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(name, None, f"cannot read: {exc}") from None
    try:
        data = read_yaml(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(name, mark.line + 1 if mark else None, str(problem)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(name, 1, "the top level must be a mapping of sections")
    lines: dict[Path_, int] = {}
    if root is not None:
        _collect_lines(root, (), lines)
    return Layer(f"config:{name}", data, name, lines)


def _collect_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            here = (*path, str(key_node.value))
            lines[here] = key_node.start_mark.line + 1
            _collect_lines(value_node, here, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            here = (*path, index)
            lines[here] = item.start_mark.line + 1
            _collect_lines(item, here, lines)


def line_of(layer: Layer, loc: Path_) -> int | None:
    """The line of the deepest part of ``loc`` written in the layer's file."""
    for length in range(len(loc), 0, -1):
        line = layer.lines.get(tuple(p if isinstance(p, int) else str(p) for p in loc[:length]))
        if line is not None:
            return line
    return None


def contains(data: Any, loc: Path_) -> bool:
    """Whether ``data`` holds a value at ``loc`` (keys compared as text)."""
    current = data
    for part in loc:
        if isinstance(current, Mapping):
            keys = {str(key): key for key in current}
            if str(part) not in keys:
                return False
            current = current[keys[str(part)]]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        else:
            return False
    return True


def parse_set(item: str) -> Layer:
    """One ``--set dotted.key=value`` as a layer labelled ``--set`` (guarantee 3)."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"--set {item!r}: write KEY=VALUE, e.g. coordinator.duplicate_window=5s")
    parts = key.split(".")
    if any(not part for part in parts):
        raise UsageError(f"--set {item!r}: {key!r} is not a dotted key")
    parts = _map_keys(parts)
    try:
        value = read_yaml(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise UsageError(f"--set {key}: {raw!r} is not a YAML value: {problem}") from None
    data: Any = value
    for part in reversed(parts):
        data = {part: data}
    return Layer("--set", data)


def _map_keys(parts: list[str]) -> list[str]:
    if parts[:3] == ["environment", "agent", "replies"] and len(parts) > 3:
        return [*parts[:3], ".".join(parts[3:])]
    if parts[:3] == ["environment", "agent", "script"] and len(parts) > 3:
        rest = parts[3:]
        if len(rest) >= 2 and rest[-1] in SCRIPT_FIELDS:
            return [*parts[:3], ".".join(rest[:-1]), rest[-1]]
        return [*parts[:3], ".".join(rest)]
    return parts
