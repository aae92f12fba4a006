"""docs/ci.md's flows, executed step by step from a fresh directory: 10%, then 50%.

Each flow runs as CI would run it, in a new workspace per pipeline, with ``bash -eo pipefail``.
The test stands in only for what CI itself provides: the checkout and the installed harness
(``.venv/bin/shadow`` is this checkout's), ``gh`` / ``curl`` against an artifact store kept in a
folder, and ``actions/upload-artifact``. The 50% pipeline must find the 10% verdict through the
artifact it downloads and pass it with ``--previous``: its fingerprint check passes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_support import ROOT, SAMPLE

DOC = ROOT / "docs" / "ci.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def _workspace(root: Path, name: str) -> Path:
    """A fresh checkout with the harness installed (what CI's first steps provide)."""
    work = root / name
    (work / ".venv" / "bin").mkdir(parents=True)
    shadow = work / ".venv" / "bin" / "shadow"
    shadow.write_text(f'#!/bin/sh\nexec {sys.executable} -m shadow.cli "$@"\n')
    shadow.chmod(0o755)
    return work


def _bash(script: str, cwd: Path, env: dict[str, str]) -> int:
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode not in (0, 1, 2):
        raise AssertionError(f"step failed ({done.returncode}):\n{script}\n{done.stderr}")
    return done.returncode


def _tools(root: Path, store: Path) -> Path:
    """``gh`` and ``curl`` stand-ins reading the artifact store."""
    bin_dir = root / "bin"
    bin_dir.mkdir(exist_ok=True)
    gh = bin_dir / "gh"
    gh.write_text(
        f"""#!{sys.executable}
import shutil, sys
from pathlib import Path
store = Path({str(store)!r})
args = sys.argv[1:]
if args[:2] == ["run", "list"]:
    print("1")
elif args[:2] == ["run", "download"]:
    run_id, name, target = args[2], args[args.index("--name") + 1], args[args.index("--dir") + 1]
    shutil.copytree(store / "github" / run_id / name, target, dirs_exist_ok=True)
else:
    sys.exit("unexpected gh call: " + " ".join(args))
"""
    )
    curl = bin_dir / "curl"
    curl.write_text(
        f"""#!{sys.executable}
import sys
from pathlib import Path
store = Path({str(store)!r})
args = sys.argv[1:]
url, output = args[-1], args[args.index("--output") + 1]
if "download?job=capture" in url:
    source = store / "gitlab" / "capture.zip"
else:
    job = url.split("/jobs/")[1].split("/")[0]
    source = store / "gitlab" / (job + ".zip")
Path(output).write_bytes(source.read_bytes())
"""
    )
    for tool in (gh, curl):
        tool.chmod(0o755)
    return bin_dir


def _upload(work: Path, paths: list[str], target: Path) -> None:
    """``actions/upload-artifact``: matched files under their least common ancestor."""
    files: list[Path] = []
    for pattern in paths:
        matched = [p for p in work.glob(pattern.rstrip("/") or ".")]
        for path in matched:
            files += [f for f in path.rglob("*") if f.is_file()] if path.is_dir() else [path]
    root = Path(os.path.commonpath([f.parent for f in files])) if files else work
    for file in files:
        destination = target / file.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, destination)


