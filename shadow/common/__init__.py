"""What every layer shares: errors and exit statuses, durations, divergence kinds and
severities, the JSON spellings of run files, the stopwatch behind ``timing.json``, the byte
sizes of JavaScript Maps (``v8_bytes``), and what keeps capture values out of messages
(``describe_value``) and secrets out of everything (``SECRET_NAMES``).

Standard library only.
"""

from shadow.common.describe import describe_value
from shadow.common.divergence_kinds import KINDS, SEVERITIES, DivergenceKind
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
from shadow.common.secret_names import SECRET, SECRET_NAMES, is_secret_name, scrub_secrets
from shadow.common.timing import Stopwatch
from shadow.common.v8_bytes import STRUCTURES, Structure, entries_for_bytes

__all__ = [
    "KINDS",
    "SECRET",
    "SECRET_NAMES",
    "SEVERITIES",
    "STRUCTURES",
    "CheckFailed",
    "DivergenceKind",
    "InputError",
    "Interrupted",
    "ShadowError",
    "Stopwatch",
    "Structure",
    "UsageError",
    "canonical_json",
    "compact_json",
    "describe_value",
    "duration_value",
    "entries_for_bytes",
    "format_duration",
    "install_handlers",
    "is_secret_name",
    "kill_workers",
    "parse_duration",
    "scrub_secrets",
    "staged_file",
    "stop_workers",
]
