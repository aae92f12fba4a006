"""Issue 17's acceptance: a Cloud API capture with edits, deletions, system notices, error-only
payloads, ``played`` receipts and an invented type replays with the default ``--on-error fail``;
delivering edits changes the outcomes as docs/capture.md says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from cli_support import ROOT, run_shadow

CAPTURE = ROOT / "tests" / "fixtures" / "captures" / "cloud_events.jsonl"
#: no agent errors, hangs or send failures: every fate below follows from the models alone
CERTAIN = [
    "--set",
    "environment.agent.error_rate=0",
    "--set",
    "environment.agent.hang_rate=0",
    "--set",
    "environment.sender.failure_rate=0",
]
EVENTS = {"edit": 1, "revoke": 1, "system": 2, "error": 2, "unknown_type": 1}


def replay(out: Path, *args: str) -> dict[str, Any]:
    result = run_shadow("replay", str(CAPTURE), "--out", str(out), "--workers", "1", *args)
    assert result.returncode == 0, result.stderr
    return dict(json.loads((out / "run.json").read_text(encoding="utf-8")))


def test_validate_json_counts_each_kind_exactly() -> None:
    result = run_shadow("validate", str(CAPTURE), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["events"] == EVENTS
    assert document["unknown_types"] == {"hologram": 1}
    assert document["line_kinds"] == {
        "inbound": 4,
        "receipt": 3,
        "outbound": 0,
        "skipped": 0,
        "rejected": 0,
        "continuation": 0,
        "edit": 1,
        "revoke": 1,
        "system": 2,
        "error": 2,
        "unknown_type": 1,
    }
    assert (document["messages"], document["receipts"], document["rejected"]) == (4, 4, [])


def test_replay_with_on_error_fail_exits_0_and_records_each_kind(tmp_path: Path) -> None:
    manifest = replay(tmp_path / "run")
    assert manifest["accounting"]["events"] == EVENTS
    assert "delivered" not in manifest["accounting"]
    assert manifest["stream"]["messages"] == 4
    assert manifest["rejected_lines"] == 0
    stream = pd.read_parquet(tmp_path / "run" / "stream.parquet")
    assert "event" not in stream.columns and "refers_to" not in stream.columns


def test_strict_rejects_the_invented_type_and_stops_the_replay(tmp_path: Path) -> None:
    result = run_shadow("replay", str(CAPTURE), "--out", str(tmp_path / "run"), "--strict")
    assert result.returncode == 3
    assert "cloud_events.jsonl:13" in result.stderr
    assert "unknown type 'hologram'" in result.stderr
    assert "Traceback" not in result.stderr


def test_delivering_edits_answers_each_edit_as_a_new_message(tmp_path: Path) -> None:
    ignored = replay(tmp_path / "ignored", *CERTAIN)
    delivered = replay(tmp_path / "delivered", *CERTAIN, "--set", "capture.edit=deliver")
    assert delivered["accounting"]["delivered"] == {"edit": 1}
    assert delivered["accounting"]["events"] == ignored["accounting"]["events"] == EVENTS
    assert delivered["stream"]["messages"] == ignored["stream"]["messages"] + 1

    stream = pd.read_parquet(tmp_path / "delivered" / "stream.parquet")
    edit = stream[stream["event"] == "edit"]
    assert len(edit) == 1 and stream["event"].notna().sum() == 1
    original = stream[stream["message_id"] == edit["refers_to"].iloc[0]]
    assert len(original) == 1
    assert original["contact_id"].iloc[0] == edit["contact_id"].iloc[0]
    assert edit["text_hash"].iloc[0] != original["text_hash"].iloc[0]

    def fates(run: str) -> pd.DataFrame:
        outcomes = pd.read_parquet(tmp_path / run / "outcomes.parquet")
        rows = pd.read_parquet(tmp_path / run / "stream.parquet")
        return outcomes.merge(rows[["seq", "received_at"]], on="seq")

    before, after = fates("ignored"), fates("delivered")
    edit_seq = int(edit["seq"].iloc[0])
    for arm in ("legacy", "unified"):
        answered = after[(after["arm"] == arm) & (after["seq"] == edit_seq)]
        assert answered[["fate", "reply_count"]].values.tolist() == [["answered", 1]]
        contact = edit["contact_id"].iloc[0]
        replies_before = before[(before["arm"] == arm) & (before["contact_id"] == contact)]
        replies_after = after[(after["arm"] == arm) & (after["contact_id"] == contact)]
        assert replies_after["reply_count"].sum() == replies_before["reply_count"].sum() + 1
        # every message of the capture keeps its fate: the edit only adds one
        kept = after[(after["arm"] == arm) & (after["seq"] != edit_seq)]
        mine = before[before["arm"] == arm]
        assert (
            kept.set_index("received_at")["fate"].to_dict()
            == mine.set_index("received_at")["fate"].to_dict()
        )
