"""``make bench``: the receiver under a paced load on 127.0.0.1, and ``watch`` following it.

Measured, never asserted on time (the machine is shared): it prints and writes
``build/bench/live-load.json`` with the achieved rate, latency percentiles and how far the
watcher's published cutoff fell behind. What it does assert: no acknowledged POST is missing.
``SHADOW_LOAD_RATE`` (default 1000/s) and ``SHADOW_LOAD_SECONDS`` (default 60) bound it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from live_support import free_port, start_shadow, wait_healthy  # noqa: E402

CLIENT = Path(__file__).with_name("load_client.py")

pytestmark = pytest.mark.bench
RATE = int(os.environ.get("SHADOW_LOAD_RATE", "1000"))
SECONDS = float(os.environ.get("SHADOW_LOAD_SECONDS", "60"))
CLIENTS = 16
LAG = 10.0


def test_receiver_load_and_watch_lag(benchmark: Any, tmp_path: Path) -> None:
    """One round (``make bench`` runs only tests that use ``benchmark``)."""
    benchmark.pedantic(_load, args=(tmp_path,), rounds=1, iterations=1)


def _load(tmp_path: Path) -> None:
    port = free_port()
    folder, run = tmp_path / "capture", tmp_path / "run"
    serve = start_shadow("serve", "--capture-dir", str(folder), "--port", str(port))
    wait_healthy(port, serve)
    watch = start_shadow(
        "watch",
        str(folder),
        "--out",
        str(run),
        "--no-reports",
        "--safety-lag",
        f"{LAG:g}s",
        "--interval",
        "1",
        "--cycle-every",
        "1",
        "--idle",
        "600",
    )
    result = tmp_path / "load.json"
    client = subprocess.Popen(
        [sys.executable, str(CLIENT), str(port), str(RATE), str(SECONDS), str(CLIENTS), str(result)]
    )
    behind: list[float] = []
    status_path = run.with_name("run.watch") / "watch-status.json"
    while client.poll() is None:  # bounded: the client stops after SECONDS
        time.sleep(1)
        try:
            status = json.loads(status_path.read_text())
        except (OSError, ValueError):
            continue
        cutoff = dt.datetime.fromisoformat(status["published_cutoff"]).timestamp()
        behind.append(time.time() - cutoff - LAG)
    assert client.wait() == 0
    load = json.loads(result.read_text())
    latencies, acked, elapsed = load["latencies"], load["acked"], load["elapsed"][0]
    serve.send_signal(signal.SIGTERM)
    serve.communicate(timeout=60)
    watch.send_signal(signal.SIGTERM)
    watch.communicate(timeout=600)
    stored = set()
    for path in folder.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            body = json.loads(json.loads(line)["body"])
            stored.add(int(body["entry"][0]["changes"][0]["value"]["messages"][0]["id"][6:]))
    assert set(acked) <= stored
    ms = np.asarray(latencies) * 1000
    figures = {
        "target_rate": RATE,
        "seconds": SECONDS,
        "posts": len(latencies),
        "acked": len(acked),
        "lost": len(set(acked) - stored),
        "achieved_rate": round(len(latencies) / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
        "watch_behind_lag_s_max": round(max(behind), 1) if behind else None,
        "watch_behind_lag_s_last": round(behind[-1], 1) if behind else None,
    }
    out = ROOT / "build" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "live-load.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
