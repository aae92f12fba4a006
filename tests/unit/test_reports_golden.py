"""Golden Markdown report of a small built-in scenario (issue 8).

Update after an intended change with ``SHADOW_UPDATE_GOLDENS=1`` (pytest on this file), then
review the diff of ``tests/golden/`` like code.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from shadow.replay.inputs import ReplayOptions
from shadow.replay.pipeline import replay

GOLDEN = Path(__file__).parent.parent / "golden" / "report-conflict-2-oi.md"


def test_markdown_report_of_conflict_2_oi_matches_golden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the commands name the folder as given: ``run``
    out = Path("run")
    replay(ReplayOptions(inputs=["scenario:conflict-2-oi"], stages=[10], out=out))
    actual = (out / "report.md").read_text(encoding="utf-8")
    if os.environ.get("SHADOW_UPDATE_GOLDENS") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(actual, encoding="utf-8")
    expected = GOLDEN.read_text(encoding="utf-8") if GOLDEN.exists() else ""
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=str(GOLDEN.name),
                tofile="rendered report.md",
            )
        )
        raise AssertionError(
            f"report.md differs from the golden (SHADOW_UPDATE_GOLDENS=1 to accept):\n{diff}"
        )
