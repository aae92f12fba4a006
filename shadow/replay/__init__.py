"""``shadow replay`` as a library call, read top to bottom in ``pipeline``: read, normalize,
simulate, compare, write, report."""

from shadow.replay.chunks import CHUNK
from shadow.replay.inputs import (
    LoadedInputs,
    ReplayOptions,
    cohorts_for,
    compare_settings,
    effective_config,
    load_inputs,
)
from shadow.replay.pipeline import PreparedRun, prepare_run, replay, replay_records

__all__ = [
    "CHUNK",
    "LoadedInputs",
    "PreparedRun",
    "ReplayOptions",
    "cohorts_for",
    "compare_settings",
    "effective_config",
    "load_inputs",
    "prepare_run",
    "replay",
    "replay_records",
]
