"""``LineMemo``: a capture read again with the memo reads as without it, and only the lines it
has not met are parsed."""

from __future__ import annotations

from pathlib import Path

import pytest

from shadow.streams import LineMemo, ReadOptions, read_captures

CAPTURES = Path(__file__).resolve().parents[2] / "replay_data" / "captures"


@pytest.mark.parametrize("name", ["sample-cloud-api", "sample-evolution", "sample-shadow"])
def test_a_growing_capture_reads_the_same_with_the_memo(name: str, tmp_path: Path) -> None:
    lines = (CAPTURES / f"{name}.jsonl").read_bytes().splitlines(keepends=True)
    capture = tmp_path / "capture.jsonl"
    memo = LineMemo()
    read = 0
    for stop in (len(lines) // 3, len(lines) // 2, len(lines)):
        capture.write_bytes(b"".join(lines[:stop]))
        plain = read_captures([capture], on_error="skip")
        memo.hits = 0
        kept = read_captures([capture], on_error="skip", options=ReadOptions(memo=memo))
        assert kept.inbound == plain.inbound and kept.outbound == plain.outbound
        assert kept.rejected == plain.rejected
        assert kept.accounting.as_json() == plain.accounting.as_json()
        assert memo.hits == read  # every line met before, none other
        read = stop
    # a line that changes (or moves) is parsed again, and the old entry let go
    capture.write_bytes(b"\n" + b"".join(lines))
    memo.hits = 0
    moved = read_captures([capture], on_error="skip", options=ReadOptions(memo=memo))
    assert memo.hits == 0 and len(memo.entries) == len(lines) + 1
    assert len(moved.inbound) == len(plain.inbound)
