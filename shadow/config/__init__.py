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
from shadow.config.readings import (
    READINGS,
    Reading,
    alternatives,
    reading_for,
    selected_readings,
    set_argument,
    value_label,
)

__all__ = [
    "READINGS",
    "SCENARIO_DEFAULTS",
    "EffectiveConfig",
    "Reading",
    "alternatives",
    "assumptions_in_force",
    "load_config",
    "reading_for",
    "render_value",
    "scenario_environment",
    "selected_readings",
    "set_argument",
    "value_label",
]
