"""The effective configuration: defaults < scenario environment < ``--config`` < ``--set``.

Guarantees:

1. ``load_config`` merges the layers key by key: sections merge, a leaf is replaced whole by a
   later layer, except the map-valued leaves (``environment.agent.replies``,
   ``environment.agent.script``, ``compare.severity``), whose entries merge too. Lists
   (``backoff``, ``outages``, ``restarts``) are replaced whole.
2. Every leaf key has exactly one source: ``default``, the scenario label (``scenario``),
   ``config:<file name>`` or ``--set`` - the last layer that wrote it or anything below it.
3. A bad key or value raises ``UsageError`` naming the full dotted key and what is allowed;
   when it came from the ``--config`` file the error is also an ``InputError`` with the file
   and line. A file that is not YAML, or has a repeated key, raises ``InputError``.
4. ``sha256`` is over the canonical JSON of the whole effective configuration (sorted keys,
   durations in their canonical spelling), so it does not depend on where a value came from,
   on the order of the input, or on ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import json
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from legacy_models import (
    CoordinatorSettings,
    LegacySettings,
    OrchestratorSettings,
    ResponseManagerSettings,
)
from shadow.common import InputError, UsageError
from shadow.config.layers import Layer, contains, file_layer, line_of, parse_set
from shadow.config.schema import (
    CaptureConfig,
    CompareConfig,
    LiveConfig,
    RolloutConfig,
    RunConfig,
    ScriptEntryConfig,
    ShadowConfig,
)
from shadow.config.values import ConfigValueError
from shadow.world import (
    AgentSettings,
    EnvironmentSettings,
    Outage,
    Restart,
    ScriptEntry,
    SenderSettings,
)
from unified import UnifiedSettings

DEFAULT = "default"
SET = "--set"
#: Leaves whose value is a map: its entries merge across layers (guarantee 1).
MAP_LEAVES = frozenset(
    {"environment.agent.replies", "environment.agent.script", "compare.severity"}
)


class ConfigFileError(InputError, UsageError):
    """A bad key or value found in the ``--config`` file: both a usage and an input error."""


def _walk_model(
    model: type[BaseModel], prefix: str, sections: list[str], leaves: list[str]
) -> None:
    for name, info in model.model_fields.items():
        key = f"{prefix}{info.alias or name}"
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            sections.append(key)
            _walk_model(annotation, key + ".", sections, leaves)
        else:
            leaves.append(key)


_sections: list[str] = []
_leaves: list[str] = []
_walk_model(ShadowConfig, "", _sections, _leaves)
SECTIONS = frozenset(_sections)
#: Every leaf key, sorted: the rows of ``config show`` and docs/config.md.
LEAF_KEYS: tuple[str, ...] = tuple(sorted(_leaves))
ROOT_KEYS = tuple(ShadowConfig.model_fields)


@dataclass(frozen=True)
class EffectiveConfig:
    """The validated configuration, where each value came from, and the models' settings."""

    model: ShadowConfig
    sources: dict[str, str]
    layers: tuple[Layer, ...] = field(default=(), repr=False)

    @property
    def run(self) -> RunConfig:
        return self.model.run

    @property
    def rollout(self) -> RolloutConfig:
        return self.model.rollout

    @property
    def compare(self) -> CompareConfig:
        return self.model.compare

    @property
    def capture(self) -> CaptureConfig:
        return self.model.capture

    @property
    def live(self) -> LiveConfig:
        return self.model.live

    def document(self) -> dict[str, Any]:
        """The whole configuration as JSON-able data, durations spelled (for ``run.json``)."""
        return self.model.model_dump(mode="json", by_alias=True)

    def flat(self) -> dict[str, Any]:
        """Every leaf key, sorted, to its JSON-able value."""
        document = self.document()
        flat: dict[str, Any] = {}
        for key in LEAF_KEYS:
            value: Any = document
            for part in key.split("."):
                value = value[part]
            flat[key] = value
        return flat

    def show(self) -> dict[str, dict[str, Any]]:
        """``config show --json``: ``{key: {"value", "source"}}``."""
        return {key: {"value": v, "source": self.sources[key]} for key, v in self.flat().items()}

    @property
    def sha256(self) -> str:
        """Guarantee 4."""
        canonical = json.dumps(
            self.document(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    def with_sets(self, sets: list[str]) -> EffectiveConfig:
        """This configuration with more ``--set`` overrides on top (sweeps vary keys so)."""
        return _resolve([*self.layers, *(parse_set(item) for item in sets)])

    def legacy_settings(self) -> LegacySettings:
        o, c, r = self.model.orchestrator, self.model.coordinator, self.model.response_manager
        return LegacySettings(
            orchestrator=OrchestratorSettings(**dict(o)),
            coordinator=CoordinatorSettings(
                mutex=c.mutex,
                duplicate_window=c.duplicate_window,
                hash_text=c.hash_text,
                batching_enabled=c.batching.enabled,
                max_batch=c.batching.max_batch,
                collect_delay=c.batching.collect_delay,
                max_queue_size=c.max_queue_size,
                overflow=c.overflow,
                emergency_flush_queues=c.emergency_flush_queues,
                emergency_flush=c.emergency_flush,
                cleanup_every=c.cleanup_every,
            ),
            response_manager=ResponseManagerSettings(**(dict(r) | {"backoff": tuple(r.backoff)})),
        )

    def flip_downtime(self) -> int | None:
        """The rollout arms' downtime at ``--flip-at`` (``rollout.flip_mode: restart``), or None
        for the hot, in-process flip of [A19]."""
        rollout = self.model.rollout
        return None if rollout.flip_mode == "hot" else rollout.flip_downtime

    def unified_settings(self) -> UnifiedSettings:
        u = self.model.unified
        tuples = {
            "backoff": tuple(u.backoff),
            "response_hash_fields": tuple(u.response_hash_fields),
        }
        return UnifiedSettings(**(dict(u) | tuples))

    def environment_settings(self, seed_override: int | None = None) -> EnvironmentSettings:
        """The environment of an arm; ``seed_override`` for the ``legacy~N`` noise-floor arms."""
        env = self.model.environment
        agent, sender = env.agent, env.sender
        return EnvironmentSettings(
            seed=env.seed if seed_override is None else seed_override,
            agent=AgentSettings(
                latency=agent.latency,
                error_rate=agent.error_rate,
                hang_rate=agent.hang_rate,
                client_timeout=agent.client_timeout,
                same_input_same_reply=agent.same_input_same_reply,
                replies=dict(agent.replies),
                script={key: ScriptEntry(**dict(entry)) for key, entry in agent.script.items()},
            ),
            sender=SenderSettings(
                latency=sender.latency,
                failure_rate=sender.failure_rate,
                outages=tuple(Outage(o.start, o.end, o.failure_rate) for o in sender.outages),
            ),
            restarts=tuple(Restart(r.at, r.downtime) for r in env.restarts),
            redelivery=env.redelivery,
            users=env.users,
            pacing_max=env.pacing_max,
        )


#: What a scenario's environment holds unless it says otherwise: simulated users react to each
#: arm's replies (docs/models.md, Users). Captures keep the schema defaults.
SCENARIO_DEFAULTS: dict[str, Any] = {"users": "reactive"}
#: Traffic whose users do not wait for replies (a burst, a surge): a scenario with any of
#: them keeps open users unless its environment says otherwise.
UNPACED_TRAFFIC = ("burst", "surge")


def scenario_environment(
    environment: Mapping[str, Any] | None, traffic_kinds: Iterable[str] = ()
) -> dict[str, Any]:
    """A scenario's ``environment:`` block with ``SCENARIO_DEFAULTS`` under what it sets (a
    full config mapping gets them in its ``environment`` section); ``users: open`` instead
    when its traffic has a kind in ``UNPACED_TRAFFIC``."""
    defaults = dict(SCENARIO_DEFAULTS)
    if any(kind in UNPACED_TRAFFIC for kind in traffic_kinds):
        defaults["users"] = "open"
    data = dict(environment or {})
    if data and all(key in ROOT_KEYS for key in data):
        return {**data, "environment": {**defaults, **(data.get("environment") or {})}}
    return {**defaults, **data}


def load_config(
    config_file: Path | None,
    sets: list[str],
    scenario_env: Mapping[str, Any] | None = None,
    scenario_source: str = "scenario",
    options: Sequence[tuple[str, str]] = (),
) -> EffectiveConfig:
    """The effective configuration of a command (guarantees 1-3).

    ``scenario_env`` is a scenario's ``environment:`` block (or a full config mapping, when
    every top-level key is a section name); ``sets`` are ``dotted.key=value`` strings whose
    value is read as YAML (``{median: 2s, p95: 5s}`` works).
    """
    layers: list[Layer] = []
    if scenario_env:
        data = dict(scenario_env)
        if not all(key in ROOT_KEYS for key in data):
            data = {"environment": data}
        layers.append(Layer(scenario_source, data))
    if config_file is not None:
        layers.append(file_layer(config_file))
    layers.extend(parse_set(item) for item in sets)
    # a command's own options (``--provider foo``) are blamed on themselves, not on --set
    layers.extend(dataclasses.replace(parse_set(item), label=label) for label, item in options)
    return _resolve(layers)


def _resolve(layers: list[Layer]) -> EffectiveConfig:
    merged: dict[str, Any] = {}
    sources = dict.fromkeys(LEAF_KEYS, DEFAULT)
    for layer in layers:
        _merge(merged, layer.data, (), layer.label, sources)
    try:
        model = ShadowConfig.model_validate(merged)
    except ValidationError as exc:
        raise _explain(exc, layers) from None
    return EffectiveConfig(model, sources, tuple(layers))


def _merge(
    base: dict[str, Any],
    overlay: Mapping[Any, Any],
    path: tuple[str, ...],
    label: str,
    sources: dict[str, str],
) -> None:
    for raw_key, value in overlay.items():
        key = raw_key if isinstance(raw_key, str) else str(raw_key)
        here = (*path, key)
        dotted = ".".join(here)
        if dotted in SECTIONS and value is None:
            continue  # a section whose keys are all commented out
        deep = dotted in SECTIONS or any(dotted.startswith(m + ".") for m in MAP_LEAVES)
        if (deep or dotted in MAP_LEAVES) and isinstance(value, Mapping):
            if not isinstance(base.get(raw_key), dict):
                base[raw_key] = {}
            _merge(base[raw_key], value, here, label, sources)
        else:
            base[raw_key] = copy.deepcopy(value)
        leaf = next((k for k in (".".join(here[:n]) for n in range(1, len(here) + 1))
                     if k in sources), None)  # fmt: skip
        if leaf is not None:
            sources[leaf] = label


def _explain(exc: ValidationError, layers: list[Layer]) -> UsageError:
    errors = exc.errors()
    first = errors[0]
    loc: tuple[str | int, ...] = tuple(p for p in first["loc"] if p != "[key]")
    error = first.get("ctx", {}).get("error")
    kind = first["type"]
    if isinstance(error, ConfigValueError):
        loc = (*loc, *error.subpath)
        reason = error.reason
    elif kind == "extra_forbidden":
        reason = _unknown_key(loc)
    elif kind == "literal_error":
        allowed = ", ".join(_quoted(first["ctx"]["expected"]))
        reason = f"{first['input']!r} is not one of {allowed}"
    elif kind == "missing":
        reason = "required"
    elif kind in ("model_type", "dict_type"):
        reason = f"expected a mapping, got {first['input']!r}"
    else:
        message = first["msg"].removeprefix("Value error, ")
        reason = f"{message[0].lower()}{message[1:]} (got {first['input']!r})"
    key = _dotted(loc)
    message = reason if kind == "extra_forbidden" else f"{key}: {reason}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    layer = _layer_of(loc, layers)
    if layer is None:
        return UsageError(message)
    if layer.file is not None:
        return ConfigFileError(layer.file, line_of(layer, loc), message)
    return UsageError(f"{message} (from {layer.label})")


def _unknown_key(loc: tuple[str | int, ...]) -> str:
    key = _dotted(loc)
    allowed = _fields_at(loc[:-1])
    name = str(loc[-1])
    parent = _dotted(loc[:-1])
    prefix = f"{parent}." if parent else ""
    close = [prefix + match for match in difflib.get_close_matches(name, allowed, n=1)]
    close = close or [leaf for leaf in LEAF_KEYS if leaf.endswith("." + name)][:3]
    if close:
        return f"unknown key {key!r} (did you mean {' or '.join(close)}?)"
    return f"unknown key {key!r} (allowed under {parent or 'the top level'}: {', '.join(allowed)})"


def _fields_at(loc: tuple[str | int, ...]) -> list[str]:
    """The keys allowed in the mapping at ``loc`` (through sections, lists and maps)."""
    current: Any = ShadowConfig
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {info.alias or name: info for name, info in current.model_fields.items()}
            info = fields.get(str(part))
            current = info.annotation if info is not None else None
        else:
            args = typing.get_args(current)
            current = args[-1] if args else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return []


def _layer_of(loc: tuple[str | int, ...], layers: list[Layer]) -> Layer | None:
    """The layer that wrote the deepest part of ``loc``, the latest first."""
    for length in range(len(loc), 0, -1):
        for layer in reversed(layers):
            if contains(layer.data, loc[:length]):
                return layer
    return None


def _dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _quoted(expected: str) -> list[str]:
    return [part.strip("'") for part in expected.replace(" or ", ", ").split(", ")]


def render_value(value: Any) -> str:
    """A value as ``config show`` prints it: YAML flow, pasteable into ``--set``."""
    text = yaml.safe_dump(
        value, default_flow_style=True, allow_unicode=True, width=10**9, sort_keys=False
    )
    return text.removesuffix("\n").removesuffix("\n...").strip()


__all__ = [
    "LEAF_KEYS",
    "MAP_LEAVES",
    "ConfigFileError",
    "EffectiveConfig",
    "ScriptEntryConfig",
    "ShadowConfig",
    "load_config",
    "render_value",
]
