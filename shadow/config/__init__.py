"""The configuration: defaults, scenario environment, ``--config`` and ``--set`` layered and
validated into one ``EffectiveConfig``; the model assumptions in force; the config doc."""

from shadow.config.assumptions import assumptions_in_force
from shadow.config.effective import (
    SCENARIO_DEFAULTS,
    EffectiveConfig,
    load_config,
    render_value,
    scenario_environment,
)

__all__ = [
    "SCENARIO_DEFAULTS",
    "EffectiveConfig",
    "assumptions_in_force",
    "load_config",
    "render_value",
    "scenario_environment",
]
