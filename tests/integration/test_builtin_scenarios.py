"""Every built-in scenario replayed, and its ``expect`` block checked (docs/scenarios.md).

``shadow.pipeline.scenario_metrics(name, seed, sets=...)`` generates the scenario (with its
environment), replays every arm its expect block names and returns ``{arm: {metric: value}}``
with the metrics of docs/reference.md.

Heavy scenarios are shortened with ``--set`` overrides (``SHORTEN``): memory-soak's 24 h
becomes 2 h, which exercises the same rules (its expectations do not depend on the length).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from shadow.replay.pipeline import scenario_metrics
from shadow.streams.expect import check_expect, describe
from shadow.streams.scenarios import list_scenarios, load_scenario

SEED = 1
SHORTEN: dict[str, list[str]] = {
    "memory-soak": ["duration=2h"],
}

Metrics = Mapping[str, Mapping[str, float]]


@pytest.mark.parametrize("name", [name for name, _ in list_scenarios()])
def test_builtin_scenario_meets_its_expect_block(name: str) -> None:
    sets: Sequence[str] = SHORTEN.get(name, [])
    expect = load_scenario(name, sets).expect
    metrics = scenario_metrics(name, SEED, sets=sets)
    results = check_expect(expect, metrics)
    assert results, f"{name} has no expectations"
    failures = [describe(result, expect[result.arm][result.metric]) for result in results]
    failures = [line for line, result in zip(failures, results, strict=True) if not result.ok]
    assert not failures, f"{name} (seed {SEED}, sets {list(sets)}):\n" + "\n".join(failures)


def test_expect_arms_are_the_ones_a_replay_must_run() -> None:
    """The runner must run every arm named in an expect block, as a key or as a reference."""
    needed: dict[str, set[str]] = {}
    for name, _ in list_scenarios():
        expect: dict[str, Any] = load_scenario(name).expect
        arms = set(expect)
        for checks in expect.values():
            arms |= {text.split()[-1] for text in checks.values() if text.split()[-1].isalpha()}
        needed[name] = arms
    assert needed["burst-high-frequency"] >= {"legacy", "coordinator"}
    assert needed["many-contacts-surge"] >= {"legacy", "unified", "coordinator"}
    assert all(arms >= {"legacy", "unified"} or "coordinator" in arms for arms in needed.values())
