"""From normalized records to what the arms run on: pseudonymized stream columns, the
simulation ``Stream``, the recorded arm, and running a plan on them."""

from shadow.prepare.plan import plan_for, resolve_arms, run_plan
from shadow.prepare.stream import (
    Cohorts,
    PreparedStream,
    prepare_stream,
    stream_from_columns,
    translate_script,
    translate_texts,
)

__all__ = [
    "Cohorts",
    "PreparedStream",
    "plan_for",
    "prepare_stream",
    "resolve_arms",
    "run_plan",
    "stream_from_columns",
    "translate_script",
    "translate_texts",
]
