"""The runner's arms over a generated stream: what one arm run leaves behind."""

from __future__ import annotations

import gc

import pytest

from shadow.prepare.plan import plan_for, resolve_arms
from shadow.prepare.stream import prepare_stream
from shadow.replay.inputs import ReplayOptions, effective_config
from shadow.simulation.arms import ModelSettings
from shadow.simulation.runner import run_arm
from shadow.streams.loadgen import steady_load


def _cyclic_garbage(arm: str, messages: int) -> int:
    """Objects only the cyclic collector can free after one run of ``arm``."""
    config = effective_config(ReplayOptions(inputs=["test"]), None)
    prepared = prepare_stream(list(steady_load(messages, 50)), [], None, False, 300_000)
    specs = resolve_arms([arm], [], False)
    models = ModelSettings(
        config.legacy_settings(), config.unified_settings(), config.environment_settings()
    )
    # no gauge samples: they live as long as the run and go with its teardown, which is cyclic
    plan = plan_for(specs, models, config.run.drain, 10**12, [], None)
    gc.collect()
    gc.disable()
    try:
        result = run_arm(specs[0], plan, prepared.stream)
        assert len(result.fate) == messages
        del result
        return gc.collect()
    finally:
        gc.enable()


@pytest.mark.parametrize("arm", ["legacy", "unified", "orchestrator", "coordinator"])
def test_an_arm_makes_no_cyclic_garbage_per_message(arm: str) -> None:
    """Kernel guarantee 12 at work: what a run leaves to the collector (its own teardown) does
    not grow with the stream, so the collector can run seldom (``runner``)."""
    small, large = _cyclic_garbage(arm, 300), _cyclic_garbage(arm, 1_200)
    assert large - small < 100, (small, large)
