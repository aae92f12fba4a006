"""What every layer shares: errors and exit statuses, durations, divergence kinds and
severities, the JSON spellings of run files, the stopwatch behind ``timing.json``, and the
byte sizes of JavaScript Maps (``v8_bytes``).

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
from shadow.common.v8_bytes import STRUCTURES, Structure, entries_for_bytes

__all__ = [
    "KINDS",
    "SEVERITIES",
    "STRUCTURES",
    "CheckFailed",
    "InputError",
    "Interrupted",
    "ShadowError",
    "Stopwatch",
    "Structure",
    "UsageError",
    "canonical_json",
    "compact_json",
    "duration_value",
    "entries_for_bytes",
    "format_duration",
    "install_handlers",
    "kill_workers",
    "parse_duration",
    "staged_file",
    "stop_workers",
]
