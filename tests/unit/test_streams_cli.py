"""``shadow validate`` and ``shadow redact`` end to end: documents and exit statuses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).parent.parent / "fixtures" / "captures"


def shadow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "SHADOW_REDACT_KEY"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "shadow.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )


def test_validate_json_acceptance_case_exits_1() -> None:
    result = shadow("validate", str(FIXTURES / "cloud_acceptance.jsonl"), "--json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["lines"] == 8
    assert document["line_kinds"]["inbound"] == 5
    assert document["line_kinds"]["receipt"] == 2
    assert document["line_kinds"]["rejected"] == 1
    assert (document["messages"], document["receipts"], document["redeliveries"]) == (6, 3, 1)
    assert [bad["line"] for bad in document["rejected"]] == [4]
    assert set(document) == {
        "lines",
        "line_kinds",
        "messages",
        "receipts",
        "outbound",
        "redeliveries",
        "types",
        "contacts",
        "first_at",
        "last_at",
        "rejected",
    }
    assert "Traceback" not in result.stderr


def test_validate_clean_capture_exits_0_with_a_table() -> None:
    result = shadow("validate", str(FIXTURES / "evolution.jsonl"))
    assert result.returncode == 0
    assert "messages" in result.stdout


def test_validate_stops_with_3_on_fail_empty_and_unknown(tmp_path: Path) -> None:
    failed = shadow("validate", str(FIXTURES / "cloud_acceptance.jsonl"), "--on-error", "fail")
    assert failed.returncode == 3
    assert "cloud_acceptance.jsonl:4:" in failed.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert shadow("validate", str(empty)).returncode == 3
    unknown = tmp_path / "unknown.txt"
    unknown.write_text("hello\n")
    result = shadow("validate", str(unknown))
    assert result.returncode == 3 and "unknown format" in result.stderr


def test_redact_refuses_without_key_and_writes_with_one(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    capture = str(FIXTURES / "cloud_acceptance.jsonl")
    assert shadow("redact", capture, "-o", str(out)).returncode == 3
    assert not out.exists()
    clean = tmp_path / "clean.jsonl"
    lines = (FIXTURES / "cloud_acceptance.jsonl").read_text().splitlines()
    clean.write_text("\n".join(line for n, line in enumerate(lines, 1) if n != 4) + "\n")
    result = shadow(
        "redact",
        str(clean),
        "-o",
        str(out),
        "--flag",
        "USE_UNIFIED_COORDINATOR",
        env={"SHADOW_REDACT_KEY": "k"},
    )
    assert result.returncode == 0, result.stderr
    assert not re.search(r"55\d{10,11}", out.read_text())
    validated = shadow("validate", str(out), "--json")
    assert validated.returncode == 0
    assert json.loads(validated.stdout)["redeliveries"] == 1
