"""The exact commands that reproduce a run: inputs, config and seed only.

Guarantees:

1. The replay command names each input as ``run.json`` records it (a path relative to the
   working directory of the run, or ``scenario:NAME``), the seed, the stages, the arms when
   they differ from the defaults, ``--flip-at``, and one ``--set KEY=VALUE`` per config key
   whose value differs from what the inputs alone give (defaults, or the scenario's
   environment); replaying it yields the same ``config_sha256``.
2. Never ``--out``, ``--workers``, ``--force``, an absolute path or a date.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from reports.data import RunData
from shadow.common import ShadowError, format_duration
from shadow.config import load_config, render_value, scenario_environment
from shadow.simulation import default_arms

SEED_KEY = "environment.seed"


@dataclass(frozen=True)
class ConfigDiff:
    """Keys whose value in the run differs from what the inputs alone give."""

    changed: dict[str, Any] = field(default_factory=dict)
    baseline: str = "defaults"
    note: str | None = None


def _scenario_environment(data: RunData) -> tuple[dict[str, Any] | None, str]:
    from shadow.streams import load_scenario

    for item in data.manifest.get("inputs", []):
        if "scenario" in item:
            name = str(item["scenario"])
            try:
                scenario = load_scenario(name)
            except (ShadowError, OSError):
                return None, "defaults"
            environment = scenario_environment(scenario.environment, scenario.traffic_kinds())
            return {"environment": environment}, f"scenario {name}"
    return None, "defaults"


def config_sets(data: RunData) -> ConfigDiff:
    """The run's configuration against the one its inputs give without any option."""
    try:
        run = load_config(None, [], data.manifest["config"], scenario_source="run.json").flat()
        scenario, label = _scenario_environment(data)
        try:
            base = load_config(None, [], scenario).flat()
        except Exception:  # an unreadable scenario: compare with defaults
            base, label = load_config(None, []).flat(), "defaults"
    except Exception as exc:  # the commands then say what is missing
        return ConfigDiff(note=f"the run's configuration could not be read: {exc}")
    changed = {
        key: value
        for key, value in sorted(run.items())
        if key != SEED_KEY and base.get(key) != value
    }
    return ConfigDiff(changed=changed, baseline=label)


def reproduce_commands(data: RunData, diff: ConfigDiff) -> dict[str, Any]:
    """The replay, gate and report commands (guarantees 1 and 2)."""
    m = data.manifest
    parts = ["shadow", "replay"]
    scenario_seed = None
    for item in m.get("inputs", []):
        if "scenario" in item:
            parts.append(f"scenario:{item['scenario']}")
            scenario_seed = item.get("seed")
        else:
            parts.append(shlex.quote(str(item.get("path", ""))))
    seed = m.get("seed")
    sets = dict(diff.changed)
    if scenario_seed is not None and seed is not None and int(scenario_seed) != int(seed):
        parts += ["--seed", str(scenario_seed)]
        sets = {SEED_KEY: seed, **sets}
    elif seed is not None:
        parts += ["--seed", str(seed)]
    stages = [int(s) for s in m.get("stages", [])]
    for stage in stages:
        parts += ["--stage", str(stage)]
    arms = [str(a) for a in m.get("arms", [])]
    if arms != default_arms(stages, "recorded" in arms):
        parts += ["--arms", ",".join(a for a in arms if not a.startswith("rollout@"))]
    if m.get("flip_at") is not None:
        parts += ["--flip-at", format_duration(int(m["flip_at"]))]
    for key, value in sets.items():
        parts += ["--set", shlex.quote(f"{key}={render_value(value)}")]
    commands = [" ".join(parts)]
    previous: int | None = None
    for stage in stages:
        gate = f"shadow gate RUN_DIR --stage {stage}"
        if previous is not None:
            gate += f" --previous RUN_DIR/gate-{previous}.json"
        commands.append(gate)
        previous = stage
    commands.append("shadow report RUN_DIR")
    return {
        "commands": commands,
        "config_sha256": m.get("config_sha256", ""),
        "baseline": diff.baseline,
        "changed": len(diff.changed),
        "note": diff.note,
    }