def _github(
    root: Path, store: Path, run_id: str, stage: str, previous_run: str, tools: Path
) -> Path:
    workflow = yaml.safe_load(_blocks("yaml")[0])
    job = workflow["jobs"]["gate"]
    work = _workspace(root, f"github-{run_id}")
    summary, output = work / "summary.md", work / "output.txt"
    env = {
        **os.environ,
        "PATH": f"{tools}:{os.environ['PATH']}",
        "STAGE": stage,
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    outputs: dict[str, str] = {}
    expressions = {
        "inputs.previous_run": previous_run,
        "github.event.pull_request.number": "",
    }
    for step in job["steps"]:
        condition = step.get("if", "")
        if condition == "inputs.previous_run != ''" and not previous_run:
            continue
        if condition.startswith("github.event_name == 'pull_request'"):
            continue  # a dispatched run: no pull request to comment on
        if "uses" in step:
            if step["uses"].startswith("actions/upload-artifact"):
                paths = [p for p in step["with"]["path"].splitlines() if p.strip()]
                _upload(work, paths, store / "github" / run_id / step["with"]["name"])
            continue  # checkout and setup-python: the workspace is ready
        if step["name"] == "Install the harness":
            continue  # .venv/bin/shadow is this checkout's
        script = step["run"]
        for expression, value in expressions.items():
            script = script.replace("${{ " + expression + " }}", value)
        script = script.replace("${{ steps.gate.outputs.status }}", outputs.get("status", ""))
        assert "${{" not in script, script
        status = _bash(script, work, env)
        if output.exists():
            outputs.update(
                line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
            )
        if step["name"] != "Verdict":
            assert status == 0, step["name"]
    return work


def _gitlab(root: Path, store: Path, job_id: str, stage: str, previous: str, tools: Path) -> Path:
    job = yaml.safe_load(_blocks("yaml")[1])["shadow-gate"]
    work = _workspace(root, f"gitlab-{job_id}")
    env = {
        **os.environ,
        "PATH": f"{tools}:{os.environ['PATH']}",
        **job["variables"],
        "STAGE": stage,
        "PREVIOUS_JOB": previous,
        "CI_JOB_TOKEN": "token",
        "CI_API_V4_URL": "https://gitlab.example/api/v4",
        "CI_PROJECT_ID": "7",
        "CI_DEFAULT_BRANCH": "main",
        "CI_MERGE_REQUEST_IID": "",
        "GITLAB_API_TOKEN": "",
    }
    for line in job["script"]:
        _bash(line, work, env)
    with zipfile.ZipFile(store / "gitlab" / f"{job_id}.zip", "w") as archive:
        for pattern in job["artifacts"]["paths"]:
            for path in work.glob(pattern.rstrip("/")):
                files = [f for f in path.rglob("*") if f.is_file()] if path.is_dir() else [path]
                for file in files:
                    archive.write(file, file.relative_to(work))
    return work


def _verdict(work: Path, stage: int) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (work / "build" / "shadow" / "gate" / f"gate-{stage}.json").read_text()
    )
    return document


def _fingerprint(document: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in document["checks"] if c["name"] == "flag fingerprint")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    folder = tmp_path / "store"
    (folder / "github" / "1" / "capture").mkdir(parents=True)
    shutil.copy(SAMPLE, folder / "github" / "1" / "capture" / "capture.jsonl")
    (folder / "gitlab").mkdir()
    with zipfile.ZipFile(folder / "gitlab" / "capture.zip", "w") as archive:
        archive.write(SAMPLE, "capture.jsonl")
    return folder


def test_the_github_actions_flow_gates_10_then_50_with_the_previous_verdict(
    tmp_path: Path, store: Path
) -> None:
    tools = _tools(tmp_path, store)
    first = _github(tmp_path, store, "100", "10", "", tools)
    assert _fingerprint(_verdict(first, 10))["verdict"] == "pass"
    assert (first / "summary.md").read_text().strip()
    second = _github(tmp_path, store, "101", "50", "100", tools)
    check = _fingerprint(_verdict(second, 50))
    assert check["verdict"] == "pass" and "same fingerprint as stage 10" in check["reason"]


def test_the_gitlab_flow_gates_10_then_50_with_the_previous_verdict(
    tmp_path: Path, store: Path
) -> None:
    tools = _tools(tmp_path, store)
    first = _gitlab(tmp_path, store, "200", "10", "", tools)
    assert _fingerprint(_verdict(first, 10))["verdict"] == "pass"
    second = _gitlab(tmp_path, store, "201", "50", "200", tools)
    check = _fingerprint(_verdict(second, 50))
    assert check["verdict"] == "pass" and "same fingerprint as stage 10" in check["reason"]


def test_the_shell_flow_keeps_the_10_verdict_through_the_50_replay(tmp_path: Path) -> None:
    first, later = _blocks("sh")[:2]
    work = _workspace(tmp_path, "sh")
    shutil.copy(SAMPLE, work / "capture.jsonl")
    env = {**os.environ, "PATH": f"{work / '.venv' / 'bin'}:{os.environ['PATH']}"}
    for block in (first, later):
        for line in block.strip().splitlines():
            assert _bash(line, work, env) in (0, 1, 2)
    check = _fingerprint(_verdict(work, 50))
    assert check["verdict"] == "pass" and "same fingerprint as stage 10" in check["reason"]
    assert sorted(p.name for p in (work / "verdicts").iterdir()) == ["gate-10.json", "gate-50.json"]
