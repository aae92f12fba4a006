"""Arms and running them: the arm registry (the only place naming model classes) and the
runner that simulates arms in worker processes and returns their outcome columns."""

from shadow.simulation.arms import ArmSpec, ModelSettings, default_arms, default_pairs, parse_arms
from shadow.simulation.runner import (
    ArmProgress,
    ArmResult,
    ArmWorkers,
    Codes,
    GaugeRecord,
    IntArray,
    RunPlan,
    Stream,
    StreamingArm,
    previous_stage,
    release_free_memory,
    run_arms,
    run_arms_in_chunks,
    stream_slice,
)
from shadow.simulation.warm import WarmArms

__all__ = [
    "ArmProgress",
    "ArmResult",
    "ArmSpec",
    "ArmWorkers",
    "Codes",
    "GaugeRecord",
    "IntArray",
    "ModelSettings",
    "RunPlan",
    "Stream",
    "StreamingArm",
    "WarmArms",
    "default_arms",
    "default_pairs",
    "parse_arms",
    "previous_stage",
    "release_free_memory",
    "run_arms",
    "run_arms_in_chunks",
    "stream_slice",
]
