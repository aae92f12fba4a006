"""``--stage`` and ``--flip-at``: cohorts, direct and indirect effects, handover divergences."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from shadow.replay.inputs import ReplayOptions
from shadow.replay.pipeline import replay
from shadow.rollout.flags import RolloutSettings, bucket, entry_stage

SETTINGS = RolloutSettings()  # unleash, USE_UNIFIED_COORDINATOR


def contact_entering_between(low: int, high: int, skip: int = 0) -> str:
    """A phone number whose contact joins the rollout at a stage in ``(low, high]``."""
    found = 0
    for n in range(10_000):
        contact = f"5511970{n:06d}"
        if low < entry_stage(bucket(contact, SETTINGS), SETTINGS) <= high:
            if found == skip:
                return contact
            found += 1
    raise AssertionError("no such contact")


def write_capture(path: Path, rows: list[tuple[float, str, str]]) -> None:
    base = pd.Timestamp("2026-02-02T10:00:00Z")
    lines = [
        json.dumps(
            {
                "received_at": (base + pd.Timedelta(seconds=at)).isoformat().replace("+00:00", "Z"),
                "contact_id": contact,
                "message_id": f"wamid.{i}",
                "text": text,
            }
        )
        for i, (at, contact, text) in enumerate(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    path.with_name(path.name + ".env.yaml").write_text(
        "agent: {latency: 5s, error_rate: 0, hang_rate: 0}\nsender: {failure_rate: 0}\n"
    )


def test_a_resend_across_the_flip_is_a_handover_divergence(tmp_path: Path) -> None:
    moved = contact_entering_between(10, 50)
    stays = contact_entering_between(50, 101)
    capture = tmp_path / "flip.jsonl"
    write_capture(
        capture,
        [(58, moved, "Oi"), (62, moved, "Oi"), (58, stays, "Oi"), (62, stays, "Oi")],
    )
    out = tmp_path / "run"
    replay(
        ReplayOptions(
            inputs=[str(capture)],
            stages=[10, 50],
            flip_at=2_000_000,  # virtual time runs from the first message (58 s): flip at 60 s
            sets=["rollout.flip_mode=hot"],  # [A19]: both coordinators alive, no restart
            out=out,
            reports=False,
        )
    )
    outcomes = pd.read_parquet(out / "outcomes.parquet")
    flipped = outcomes[outcomes["arm"] == "rollout@50"].set_index("seq")
    stream = pd.read_parquet(out / "stream.parquet")
    moved_seqs = stream.index[stream["bucket"] <= 50].tolist()
    assert [flipped.loc[s, "system"] for s in moved_seqs] == ["legacy", "unified"]
    lines = [json.loads(x) for x in (out / "divergences.jsonl").read_text().splitlines()]
    handover = [d for d in lines if "handover" in d["kinds"]]
    assert {d["seq"] for d in handover} == {moved_seqs[1]}
    assert {d["candidate"] for d in handover} == {"rollout@50"}
    assert all(d["severity"] == "regression" and d["effect"] == "direct" for d in handover)
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["flip_at"] == 2_000_000
    assert manifest["rollout"]["cohorts"]["50"] == {"contacts": 1, "messages": 2}
    assert manifest["rollout"]["cohorts"]["10"] == {"contacts": 0, "messages": 0}


def test_without_a_flip_a_stage_keeps_its_cohort_on_unified_throughout(tmp_path: Path) -> None:
    moved = contact_entering_between(10, 50)
    capture = tmp_path / "stage.jsonl"
    write_capture(capture, [(58, moved, "Oi"), (62, moved, "Oi")])
    out = tmp_path / "run"
    replay(ReplayOptions(inputs=[str(capture)], stages=[50], out=out, reports=False))
    outcomes = pd.read_parquet(out / "outcomes.parquet")
    rows = outcomes[outcomes["arm"] == "rollout@50"]
    assert rows["system"].tolist() == ["unified", "unified"]
    lines = [json.loads(x) for x in (out / "divergences.jsonl").read_text().splitlines()]
    assert not any("handover" in d["kinds"] for d in lines)


def test_flip_mode_restart_loses_in_flight_work_and_redelivers_the_downtime(tmp_path: Path) -> None:
    """``--flip-mode restart`` (the default): the rollout arm's process restarts at the flip
    (60 s) for ``rollout.flip_downtime`` (30 s); the arms without a stage do not restart."""
    moved = contact_entering_between(10, 50)
    stays = contact_entering_between(50, 101)
    capture = tmp_path / "flip.jsonl"
    write_capture(
        capture,
        [(58, moved, "Oi"), (62, moved, "Oi"), (58, stays, "Oi"), (62, stays, "Oi")],
    )
    out = tmp_path / "run"
    replay(
        ReplayOptions(inputs=[str(capture)], stages=[50], flip_at=2_000_000, out=out, reports=False)
    )
    outcomes = pd.read_parquet(out / "outcomes.parquet")
    stream = pd.read_parquet(out / "stream.parquet")
    flipped = outcomes[outcomes["arm"] == "rollout@50"].set_index("seq")
    legacy = outcomes[outcomes["arm"] == "legacy"].set_index("seq")
    fates = flipped["fate"].to_dict()
    # the two messages of 58 s were in the agent at the flip: lost; those of 62 s arrived while
    # the process was down and were redelivered by the Cloud API 30 s later, then answered
    assert sorted(fates.values()) == ["answered", "answered", "lost", "lost"]
    assert "lost" not in set(legacy["fate"])  # only the rollout arm restarts
    answered = flipped[flipped["fate"] == "answered"]
    assert answered["reply_latency"].tolist() == [35.3, 35.3]  # 30 s + agent 5 s + send 0.3 s
    moved_seqs = stream.index[stream["bucket"] <= 50].tolist()
    assert flipped.loc[moved_seqs[1], "system"] == "unified"
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["config"]["rollout"]["flip_mode"] == "restart"
    assert manifest["config"]["rollout"]["flip_downtime"] == "30s"
