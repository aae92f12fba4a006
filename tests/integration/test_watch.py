"""``shadow watch`` through real subprocesses: outcomes while the capture grows, exactness
against ``shadow replay`` of the final capture, SIGTERM and SIGKILL restarts, late lines,
and the metrics endpoint. Every wait is a bounded loop; nothing asserts on time."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
from cli_support import ROOT, run_shadow
from live_support import free_port, start_shadow

from shadow.live import line_time

SAMPLE = ROOT / "replay_data" / "captures" / "sample-shadow.jsonl"
LINES = SAMPLE.read_bytes().splitlines(keepends=True)
SAME = (
    "outcomes.parquet",
    "stream.parquet",
    "divergences.jsonl",
    "signatures.json",
    "gauges.parquet",
)
POLL = ("--interval", "0.2", "--cycle-every", "0", "--no-reports")
FAST = (*POLL, "--safety-lag", "30s")


def _append(path: Path, lines: list[bytes]) -> None:
    with path.open("ab") as handle:
        handle.write(b"".join(lines))


def _status(run: Path) -> dict[str, object]:
    path = run.with_name(run.name + ".watch") / "watch-status.json"
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def _wait_for(run: Path, lines: int, process: subprocess.Popen[str], tries: int = 600) -> None:
    """Until the watcher has published a cycle over ``lines`` capture lines (50 ms polls)."""
    for _ in range(tries):
        if _status(run).get("capture_lines") == lines:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError(f"no cycle over {lines} lines: {_status(run)}")


def _assert_equals_offline(capture: Path | list[Path], run: Path, tmp: Path) -> None:
    offline = tmp / "offline"
    files = [str(p) for p in (capture if isinstance(capture, list) else [capture])]
    result = run_shadow("replay", *files, "--out", str(offline), "--force", "--json")
    assert result.returncode == 0, result.stderr
    for name in SAME:
        assert (run / name).read_bytes() == (offline / name).read_bytes(), name


def test_outcomes_while_growing_then_exact(tmp_path: Path) -> None:
    capture, run = tmp_path / "cap.jsonl", tmp_path / "run"
    capture.write_bytes(b"")
    watcher = start_shadow(
        "watch", str(capture), "--out", str(run), *FAST, "--idle", "8", "--stop-when-idle"
    )
    rng = np.random.default_rng(21)
    written = 0
    while written < 300:
        burst = min(int(rng.integers(1, 60)), 300 - written)
        _append(capture, LINES[written : written + burst])
        written += burst
        time.sleep(float(rng.uniform(0.0, 0.3)))
    _wait_for(run, 300, watcher)
    times = [line_time(line) for line in LINES[:300]]
    settled = {t for t in times if t is not None and t <= max(t for t in times if t) - 30_000_000}
    seen = set(pd.read_parquet(run / "stream.parquet")["received_at"].tolist())
    assert settled <= seen <= set(times)
    outcomes = pd.read_parquet(run / "outcomes.parquet")
    assert set(outcomes["arm"]) == {"legacy", "unified"}
    assert len(outcomes) == 2 * len(seen)
    _append(capture, LINES[300:])
    assert watcher.wait(timeout=300) == 0, watcher.communicate()
    assert _status(run)["capture_lines"] == len(LINES)
    _assert_equals_offline(capture, run, tmp_path)


def test_sigterm_checkpoints_exits_0_and_resumes_with_metrics(tmp_path: Path) -> None:
    capture, run = tmp_path / "cap.jsonl", tmp_path / "run"
    _append(capture, LINES[:200])
    port = free_port()
    watcher = start_shadow(
        "watch",
        str(capture),
        "--out",
        str(run),
        *POLL,
        "--set",
        "live.safety_lag=30s",  # the config key, where the other tests use the flag
        "--idle",
        "600",
        "--metrics-port",
        str(port),
    )
    _wait_for(run, 200, watcher)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        metrics = response.read().decode()
    seen = len(pd.read_parquet(run / "stream.parquet"))
    assert f'shadow_watch_messages{{arm="legacy"}} {float(seen)}' in metrics
    assert "shadow_watch_lag_seconds 30.0" in metrics
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
        assert json.loads(response.read())["status"] == "ok"
    watcher.send_signal(signal.SIGTERM)
    assert watcher.wait(timeout=120) == 0
    state = run.with_name("run.watch")
    assert json.loads((state / "checkpoint.json").read_text())["journal"][0]["lines"] == 200
    _append(capture, LINES[200:])
    again = start_shadow(
        "watch", str(capture), "--out", str(run), *FAST, "--idle", "2", "--stop-when-idle"
    )
    assert again.wait(timeout=300) == 0, again.communicate()
    assert "resumed from checkpoint" in (state / "watch.log").read_text()
    _assert_equals_offline(capture, run, tmp_path)


def test_late_line_counted_alerted_and_included(tmp_path: Path) -> None:
    capture, run = tmp_path / "cap.jsonl", tmp_path / "run"
    _append(capture, LINES[1:300])
    watcher = start_shadow("watch", str(capture), "--out", str(run), *FAST, "--idle", "600")
    _wait_for(run, 299, watcher)
    _append(capture, LINES[:1])  # the first message, arriving after its cutoff was published
    _wait_for(run, 300, watcher)
    watcher.send_signal(signal.SIGTERM)
    assert watcher.wait(timeout=120) == 0
    assert _status(run)["late_lines"] == 1
    # the late message sorts first: the cycle that took it in simulated afresh every message
    # the arms had been fed (all the last cycle published), and said so
    cycles = re.findall(
        r"\((\d+) messages, (\d+) simulated, (\d+) re-simulated.*late lines (\d+)",
        (run.with_name("run.watch") / "watch.log").read_text(),
    )
    late = next(i for i, cycle in enumerate(cycles) if cycle[3] == "1")
    assert int(cycles[late][2]) == int(cycles[late - 1][0]) > 0
    assert all(cycle[2] == "0" for cycle in cycles[:late])
    alerts = (run.with_name("run.watch") / "alerts.jsonl").read_text().splitlines()
    assert any(json.loads(a)["alert"] == "late lines" for a in alerts)
    assert "[firing] late lines" in watcher.communicate()[0]
    seen = set(pd.read_parquet(run / "stream.parquet")["received_at"].tolist())
    assert line_time(LINES[0]) in seen


def test_sigkill_twenty_times_loses_and_doubles_nothing(tmp_path: Path) -> None:
    capture, run = tmp_path / "cap.jsonl", tmp_path / "run"
    capture.write_bytes(b"")
    rng = np.random.default_rng(2121)
    cuts = sorted(int(c) for c in rng.choice(np.arange(1, len(LINES)), 19, replace=False))
    bursts = [LINES[a:b] for a, b in zip([0, *cuts], [*cuts, len(LINES)], strict=True)]
    log = run.with_name("run.watch") / "watch.log"
    for round_, burst in enumerate(bursts):
        _append(capture, burst)
        watcher = start_shadow("watch", str(capture), "--out", str(run), *FAST, "--idle", "600")
        # killed at a random point after it started (the first time, after its first cycle),
        # however slow the shared machine is: reading, mid-cycle, mid-checkpoint, sleeping
        for _ in range(1200):
            started = log.exists() and log.read_text().count("watching ") > round_
            if started and (round_ or _status(run)):
                break
            assert watcher.poll() is None, watcher.communicate()
            time.sleep(0.05)
        time.sleep(float(rng.uniform(0.0, 2.0)))
        watcher.kill()
        watcher.communicate(timeout=60)
    final = start_shadow(
        "watch", str(capture), "--out", str(run), *FAST, "--idle", "2", "--stop-when-idle"
    )
    assert final.wait(timeout=300) == 0, final.communicate()
    assert _status(run)["capture_lines"] == len(LINES)
    assert log.read_text().count("resumed from checkpoint") == len(bursts)
    _assert_equals_offline(capture, run, tmp_path)
    # each restart took the arms up at its checkpoint: it simulated again only what the killed
    # process had simulated after it, no more than one cycle (a checkpoint follows each cycle)
    published, largest, restarts = 0, 0, 0
    for line in log.read_text().splitlines():
        if resumed := re.search(r"arms at message (\d+)$", line):
            arms = int(resumed[1])
            assert published - largest <= arms <= published, (line, published, largest)
            restarts += 1
        elif cycle := re.match(r"cycle \d+: .*\((\d+) messages, (\d+) simulated, (\d+) re-", line):
            messages, simulated, resimulated = (int(cycle[i]) for i in (1, 2, 3))
            assert resimulated == 0, line  # no late line here: no prefix changed
            published, largest = max(published, messages), max(largest, simulated)
    assert restarts == len(bursts) and published > 2 * largest  # the bound says something


def test_bad_usage_is_one_line_exit_3_before_reading(tmp_path: Path) -> None:
    capture = tmp_path / "cap.jsonl"
    capture.write_bytes(LINES[0])
    policy = tmp_path / "alerts.yaml"
    policy.write_text("checks: [{name: a, metric: lag, max_count: 1}]\n")
    out = str(tmp_path / "run")
    cases = [
        ("watch", str(capture), "--out", out, "--safety-lag", "3"),
        ("watch", str(tmp_path / "missing.jsonl"), "--out", out),
        ("watch", str(capture), "--out", out, "--alerts", str(policy)),
        ("watch", str(capture), "--out", out, "--alert-webhook", "ftp://x"),
        ("serve", "--capture-dir", str(capture)),
    ]
    for args in cases:
        result = run_shadow(*args)
        assert result.returncode == 3, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "run.watch").exists()


def test_serve_then_watch_the_folder_end_to_end(tmp_path: Path) -> None:
    """Messages POSTed to the receiver, the folder watched: the watched run folder equals the
    replay of the receiver's files, and the Cloud API signatures verify on that read."""
    from live_support import cloud_body, cloud_signature, request, wait_healthy

    port = free_port()
    folder, run = tmp_path / "capture", tmp_path / "run"
    env = {"SHADOW_APP_SECRET": "s3"}
    serve = start_shadow("serve", "--capture-dir", str(folder), "--port", str(port), env=env)
    try:
        wait_healthy(port, serve)
        for n in range(120):
            body = cloud_body(n, contact=f"55119000000{n % 12:02d}")
            headers = {"X-Hub-Signature-256": cloud_signature(body, "s3")}
            assert request(port, "POST", "/cloud", body, headers)[0] == 200
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.communicate(timeout=60)
    watcher = start_shadow(
        "watch", str(folder), "--out", str(run), *FAST, "--idle", "1", "--stop-when-idle", env=env
    )
    assert watcher.wait(timeout=300) == 0, watcher.communicate()
    assert _status(run)["messages"] == 120
    _assert_equals_offline(sorted(folder.glob("cloud-*.jsonl")), run, tmp_path)


