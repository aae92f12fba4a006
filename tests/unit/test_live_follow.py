"""Following captures like ``tail -F``: appends, partial lines, rotation, truncation, new files
in a folder, and the journal's checkpoint and restore."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from shadow.live import line_time
from shadow.live.follow import Follower
from shadow.live.journal import Journal


def _line(n: int) -> bytes:
    return b'{"received_at":%d,"n":%d}\n' % (1_767_614_400 + n, n)


def _journal_lines(journal: Journal) -> list[bytes]:
    lines: list[bytes] = []
    for segment in journal.segments:
        data = (journal.folder / segment.name).read_bytes()
        lines += data.splitlines(keepends=True)
    return lines


def test_line_time_spellings() -> None:
    assert line_time(b'{"received_at":"2026-01-05T12:00:00.589Z"}') == 1_767_614_400_589_000
    assert line_time(b'{"received_at":1767614400.5}') == 1_767_614_400_500_000
    assert line_time(b'{"received_at":"2026-01-05T12:00:00"}') == 1_767_614_400_000_000
    assert line_time(b"not json") is None
    assert line_time(b'{"other":1}') is None


def test_partial_line_waits_for_its_end(tmp_path: Path) -> None:
    capture = tmp_path / "cap.jsonl"
    capture.write_bytes(_line(1) + _line(2)[:5])
    follower = Follower(capture, Journal(tmp_path / "j"))
    assert len(follower.poll()) == 1
    with capture.open("ab") as handle:
        handle.write(_line(2)[5:])
    assert follower.poll() == [(1_767_614_402) * 1_000_000]
    assert _journal_lines(follower.journal) == [_line(1), _line(2)]


def test_rotation_reads_the_old_file_to_its_end_then_the_new(tmp_path: Path) -> None:
    capture = tmp_path / "cap.jsonl"
    capture.write_bytes(_line(1))
    follower = Follower(capture, Journal(tmp_path / "j"))
    follower.poll()
    with capture.open("ab") as handle:
        handle.write(_line(2))  # written just before the rotation, not yet read
    os.rename(capture, tmp_path / "cap.jsonl.1")
    capture.write_bytes(_line(3))
    follower.poll()
    follower.poll()
    assert _journal_lines(follower.journal) == [_line(1), _line(2), _line(3)]
    assert len(follower.journal.segments) == 2


def test_truncation_starts_a_new_segment(tmp_path: Path) -> None:
    capture = tmp_path / "cap.jsonl"
    capture.write_bytes(_line(1) + _line(2))
    follower = Follower(capture, Journal(tmp_path / "j"))
    follower.poll()
    capture.write_bytes(_line(3))  # copytruncate
    follower.poll()
    assert _journal_lines(follower.journal) == [_line(1), _line(2), _line(3)]


def test_folder_takes_up_new_files_but_not_a_rotated_one_twice(tmp_path: Path) -> None:
    folder = tmp_path / "capture"
    folder.mkdir()
    (folder / "cloud-2026-01-05.jsonl").write_bytes(_line(1))
    follower = Follower(folder, Journal(tmp_path / "j"))
    follower.poll()
    (folder / "cloud-2026-01-06.jsonl").write_bytes(_line(2))
    (folder / ".hidden").write_bytes(b"junk\n")
    follower.poll()
    os.rename(folder / "cloud-2026-01-06.jsonl", folder / "old.jsonl")
    follower.poll()
    assert sorted(_journal_lines(follower.journal)) == [_line(1), _line(2)]


@settings(max_examples=30)
@given(st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=12))
def test_checkpoint_restore_neither_loses_nor_doubles(bursts: list[int]) -> None:
    """Lines appended in bursts; after each burst a poll; a 'crash' (state saved, then more
    read into the journal, then restored) at every burst: the journal ends with every line
    exactly once."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        capture = root / "cap.jsonl"
        capture.write_bytes(b"")
        journal = Journal(root / "j")
        follower = Follower(capture, journal)
        follower.poll()
        n = 0
        for burst in bursts:
            saved = (journal.state(), follower.state())
            with capture.open("ab") as handle:
                for _ in range(burst):
                    n += 1
                    handle.write(_line(n))
            follower.poll()  # read past the checkpoint, then lost in the crash
            journal = Journal.restore(root / "j", saved[0])
            follower = Follower(capture, journal)
            follower.restore(saved[1])
            follower.poll()
        assert _journal_lines(journal) == [_line(k) for k in range(1, n + 1)]
