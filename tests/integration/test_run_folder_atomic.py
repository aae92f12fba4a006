"""A run folder appears whole or not at all; arguments are checked before any capture line.

The staging rules (shadow.runfolder.staging) directly, then through ``replay``: a failure after
the stream is written leaves nothing at ``--out``; every bad option fails having read no line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import SAMPLE, run_shadow

import shadow.streams
from shadow.common import ShadowError, UsageError
from shadow.replay.inputs import ReplayOptions
from shadow.replay.pipeline import replay
from shadow.runfolder import partial_path, staged_folder


def test_a_finished_block_renames_the_staging_folder_into_place(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "run"
    with staged_folder(out, force=False) as folder:
        assert folder == partial_path(out) and not out.exists()
        (folder / "run.json").write_text("{}")
    assert (out / "run.json").exists() and not partial_path(out).exists()


def test_a_failed_block_leaves_nothing_and_keeps_the_previous_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(RuntimeError), staged_folder(out, force=False) as folder:
        (folder / "stream.parquet").write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    out.mkdir()
    (out / "run.json").write_text("previous")
    with pytest.raises(KeyboardInterrupt), staged_folder(out, force=True) as folder:
        raise KeyboardInterrupt
    assert (out / "run.json").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_leftover_staging_folder_is_removed_by_the_next_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    partial_path(out).mkdir()
    (partial_path(out) / "stream.parquet").write_text("from a killed run")
    with staged_folder(out, force=False) as folder:
        assert list(folder.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_force_replaces_a_partial_run_but_never_a_folder_of_other_files(tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "stream.parquet").write_text("an old interrupted run")
    with staged_folder(partial, force=True) as folder:
        (folder / "run.json").write_text("{}")
    assert sorted(p.name for p in partial.iterdir()) == ["run.json"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(UsageError, match="not a run folder"), staged_folder(mine, force=True):
        pass
    with pytest.raises(UsageError, match="--force"), staged_folder(partial, force=False):
        pass
    assert (mine / "notes.txt").read_text() == "keep"


def test_a_replay_failing_after_the_stream_is_written_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shadow.replay.pipeline as pipeline

    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the arms failed")

    monkeypatch.setattr(pipeline, "run_plan", fail)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError):
        replay(ReplayOptions(inputs=[str(SAMPLE)], out=out, reports=False, workers=1))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["/dev/null/x", "file/run"])
def test_an_unwritable_output_path_exits_3_with_one_line(tmp_path: Path, where: str) -> None:
    (tmp_path / "file").write_text("a file, not a folder")
    result = run_shadow("replay", str(SAMPLE), "--out", where, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "--out" in result.stderr
    assert not (tmp_path / "crash.txt").exists()


class _CountingReader:
    """Counts the capture lines read through ``shadow.streams.read_captures``."""

    def __init__(self) -> None:
        self.lines = 0
        self.real = shadow.streams.read_captures

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        capture = self.real(*args, **kwargs)
        inbound = list(capture.inbound)
        self.lines += len(inbound) + len(capture.outbound)
        return capture


@pytest.fixture
def reader(monkeypatch: pytest.MonkeyPatch) -> Iterator[_CountingReader]:
    counting = _CountingReader()
    monkeypatch.setattr(shadow.streams, "read_captures", counting)
    yield counting


BAD = {
    "set": ({"sets": ["unified.duplicate_window=banana"]}, "--set"),
    "config": ({"config_file": Path("missing.yaml")}, "missing.yaml"),
    "provider": ({"provider": "foo"}, "--provider"),
    "arms": ({"arms": ["legacy", "teleport"]}, "teleport"),
    "stage": ({"stages": [150]}, "stage"),
    "workers": ({"workers": 0}, "--workers"),
    "flip-at": ({"flip_at": 60_000_000}, "--flip-at"),
    "out": ({"out": Path("exists")}, "--force"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_every_option_is_checked_before_any_capture_line_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: _CountingReader, case: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exists").mkdir()
    (tmp_path / "exists" / "run.json").write_text("{}")
    fields, named = BAD[case]
    options: dict[str, Any] = {"inputs": [str(SAMPLE)], "out": tmp_path / "run", **fields}
    with pytest.raises(ShadowError) as raised:  # exit 3: UsageError or InputError
        replay(ReplayOptions(**options))
    assert raised.value.exit_code == 3
    assert named in str(raised.value)
    assert reader.lines == 0
    replay(ReplayOptions(inputs=[str(SAMPLE)], out=tmp_path / "good", reports=False, workers=1))
    assert reader.lines > 0  # the counter does count what a good run reads


def test_an_option_error_names_the_option_not_set() -> None:
    with pytest.raises(UsageError) as raised:
        replay(ReplayOptions(inputs=[str(SAMPLE)], provider="foo"))
    assert "(from --provider)" in str(raised.value) and "--set" not in str(raised.value)
