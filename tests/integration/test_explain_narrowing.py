"""``shadow.explain``'s narrowed re-runs (timelines guarantee 3): the same timelines as a
whole-arm re-run, the narrowest scope the gauges allow, and a fallback when a scope does not
reproduce the stored outcomes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import shadow.explain.timelines as timelines
from shadow.explain import open_run, rerun
from shadow.replay.inputs import ReplayOptions
from shadow.replay.pipeline import replay
from shadow.simulation import run_arms
from shadow.streams import generate_to_file


@pytest.fixture(scope="module")
def steady(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A steady load no global limit touches, with rollout stages."""
    folder = tmp_path_factory.mktemp("steady")
    capture = folder / "load.jsonl"
    sets = ("duration=12m", "contacts=60")
    generate_to_file("load-100-per-min", capture, seed=3, sets=sets)
    out = folder / "run"
    replay(ReplayOptions(inputs=[str(capture)], stages=[10, 50], out=out, reports=False))
    return out


@pytest.fixture(scope="module")
def surge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Contacts wait for global slots and lock entries: contacts interact."""
    out = tmp_path_factory.mktemp("surge") / "run"
    replay(ReplayOptions(inputs=["scenario:many-contacts-surge"], out=out, reports=False))
    return out


def _whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timelines, "narrowings", lambda run, seqs, arms: [])


def _shown(events: list[Any]) -> list[Any]:
    # an event's ``system`` is the recorder's label of the arm's latest arrival, whoever's it
    # is: a narrowed run cannot reproduce it, and neither explain nor the report shows it
    return [e._replace(system="") for e in events]


def _same(narrow: list[Any], whole: list[Any]) -> None:
    assert [t.arm for t in narrow] == [t.arm for t in whole]
    for a, b in zip(narrow, whole, strict=True):
        assert _shown(a.events) == _shown(b.events), a.arm
        assert a.outcomes == b.outcomes, a.arm


def _scopes(run_dir: Path, seqs: list[int]) -> list[int]:
    run = open_run(run_dir)
    arms = [spec.name for spec in run.plan.arms if spec.simulated]
    return [len(scope) for scope, _, _ in timelines.narrowings(run, seqs, arms)]


def test_without_global_limits_only_the_contact_is_re_run(steady: Path) -> None:
    run = open_run(steady)
    size = len(run.stream)
    seq = size // 2
    scopes = _scopes(steady, [seq])
    contact = run.seqs_of_contact(str(run.stream.contact_id.tolist(seq, seq + 1)[0]))
    assert scopes[0] == len(contact) < size  # the contact first, then a prefix
    assert len(scopes) == 2 and scopes[1] < size


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_narrowed_timelines_equal_the_whole_arm_s(
    steady: Path, fraction: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = open_run(steady)
    seq = int(len(run.stream) * fraction)
    narrow = rerun(run, [seq])
    _whole(monkeypatch)
    _same(narrow, rerun(open_run(steady), [seq]))


def test_with_global_limits_reached_the_contact_alone_is_never_tried(
    surge: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = open_run(surge)
    arms = [spec.name for spec in run.plan.arms if spec.simulated]
    assert timelines.limits_reached(surge, arms)
    seq = len(run.stream) // 3
    scopes = _scopes(surge, [seq])
    assert (
        all(
            size != len(run.seqs_of_contact(str(run.stream.contact_id.tolist(seq, seq + 1)[0])))
            for size in scopes
        )
        or not scopes
    )
    narrow = rerun(run, [seq])
    _whole(monkeypatch)
    _same(narrow, rerun(open_run(surge), [seq]))


def test_a_scope_that_does_not_reproduce_falls_back_to_the_whole_arm(
    steady: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = open_run(steady)
    seq = len(run.stream) // 2
    calls: list[int | None] = []
    real = run_arms

    def counting(plan: Any, stream: Any, workers: Any = None, capture: Any = ()) -> Any:
        calls.append(None if stream.only is None else len(stream.only))
        return real(plan, stream, workers, capture=capture)

    # simulating nothing cannot reproduce the asked seq's stored row
    asked = np.asarray([seq])
    monkeypatch.setattr(
        timelines,
        "narrowings",
        lambda run, seqs, arms: [(np.zeros(0, dtype=np.int64), asked, timelines.COMPARED)],
    )
    monkeypatch.setattr(timelines, "run_arms", counting)
    narrow = rerun(run, [seq])
    assert calls == [0, None]
    monkeypatch.setattr(timelines, "run_arms", real)
    _whole(monkeypatch)
    _same(narrow, rerun(open_run(steady), [seq]))


def test_limits_reached_reads_caps_and_held_back_messages(tmp_path: Path) -> None:
    rows = {
        "arm": ["legacy", "legacy", "unified"],
        "structure": ["orchestrator.slots", "orchestrator.slot_waiting", "unified.locks"],
        "time": [10.0, 10.0, 10.0],
        "value": [3, 0, 100],
        "cap": pd.array([50, None, 100], dtype="Int64"),
    }
    pd.DataFrame(rows).to_parquet(tmp_path / "gauges.parquet")
    assert not timelines.limits_reached(tmp_path, ["legacy"])
    assert timelines.limits_reached(tmp_path, ["legacy", "unified"])  # unified at its cap
    rows["value"] = [3, 1, 0]
    pd.DataFrame(rows).to_parquet(tmp_path / "gauges.parquet")
    assert timelines.limits_reached(tmp_path, ["legacy"])  # a message waited for a slot
    assert timelines.limits_reached(tmp_path / "missing", ["legacy"])
