"""``make bench``: what one ``shadow watch`` cycle costs once the capture is long.

A generated day at 100 messages a minute (``load-100-per-min``, ``SHADOW_CYCLE_HOURS``, default
24: 144,431 messages) is replayed as a watch would: the prefix without its last
``SHADOW_CYCLE_NEW`` (default 1,000) lines with warm arms and the line memo, then the whole
capture with them (the measured cycle), against a full replay of the same capture (what every
cycle cost before the arms were kept). Measured, never asserted on time: it prints and writes
``build/bench/watch-cycle.json`` (seconds per phase). It asserts what it can: the cycle's
files equal the full replay's, and the cycle simulated only the new messages.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from shadow.replay import ReplayOptions, replay
from shadow.simulation import WarmArms
from shadow.streams import LineMemo, generate_to_file

ROOT = Path(__file__).resolve().parents[2]
HOURS = float(os.environ.get("SHADOW_CYCLE_HOURS", "24"))
NEW = int(os.environ.get("SHADOW_CYCLE_NEW", "1000"))

pytestmark = pytest.mark.bench


def test_watch_cycle(benchmark: Any, tmp_path: Path) -> None:
    """One round (``make bench`` runs only tests that use ``benchmark``)."""
    benchmark.pedantic(_cycle, args=(tmp_path,), rounds=1, iterations=1)


def _cycle(tmp: Path) -> None:
    generated = tmp / "day.jsonl"
    generate_to_file("load-100-per-min", generated, 1, [f"duration={HOURS:g}h"])
    lines = generated.read_bytes().splitlines(keepends=True)
    capture = tmp / "capture.jsonl"  # one path, as the watch's prefix file keeps one
    shutil.copy(generated.with_name("day.jsonl.env.yaml"), tmp / "capture.jsonl.env.yaml")

    def options(out: str) -> ReplayOptions:
        return ReplayOptions(
            inputs=[str(capture)], out=tmp / out, force=True, reports=False, workers=1
        )

    warm, memo = WarmArms(), LineMemo()
    capture.write_bytes(b"".join(lines[:-NEW]))
    replay(options("before"), warm=warm, lines=memo)
    warm.end_cycle()
    capture.write_bytes(b"".join(lines))
    summary = replay(options("cycle"), warm=warm, lines=memo)
    simulated, resimulated = warm.end_cycle()
    replay(options("full"))
    for name in ("stream.parquet", "outcomes.parquet", "divergences.jsonl", "gauges.parquet"):
        assert (tmp / "cycle" / name).read_bytes() == (tmp / "full" / name).read_bytes(), name
    assert (simulated, resimulated) == (NEW, 0)
    timing = json.loads((tmp / "cycle" / "timing.json").read_text())
    full = json.loads((tmp / "full" / "timing.json").read_text())
    figures = {
        "messages": summary["messages"],
        "new_messages": NEW,
        "cycle_s": timing["wall_s"],
        "cycle_phases_s": timing["phases"],
        "full_replay_s": full["wall_s"],
        "compiled": timing["compiled"],
    }
    out = ROOT / "build" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "watch-cycle.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
