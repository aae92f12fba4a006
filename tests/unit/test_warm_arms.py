"""``WarmArms``: arms kept between replays of a growing stream give each prefix's whole-run
results, simulate each seq once, and start afresh (counted) when the prefix changes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from warm_support import fingerprint, plan_and_stream, warm_and_whole

from shadow.simulation import WarmArms, run_arms, stream_slice
from shadow.simulation import warm as warm_module

ROOT = Path(__file__).resolve().parents[2]
CLOUD = str(ROOT / "replay_data" / "captures" / "sample-cloud-api.jsonl")

SOURCES = [
    ("scenario:restart-mid-traffic", ()),  # restarts: buffered arrivals, fresh instances
    ("scenario:slow-agent", ()),  # timeouts and late results
    ("scenario:impatient-duplicates", ()),  # reactive users: withheld resends, pacing
    (CLOUD, (10, 50)),  # a capture, two rollout arms
]


@pytest.mark.parametrize(("source", "stages"), SOURCES, ids=[s for s, _ in SOURCES])
def test_each_prefix_equals_its_whole_run_and_each_seq_is_simulated_once(
    source: str, stages: tuple[int, ...], tmp_path: Path
) -> None:
    plan, stream = plan_and_stream(source, stages)
    size = len(stream)
    cuts = sorted({max(1, size // 5), size // 2, size - 1, size})
    for saved in (None, tmp_path / "arms.pickle"):
        rows = warm_and_whole(plan, stream, cuts, saved)
        assert [warm for warm, _, _ in rows] == [whole for _, whole, _ in rows]
        fed = [b - a for a, b in zip([0, *cuts], cuts, strict=False)]
        assert [counts for _, _, counts in rows] == [(n, 0) for n in fed]


_BURST = plan_and_stream("scenario:burst-high-frequency")


@settings(max_examples=8, deadline=None)
@given(st.lists(st.integers(1, 10_000), min_size=1, max_size=4, unique=True))
def test_any_cuts_give_the_whole_runs(points: list[int]) -> None:
    plan, stream = _BURST
    size = len(stream)
    cuts = sorted({1 + p % size for p in points} | {size})
    rows = warm_and_whole(plan, stream, cuts)
    assert [warm for warm, _, _ in rows] == [whole for _, whole, _ in rows]


def test_a_changed_prefix_is_simulated_afresh_and_counted() -> None:
    plan, stream = plan_and_stream("scenario:restart-mid-traffic")
    size = len(stream)
    warm = WarmArms()
    warm.run(plan, stream_slice(stream, 0, size // 2))
    warm.end_cycle()
    # a late line: one earlier message's time moves (still in order), the prefix differs
    times = stream.received_at.copy()
    row = int(np.flatnonzero(np.diff(times[: size // 2]) > 2)[0])
    times[row] += 1
    changed = dataclasses.replace(stream, received_at=times)
    got = warm.run(plan, changed)
    assert fingerprint(got) == fingerprint(run_arms(plan, changed, workers=1))
    assert warm.end_cycle() == (size, size // 2)


def test_a_missing_or_foreign_file_loads_no_arm(tmp_path: Path) -> None:
    assert WarmArms.load(tmp_path / "absent").arms == {}
    (tmp_path / "garbage").write_bytes(b"not a pickle")
    assert WarmArms.load(tmp_path / "garbage").arms == {}


def test_arms_saved_by_other_code_are_not_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, stream = plan_and_stream("scenario:conflict-2-oi")
    warm = WarmArms()
    warm.run(plan, stream)
    warm.save(tmp_path / "arms.pickle")
    assert WarmArms.load(tmp_path / "arms.pickle").fed == len(stream)
    # an upgrade (or the other build) between the save and the load: simulated afresh
    monkeypatch.setattr(warm_module, "code_fingerprint", lambda: "other code")
    assert WarmArms.load(tmp_path / "arms.pickle").arms == {}


def test_a_cycle_ends_forgetting_only_the_plans_it_did_not_run() -> None:
    plan, stream = plan_and_stream("scenario:conflict-2-oi")
    warm = WarmArms()
    warm.run(plan, stream)
    assert warm.end_cycle() == (len(stream), 0) and len(warm.arms) == 2
    assert warm.end_cycle(forget=False) == (0, 0) and len(warm.arms) == 2  # a failed cycle
    warm.end_cycle()  # a cycle that ran no plan of these arms
    assert warm.arms == {}
