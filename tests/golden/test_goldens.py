"""Golden ``divergences.jsonl`` of three small scenarios.

A change in any model, the environment, the comparator or a scenario generator shows up here
as a readable diff. To accept an intended change: ``SHADOW_UPDATE_GOLDENS=1 make test`` (or
pytest on this file), then review and commit the updated files under ``tests/golden/``.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest

from shadow.replay.inputs import ReplayOptions
from shadow.replay.pipeline import replay
from shadow.streams.generate import generate_to_file

HERE = Path(__file__).parent / "divergences"
UPDATE = os.environ.get("SHADOW_UPDATE_GOLDENS") == "1"

#: (scenario, scenario overrides that keep the golden small)
CASES = {
    "conflict-2-oi": [],
    "legit-repeats": ["duration=20m", "contacts=40"],
    "identical-bot-replies": ["duration=20m", "contacts=40"],
}


def readable(path: Path) -> list[str]:
    """One divergence a line, keys sorted: diffs show what changed for which seq."""
    return [
        json.dumps(json.loads(line), sort_keys=True, indent=None) + "\n"
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


@pytest.mark.parametrize("scenario", sorted(CASES))
def test_golden_divergences(scenario: str, tmp_path: Path) -> None:
    capture = tmp_path / f"{scenario}.jsonl"
    generate_to_file(scenario, capture, seed=1, sets=CASES[scenario])
    out = tmp_path / "run"
    replay(ReplayOptions(inputs=[str(capture)], out=out, reports=False, workers=1))
    produced = readable(out / "divergences.jsonl")
    golden = HERE / f"{scenario}.jsonl"
    if UPDATE:
        golden.write_text("".join(produced), encoding="utf-8")
    assert golden.exists(), f"no golden for {scenario}: run with SHADOW_UPDATE_GOLDENS=1"
    expected = golden.read_text(encoding="utf-8").splitlines(keepends=True)
    if produced != expected:
        diff = "".join(
            difflib.unified_diff(expected, produced, f"golden/{scenario}", "this run", n=0)
        )
        pytest.fail(
            f"divergences of {scenario} changed (SHADOW_UPDATE_GOLDENS=1 to accept):\n"
            + diff[:6000]
        )
