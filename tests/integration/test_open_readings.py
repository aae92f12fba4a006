"""The verdict's dependence on the open readings, through the real ``shadow`` command: a run
where a reading flips the verdict exits 2 naming it; pinned in the policy, the exit follows
the pinned value. The readings come from the one table (``shadow.config.READINGS``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_support import run_shadow

from shadow.config import READINGS, load_config


def _policy(tmp_path: Path, name: str, body: dict[str, Any], pins: dict[str, Any]) -> Path:
    defaults = load_config(None, []).flat()
    readings = {
        reading.key: {"value": defaults[reading.key], "reason": "as in the seed", "approver": "t"}
        for reading in READINGS
    }
    readings.update(
        {
            key: {"value": value, "reason": "read in the code", "approver": "t"}
            for key, value in pins.items()
        }
    )
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**body, "readings": readings}), encoding="utf-8")
    return path


def _unpin(path: Path, key: str) -> Path:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["readings"][key]
    out = path.with_name(path.stem + "-open.yaml")
    out.write_text(yaml.safe_dump(data), encoding="utf-8")
    return out


CASES = [
    # (scenario, stage, reading, the run's value (passes), the alternative (fails), policy)
    (
        "slow-agent",
        10,
        "unified.late_result",
        "send",
        "drop",
        {
            "baseline": "legacy",
            "min_messages": 10,
            "min_contacts": 2,
            "checks": [{"name": "lost replies", "kinds": ["lost_reply"], "max_count": 5}],
        },
    ),
    (
        "many-contacts-surge",
        50,
        "orchestrator.on_lock_wait_timeout",
        "proceed",
        "queue",
        {
            "baseline": "legacy",
            "min_messages": 1,
            "min_contacts": 1,
            "checks": [{"name": "lost replies", "kinds": ["lost_reply"], "max_count": 0}],
        },
    ),
]


@pytest.mark.parametrize(("scenario", "stage", "key", "passing", "failing", "body"), CASES)
def test_a_reading_that_flips_the_verdict_is_named_and_a_pin_decides(
    tmp_path: Path,
    scenario: str,
    stage: int,
    key: str,
    passing: Any,
    failing: Any,
    body: dict[str, Any],
) -> None:
    run = tmp_path / "run"
    replayed = run_shadow(
        "replay",
        f"scenario:{scenario}",
        "--stage",
        str(stage),
        "--out",
        str(run),
        "--set",
        f"run.readings=[{key}]",
        "--set",
        f"{key}={json.dumps(passing)}",
    )
    assert replayed.returncode == 0, replayed.stderr
    tag = next(reading.tag for reading in READINGS if reading.key == key)
    reading = next(reading for reading in READINGS if reading.key == key)

    open_policy = _unpin(_policy(tmp_path, "pinned-pass", body, {key: passing}), key)
    gated = run_shadow("gate", str(run), "--stage", str(stage), "--policy", str(open_policy))
    assert gated.returncode == 2, gated.stdout + gated.stderr
    result = gated.stdout.strip().splitlines()[-1]
    assert result == f"gate stage {stage}: inconclusive (open readings)"
    assert f"[{tag}]" in gated.stderr
    assert f"fails if {reading.clause(failing)}" in gated.stderr
    assert f"passes if {reading.clause(passing)}" in gated.stderr
    document = json.loads((run / f"gate-{stage}.json").read_text(encoding="utf-8"))
    depends = document["readings"]["depends_on"]
    assert [entry["key"] for entry in depends] == [key]

    pinned_pass = _policy(tmp_path, "pinned-pass", body, {key: passing})
    assert (
        run_shadow("gate", str(run), "--stage", str(stage), "--policy", str(pinned_pass)).returncode
        == 0
    )
    document = json.loads((run / f"gate-{stage}.json").read_text(encoding="utf-8"))
    assert {pin["key"] for pin in document["readings"]["pinned"]} == {r.key for r in READINGS}

    pinned_fail = _policy(tmp_path, "pinned-fail", body, {key: failing})
    assert (
        run_shadow("gate", str(run), "--stage", str(stage), "--policy", str(pinned_fail)).returncode
        == 1
    )


def test_replayed_readings_are_byte_identical_whatever_the_workers_and_hash_seed(
    tmp_path: Path,
) -> None:
    folders = []
    for workers, hash_seed in (("1", "1"), ("2", "7")):
        out = tmp_path / f"run-{workers}"
        done = run_shadow(
            "replay",
            "scenario:slow-agent",
            "--stage",
            "10",
            "--out",
            str(out),
            "--workers",
            workers,
            "--set",
            "run.readings=[unified.late_result,coordinator.hash_text]",
            env={"PYTHONHASHSEED": hash_seed},
        )
        assert done.returncode == 0, done.stderr
        folders.append(out)
    first, second = folders
    manifest = json.loads((first / "run.json").read_text(encoding="utf-8"))
    evaluated = manifest["readings"]["evaluated"]
    assert [r["key"] for r in evaluated] == ["coordinator.hash_text", "unified.late_result"]
    # the legacy reading runs legacy again, the unified one only the stage arm
    assert [r["arms"] for r in evaluated] == [["legacy", "rollout@10"], ["rollout@10"]]
    for record in evaluated:
        for name in ("outcomes.parquet", "divergences.jsonl"):
            a = (first / record["folder"] / name).read_bytes()
            assert a == (second / record["folder"] / name).read_bytes(), record["folder"]
    assert (first / "run.json").read_bytes() == (second / "run.json").read_bytes()
