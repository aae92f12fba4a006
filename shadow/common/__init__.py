"""What every layer shares: errors and exit statuses, durations, divergence kinds and
severities, the JSON spellings of run files, and the stopwatch behind ``timing.json``.

Standard library only.
"""

from shadow.common.divergence_kinds import KINDS, SEVERITIES
from shadow.common.durations import duration_value, format_duration, parse_duration
from shadow.common.errors import CheckFailed, InputError, ShadowError, UsageError
from shadow.common.interrupts import (
    Interrupted,
    install_handlers,
    kill_workers,
    staged_file,
    stop_workers,
)
from shadow.common.jsonio import canonical_json, compact_json
from shadow.common.timing import Stopwatch

__all__ = [
    "KINDS",
    "SEVERITIES",
    "CheckFailed",
    "InputError",
    "Interrupted",
    "ShadowError",
    "Stopwatch",
    "UsageError",
    "canonical_json",
    "compact_json",
    "duration_value",
    "format_duration",
    "install_handlers",
    "kill_workers",
    "parse_duration",
    "staged_file",
    "stop_workers",
]
