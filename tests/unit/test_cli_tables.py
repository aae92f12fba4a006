"""Terminal tables fit 80 columns without cutting a signature; piped tables are aligned text."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

import shadow.cli.replay as replay_cli
from shadow.cli.output import plain_table

SIGNATURE = "3f2a9c81b0d4"


def _summary() -> dict[str, object]:
    kinds = ["faster", "batching_changed", "reply_text_changed"]
    return {
        "messages": 1200,
        "contacts": 40,
        "arms": {"legacy": {"answered": 1000}, "unified": {"answered": 990}},
        "divergences": {
            "legacy->unified": {
                "by_severity": {"regression": 25, "change": 134, "improvement": 47},
                "by_kind": {"lost_reply": 25, "processing_removed": 124, "faster": 55},
            }
        },
        "top_signatures": [
            {
                "signature": SIGNATURE,
                "baseline": "legacy",
                "candidate": "rollout@10",
                "count": 119,
                "severity": "change",
                "kinds": kinds,
                "baseline_cause": "response_manager.duplicate_window",
                "candidate_cause": "unified.duplicate_window.same_text_within_window",
            }
        ],
        "run_dir": "build/shadow/demo",
    }


@pytest.mark.parametrize("width", [80, 100])
def test_the_replay_summary_fits_the_terminal_and_keeps_signatures_whole(
    monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=True, color_system=None)
    monkeypatch.setattr(replay_cli, "out", console)
    replay_cli.render_replay_summary(_summary(), 1.0)
    lines = buffer.getvalue().splitlines()
    assert max(len(line) for line in lines) <= width
    assert any(SIGNATURE in line for line in lines)
    assert "…" not in buffer.getvalue()  # folded, never cut


def test_plain_tables_align_every_column() -> None:
    text = plain_table(
        ["rank", "window", "regressions"], [["1", "5s", "184.6"], ["2", "30s", "3.0"]], {0, 2}
    )
    lines = text.splitlines()
    assert lines == [
        "rank  window  regressions",
        "   1  5s            184.6",
        "   2  30s             3.0",
    ]
