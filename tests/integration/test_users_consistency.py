"""The reactive user model is consistent (issue 19): what legacy's users sent in a reactive
run, replayed as a capture with ``--users reactive``, reproduces the legacy arm exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from shadow.replay.inputs import ReplayOptions
from shadow.replay.pipeline import replay
from shadow.streams import generate_to_file, load_scenario
from shadow.streams.generate import iso_ms

# fixed latencies and no failures: every draw is the same whatever seq a message gets
WORLD = [
    "environment.agent.latency=5s",
    "environment.agent.error_rate=0",
    "environment.agent.hang_rate=0",
    "environment.sender.latency=300ms",
    "environment.sender.failure_rate=0",
    "environment.users=reactive",
]
COMPARED = [
    "fate",
    "rule",
    "cause",
    "processing_count",
    "reply_count",
    "first_reply_at",
    "reply_latency",
    "batch_size",
    "wait_orchestrator",
    "wait_coordinator",
]


def _legacy(capture: Path, out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    options = ReplayOptions(inputs=[str(capture)], arms=["legacy"], sets=WORLD, out=out)
    options.reports = False
    replay(options)
    outcomes = pd.read_parquet(out / "outcomes.parquet")
    return pd.read_parquet(out / "stream.parquet"), outcomes[outcomes["arm"] == "legacy"]


def test_legacy_reproduced_from_a_capture_of_what_its_users_sent(tmp_path: Path) -> None:
    scenario = load_scenario("impatient-duplicates", ["duration=15m", "contacts=60"])
    generated = tmp_path / "scenario.jsonl"
    generate_to_file(scenario, generated, seed=3)
    rows = [json.loads(line) for line in generated.read_text(encoding="utf-8").splitlines()]
    stream, first = _legacy(generated, tmp_path / "first")
    assert len(stream) == len(rows)
    first = first.set_index("seq").sort_index()
    withheld = first["rule"] == "environment.users"
    sent = first["sent_at"].to_numpy(dtype=float)
    assert withheld.any() and (sent > first_stream_seconds(stream) + 1e-9).any()

    # the capture: what legacy's users sent, when, and legacy's replies as production's
    start = pd.Timestamp(rows[0]["received_at"]).to_pydatetime()
    kept = [seq for seq in np.argsort(sent, kind="stable") if not withheld.iloc[seq]]
    lines = []
    for seq in kept:
        row = dict(rows[seq])
        row["received_at"] = iso_ms(start, round(sent[seq] * 1e6))
        lines.append(row)
    for seq in kept:
        replied = first["first_reply_at"].iloc[seq]
        if not np.isnan(replied):
            lines.append(
                {
                    "received_at": iso_ms(start, round(replied * 1e6)),
                    "contact_id": rows[seq]["contact_id"],
                    "message_id": f"out.{seq}",
                    "direction": "out",
                    "reply_to": rows[seq]["message_id"],
                    "text": "reply",
                }
            )
    capture = tmp_path / "legacy-users.jsonl"
    capture.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")

    _, second = _legacy(capture, tmp_path / "second")
    second = second.set_index("seq").sort_index()
    assert len(second) == len(kept)
    assert not (second["rule"] == "environment.users").any()  # nothing more withheld
    if "sent_at" in second.columns:  # every message sent at its captured time
        assert (second["sent_at"].isna() | np.isclose(second["sent_at"], sent[kept])).all()
    expected = first.iloc[kept][COMPARED].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        second[COMPARED].reset_index(drop=True), expected, check_dtype=False
    )


def first_stream_seconds(stream: pd.DataFrame) -> np.ndarray:
    received = stream["received_at"]
    if hasattr(received, "dt"):
        return (received - received.min()).dt.total_seconds().to_numpy()
    return ((received - received.min()) / 1e6).to_numpy()
