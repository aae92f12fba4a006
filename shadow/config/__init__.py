"""The configuration: defaults, scenario environment, ``--config`` and ``--set`` layered and
validated into one ``EffectiveConfig``; the model assumptions in force; the config doc."""

from shadow.config.assumptions import assumptions_in_force
from shadow.config.effective import EffectiveConfig, load_config, render_value
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
    "EffectiveConfig",
    "Reading",
    "alternatives",
    "assumptions_in_force",
    "load_config",
    "reading_for",
    "render_value",
    "selected_readings",
    "set_argument",
    "value_label",
]
