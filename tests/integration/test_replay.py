"""``shadow replay`` end to end: determinism, accounting, privacy, errors, acceptance."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from cli_support import SAMPLE, run_shadow
from typer.testing import CliRunner

from shadow.cli.app import app
from shadow.replay.inputs import ReplayOptions
from shadow.replay.pipeline import replay


@pytest.fixture
def sample() -> Path:
    return SAMPLE


DETERMINISTIC = (
    "run.json",
    "stream.parquet",
    "outcomes.parquet",
    "divergences.jsonl",
    "signatures.json",
    "gauges.parquet",
)


def test_replays_are_byte_identical_whatever_the_workers_and_hash_seed(
    tmp_path: Path, sample: Path
) -> None:
    first = run_shadow(
        "replay",
        str(sample),
        "--workers",
        "1",
        "--out",
        str(tmp_path / "one"),
        env={"PYTHONHASHSEED": "1"},
    )
    second = run_shadow(
        "replay",
        str(sample),
        "--workers",
        "2",
        "--out",
        str(tmp_path / "two" / "nested"),
        env={"PYTHONHASHSEED": "2"},
    )
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    for name in DETERMINISTIC:
        one = (tmp_path / "one" / name).read_bytes()
        two = (tmp_path / "two" / "nested" / name).read_bytes()
        assert one == two, f"{name} differs between the two runs"
    manifest = (tmp_path / "one" / "run.json").read_text()
    assert str(tmp_path) not in manifest and "/work/" not in manifest
    assert "Traceback" not in first.stderr + second.stderr


def shifted_capture(source: Path, target: Path, days: int) -> None:
    lines = []
    for line in source.read_text().splitlines():
        record = json.loads(line)
        stamp = pd.Timestamp(record["received_at"]) + pd.Timedelta(days=days)
        record["received_at"] = stamp.isoformat().replace("+00:00", "Z")
        lines.append(json.dumps(record))
    target.write_text("\n".join(lines) + "\n")
    env = source.with_name(source.name + ".env.yaml")
    if env.exists():
        target.with_name(target.name + ".env.yaml").write_text(env.read_text())


def test_shifting_the_whole_capture_in_time_changes_no_outcome(
    tmp_path: Path, sample: Path
) -> None:
    shifted = tmp_path / "shifted.jsonl"
    shifted_capture(sample, shifted, days=400)
    options = {"reports": False, "workers": 1}
    replay(ReplayOptions(inputs=[str(sample)], out=tmp_path / "a", **options))  # type: ignore[arg-type]
    replay(ReplayOptions(inputs=[str(shifted)], out=tmp_path / "b", **options))  # type: ignore[arg-type]
    for name in ("outcomes.parquet", "divergences.jsonl", "signatures.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_every_message_has_one_outcome_row_per_arm_and_complete_divergences(
    tmp_path: Path, sample: Path
) -> None:
    summary = replay(ReplayOptions(inputs=[str(sample)], out=tmp_path / "r", reports=False))
    outcomes = pd.read_parquet(tmp_path / "r" / "outcomes.parquet")
    stream = pd.read_parquet(tmp_path / "r" / "stream.parquet")
    for arm in ("legacy", "unified"):
        rows = outcomes[outcomes["arm"] == arm]
        assert sorted(rows["seq"]) == list(range(len(stream)))
    assert summary["messages"] == len(stream)
    lines = (tmp_path / "r" / "divergences.jsonl").read_text().splitlines()
    assert lines, "the sample capture should diverge somewhere"
    for line in map(json.loads, lines):
        assert {"seq", "kinds", "severity", "signature", "attribution", "outcomes"} <= set(line)
        assert set(line["outcomes"]) == {"baseline", "candidate"}
        assert line["outcomes"]["baseline"]["seq"] == line["seq"]


def test_run_files_hold_pseudonyms_unless_keep_raw(tmp_path: Path, sample: Path) -> None:
    replay(ReplayOptions(inputs=[str(sample)], out=tmp_path / "p", reports=False))
    stream = pd.read_parquet(tmp_path / "p" / "stream.parquet")
    assert stream["contact_id"].str.fullmatch(r"c\d{6}").all()
    assert "text" not in stream.columns
    raw_ids = {json.loads(line)["contact_id"] for line in sample.read_text().splitlines()}
    for name in (*DETERMINISTIC[:1], "divergences.jsonl", "signatures.json"):
        text = (tmp_path / "p" / name).read_text()
        assert not any(raw in text for raw in raw_ids), name
    replay(ReplayOptions(inputs=[str(sample)], out=tmp_path / "k", reports=False, keep_raw=True))
    kept = pd.read_parquet(tmp_path / "k" / "stream.parquet")
    assert set(kept["contact_id"]) == raw_ids and "text" in kept.columns


def test_an_existing_run_folder_is_refused_without_force(tmp_path: Path, sample: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = run_shadow("replay", str(sample), "--out", str(out))
    assert result.returncode == 3
    assert "--force" in result.stderr and "Traceback" not in result.stderr


def test_a_bad_line_stops_with_file_line_and_reason_or_is_skipped_and_kept(
    tmp_path: Path, sample: Path
) -> None:
    broken = tmp_path / "broken.jsonl"
    lines = sample.read_text().splitlines()[:40]
    lines.insert(10, "{not json")
    broken.write_text("\n".join(lines) + "\n")
    failed = run_shadow("replay", str(broken), "--out", str(tmp_path / "f"))
    assert failed.returncode == 3
    assert f"{broken}:11" in failed.stderr and "Traceback" not in failed.stderr
    replay(ReplayOptions(inputs=[str(broken)], out=tmp_path / "s", on_error="skip", reports=False))
    rejected = [json.loads(x) for x in (tmp_path / "s" / "rejected.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejected] == [11]
    manifest = json.loads((tmp_path / "s" / "run.json").read_text())
    assert manifest["accounting"]["lines"] == 41
    assert manifest["accounting"]["line_kinds"]["rejected"] == 1
    assert "rejected" in manifest["files"]


def test_conflict_2_legacy_processes_twice_and_sends_once(tmp_path: Path) -> None:
    replay(ReplayOptions(inputs=["scenario:conflict-2-oi"], out=tmp_path / "c2", reports=False))
    outcomes = pd.read_parquet(tmp_path / "c2" / "outcomes.parquet").set_index(["arm", "seq"])
    assert outcomes.loc[("legacy", 0), "fate"] == "answered"
    assert outcomes.loc[("legacy", 1), "fate"] == "unanswered"
    assert outcomes.loc[("legacy", 1), "rule"] == "response_manager.duplicate_window"
    assert outcomes.loc[("legacy", 1), "processing_count"] == 1
    assert outcomes.loc[("unified", 1), "fate"] == "duplicate_suppressed"
    assert outcomes.loc[("unified", 1), "rule"] == "unified.duplicate_window"
    assert outcomes.loc[("unified", 1), "processing_count"] == 0


def test_replay_json_prints_one_document_and_explain_reproduces(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "c2"
    result = runner.invoke(app, ["replay", "scenario:conflict-2-oi", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["arms"]["legacy"]["unanswered"] == 1
    assert document["top_signatures"][0]["examples"] == [1]
    explained = runner.invoke(app, ["explain", str(out), "--seq", "1"])
    assert explained.exit_code == 0, explained.output
    assert "reply_blocked" in explained.stdout
    assert "response_manager.duplicate_window" in explained.stdout
    assert "duplicate_suppressed" in explained.stdout
    assert "accepted" in explained.stdout  # the coordinator's C2 window check (issue 19)


def test_explain_refuses_an_altered_run_folder(tmp_path: Path) -> None:
    out = tmp_path / "c2"
    replay(ReplayOptions(inputs=["scenario:conflict-2-oi"], out=out, reports=False))
    with (out / "divergences.jsonl").open("a") as handle:
        handle.write("{}\n")
    result = run_shadow("explain", str(out), "--seq", "0")
    assert result.returncode == 3
    assert "divergences.jsonl" in result.stderr


@pytest.mark.parametrize("bad", [["--seq", "99"], ["--seq", "0", "--contact", "c000001"], []])
def test_explain_usage_errors_exit_3(tmp_path: Path, bad: list[str]) -> None:
    out = tmp_path / "c2"
    replay(ReplayOptions(inputs=["scenario:conflict-2-oi"], out=out, reports=False))
    result = run_shadow("explain", str(out), *bad)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr


def test_a_redacted_capture_replays_to_the_same_fates_and_holds_no_phone_number(
    tmp_path: Path,
) -> None:
    from shadow.streams import read_captures
    from shadow.streams.redact import write_redacted

    original = Path("replay_data/captures/sample-cloud-api.jsonl")
    redacted = tmp_path / "redacted.jsonl"
    write_redacted(read_captures([original]), redacted, key="team-secret", flag="USE_UNIFIED")
    text = redacted.read_text()
    phones = {r.contact_id for r in read_captures([original]).inbound}
    assert phones and not any(phone in text for phone in phones)
    options = {"reports": False, "workers": 1, "stages": [10]}
    first = replay(
        ReplayOptions(inputs=[str(original)], out=tmp_path / "a", flag="USE_UNIFIED", **options)
    )  # type: ignore[arg-type]
    second = replay(
        ReplayOptions(inputs=[str(redacted)], out=tmp_path / "b", flag="USE_UNIFIED", **options)
    )  # type: ignore[arg-type]
    assert first["arms"] == second["arms"]  # fate counts per arm, rollout@10 included
    assert first["divergences"] == second["divergences"]


@pytest.mark.parametrize(
    "bad",
    [
        ["--flip-at", "soon"],
        ["--arms", "legacy,teleport"],
        ["--stage", "150"],
        ["--on-error", "x"],
        ["--flip-mode", "warm"],
        ["--users", "closed"],
    ],
)
def test_bad_replay_options_exit_3_with_one_line(
    tmp_path: Path, sample: Path, bad: list[str]
) -> None:
    result = run_shadow("replay", str(sample), "--out", str(tmp_path / "r"), *bad, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "crash.txt").exists()
    assert bad[0] in result.stderr or bad[1].split(",")[-1] in result.stderr


def test_bench_reports_throughput_memory_and_which_core_ran() -> None:
    result = CliRunner().invoke(
        app, ["bench", "--messages", "400", "--contacts", "30", "--workers", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["messages"] == 400 and document["arms"] == ["legacy", "unified"]
    assert document["messages_per_s"] > 0 and document["peak_rss_mb"] > 0
    assert {"normalize", "simulate", "write"} <= set(document["phases"])
    assert document["compiled"] is False  # the editable install is pure Python (setup.py)


def test_memory_reports_bytes_per_structure_and_refuses_a_missing_folder(tmp_path: Path) -> None:
    out = tmp_path / "c2"
    replay(ReplayOptions(inputs=["scenario:conflict-2-oi"], out=out, reports=False))
    result = run_shadow("memory", str(out), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["structures"]
    hashes = next(
        r for r in rows if r["arm"] == "legacy" and r["structure"] == "coordinator.hashes"
    )
    assert hashes["peak_entries"] == 1 and hashes["peak_bytes"] == 4 * 28 + 80 + 16
    missing = run_shadow("memory", str(tmp_path / "nope"))
    assert missing.returncode == 3 and "Traceback" not in missing.stderr


def test_explain_shows_the_unified_accepted_window_check(tmp_path: Path) -> None:
    out = tmp_path / "c2"
    replay(ReplayOptions(inputs=["scenario:conflict-2-oi"], out=out, reports=False))
    explained = run_shadow(
        "explain", str(out), "--seq", "0", "--arms", "unified", env={"COLUMNS": "400"}
    )
    assert explained.returncode == 0, explained.stderr
    text = " ".join(explained.stdout.split())
    # the U2 check the first "Oi" passed (issue 19), in the legacy coordinator's words
    assert "unified: accepted #0 [unified.duplicate_window]: no earlier hash; window 10 s" in text
