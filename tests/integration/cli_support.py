"""Helpers for tests that run the real ``shadow`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "replay_data" / "captures" / "sample-shadow.jsonl"


def run_shadow(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``shadow ARGS`` in a real subprocess (the installed console script's module)."""
    full_env = {**os.environ, **(env or {})}
    if "SHADOW_REDACT_KEY" not in (env or {}):
        full_env.pop("SHADOW_REDACT_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "shadow.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or ROOT,
        check=False,
        timeout=600,
    )