def test_rotation_while_watching(tmp_path: Path) -> None:
    """The followed file is renamed away (lines appended to it just before) and a new one
    started: every line is read once, and the result equals the replay of both files."""
    capture, run = tmp_path / "cap.jsonl", tmp_path / "run"
    _append(capture, LINES[:150])
    watcher = start_shadow(
        "watch", str(capture), "--out", str(run), *FAST, "--idle", "2", "--stop-when-idle"
    )
    _wait_for(run, 150, watcher)
    _append(capture, LINES[150:250])
    rotated = tmp_path / "cap.jsonl.1"
    capture.rename(rotated)
    _append(capture, LINES[250:])
    assert watcher.wait(timeout=300) == 0, watcher.communicate()
    assert _status(run)["capture_lines"] == len(LINES)
    _assert_equals_offline([rotated, capture], run, tmp_path)


def test_stages_and_their_readings_are_simulated_incrementally_and_exactly(
    tmp_path: Path,
) -> None:
    """With stages, the rollout arms and the open readings' variant arms are kept between
    cycles too: a later cycle simulates only the new messages, and the end result (readings
    included) equals the offline replay."""
    capture, run = tmp_path / "cap.jsonl", tmp_path / "run"
    _append(capture, LINES[:200])
    stage = ("--stage", "10")
    watcher = start_shadow(
        "watch", str(capture), "--out", str(run), *stage, *FAST, "--idle", "3", "--stop-when-idle"
    )
    _wait_for(run, 200, watcher)
    _append(capture, LINES[200:])
    assert watcher.wait(timeout=300) == 0, watcher.communicate()
    offline = tmp_path / "offline"
    done = run_shadow("replay", str(capture), *stage, "--out", str(offline))
    assert done.returncode == 0, done.stderr
    names = [*SAME, *(str(p.relative_to(offline)) for p in offline.glob("readings/*/*"))]
    assert any(name.startswith("readings/") for name in names)
    for name in names:
        assert (run / name).read_bytes() == (offline / name).read_bytes(), name
    cycles = re.findall(
        r"\((\d+) messages, (\d+) simulated, (\d+) re-simulated",
        (run.with_name("run.watch") / "watch.log").read_text(),
    )
    assert len(cycles) >= 2 and all(r == "0" for _, _, r in cycles)
    previous = 0
    for messages, simulated, _ in cycles:
        assert int(simulated) == int(messages) - previous  # each arm fed only what is new
        previous = int(messages)
