"""``make bench``: measured, never asserted (the machine is shared and noisy).

Run with ``make bench`` (``pytest -m bench --benchmark-enable``); ``make test`` deselects
these. Each benchmark still checks its result, so a fast wrong answer cannot pass.
"""

from __future__ import annotations

from typing import Any

import pytest

from shadow.bench.kernel import pipeline
from shadow.compare.comparison import compare_arms
from shadow.prepare.plan import plan_for, resolve_arms
from shadow.prepare.stream import prepare_stream
from shadow.replay.inputs import ReplayOptions, compare_settings, effective_config
from shadow.simulation.arms import ModelSettings
from shadow.simulation.runner import run_arm
from shadow.streams.loadgen import steady_load

pytestmark = pytest.mark.bench
MESSAGES = 20_000


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    config = effective_config(ReplayOptions(inputs=["bench"]), None)
    prepared = prepare_stream(list(steady_load(MESSAGES, 500)), [], None, False, 300_000)
    specs = resolve_arms(["legacy", "unified"], [], False)
    models = ModelSettings(
        config.legacy_settings(), config.unified_settings(), config.environment_settings()
    )
    plan = plan_for(specs, models, config.run.drain, config.run.gauge_interval, [], None)
    return {"config": config, "prepared": prepared, "specs": specs, "plan": plan}


@pytest.mark.parametrize("keyed_draws", [False, True], ids=["scheduler", "with-keyed-draws"])
def test_kernel_pipeline_200k(benchmark: Any, keyed_draws: bool) -> None:
    """docs/architecture.md's kernel benchmark: per-contact lock + agent delay + send."""
    sent = benchmark.pedantic(
        pipeline, args=(200_000,), kwargs={"keyed_draws": keyed_draws}, rounds=3, iterations=1
    )
    assert sent == 200_000


@pytest.mark.parametrize("arm", ["legacy", "unified"])
def test_one_arm_20k(benchmark: Any, world: dict[str, Any], arm: str) -> None:
    spec = next(s for s in world["specs"] if s.name == arm)
    result = benchmark.pedantic(
        run_arm, args=(spec, world["plan"], world["prepared"].stream), rounds=3, iterations=1
    )
    assert len(result.fate) == MESSAGES


def test_compare_20k(benchmark: Any, world: dict[str, Any]) -> None:
    results = [run_arm(s, world["plan"], world["prepared"].stream) for s in world["specs"]]
    comparison = benchmark.pedantic(
        compare_arms,
        args=(results, world["prepared"], world["specs"], compare_settings(world["config"])),
        rounds=3,
        iterations=1,
    )
    assert len(comparison.frames["legacy"]) == MESSAGES
