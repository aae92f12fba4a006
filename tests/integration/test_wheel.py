"""The wheel carries everything, and its compiled form changes nothing but speed.

Builds the wheel (isolated build, as a release would), installs it with ``--no-deps`` into a
fresh virtual environment that borrows the already-installed dependencies through a ``.pth``
line, and runs ``shadow`` from there, outside the source tree. The compiled wheel
(``SHADOW_COMPILE=1``: mypyc over the kernel, environment and models) must write run files
byte-identical to the pure package's.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env=env,
    )


def install_wheel(tmp_path: Path, compiled: bool) -> Path:
    """Build the wheel, install it into a fresh venv; returns the venv's ``bin``."""
    env = {**os.environ, "SHADOW_COMPILE": "1" if compiled else "0"}
    dist = tmp_path / "dist"
    built = run(
        sys.executable, "-m", "build", "--wheel", "--outdir", dist, ROOT, cwd=tmp_path, env=env
    )
    assert built.returncode == 0, built.stderr[-2000:]
    wheels = list(dist.glob("coordinator_shadow-*.whl"))
    assert len(wheels) == 1
    env_dir = tmp_path / "venv"
    # no pip of its own (ensurepip takes seconds): this pip installs into it (--python)
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = run(
        python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path
    ).stdout.strip()
    # the dependencies, not this project (the editable finder's .pth is not processed here)
    Path(purelib, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = run(
        sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--quiet",
        wheels[0], cwd=tmp_path,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-2000:]
    return env_dir / "bin"


def test_the_wheel_installs_and_runs_outside_the_tree(tmp_path: Path) -> None:
    bin_dir = install_wheel(tmp_path, compiled=False)
    where = run(
        bin_dir / "python",
        "-c",
        "import replay_data, shadow.kernel.core as c; print(c.__file__)",
        cwd=tmp_path,
    )
    assert where.stdout.startswith(str(bin_dir.parent)), where.stdout + where.stderr
    assert where.stdout.strip().endswith(".py")  # pure unless SHADOW_COMPILE=1
    help_text = run(bin_dir / "shadow", "--help", cwd=tmp_path)
    assert help_text.returncode == 0, help_text.stderr
    assert "replay" in help_text.stdout and "gate" in help_text.stdout
    scenarios = run(bin_dir / "shadow", "scenarios", "--json", cwd=tmp_path)
    assert scenarios.returncode == 0, scenarios.stderr
    assert "conflict-2-oi" in scenarios.stdout  # replay_data shipped and found
    replayed = run(
        bin_dir / "shadow", "replay", "scenario:conflict-2-oi", "--out", "r", cwd=tmp_path
    )
    assert replayed.returncode == 0, replayed.stderr[-2000:]
    assert (tmp_path / "r" / "report.html").stat().st_size > 10_000  # templates shipped too


def digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != "timing.json"
    }


def _generated_c() -> dict[Path, int]:
    """C sources and objects under ./build, with their modification times."""
    return {
        path: path.stat().st_mtime_ns
        for path in (ROOT / "build").rglob("*")
        if path.suffix in (".c", ".h", ".o")
    }


def test_the_compiled_build_writes_the_same_bytes(tmp_path: Path) -> None:
    before = _generated_c()
    bin_dir = install_wheel(tmp_path, compiled=True)
    # mypyc's intermediate C stays in the build's temporary folder, not beside run folders
    assert _generated_c() == before
    core = run(
        bin_dir / "python", "-c", "import shadow.kernel.core as c; print(c.__file__)", cwd=tmp_path
    )
    assert core.stdout.strip().endswith(".so"), core.stdout + core.stderr
    pure = Path(sys.executable).parent / "shadow"
    # restarts, agent errors and hangs, send retries, batching, every arm family, a rollout
    replays = [
        ["scenario:restart-mid-traffic", "--arms", "legacy,unified,coordinator,orchestrator"],
        ["scenario:slow-agent", "--arms", "legacy,unified,response_manager"],
        ["scenario:burst-high-frequency"],
        ["scenario:send-failures"],
        [str(ROOT / "replay_data/captures/sample-cloud-api.jsonl"), "--stage", "10"],
    ]
    for index, args in enumerate(replays):
        folders = []
        for name, shadow in (("pure", pure), ("compiled", bin_dir / "shadow")):
            # the same folder name under each build's own working directory: report.md names
            # the run folder as the user gave it
            where = tmp_path / name
            where.mkdir(exist_ok=True)
            out = where / f"run-{index}"
            done = run(shadow, "replay", *args, "--out", out.name, cwd=where)
            assert done.returncode == 0, done.stderr[-2000:]
            folders.append(digests(out))
        assert folders[0] == folders[1], args
        assert "divergences.jsonl" in folders[0]
    # shadow watch's checkpoints: the compiled arms pickle and run on as the pure ones do
    check = [str(ROOT / "tests" / "warm_support.py"), replays[-1][0], "10"]
    printed = [
        run(python, *check, cwd=tmp_path) for python in (Path(sys.executable), bin_dir / "python")
    ]
    assert [p.returncode for p in printed] == [0, 0], printed[1].stderr[-2000:]
    assert printed[0].stdout == printed[1].stdout
    assert [line.split()[0] for line in printed[1].stdout.splitlines()] == ["True"] * 3
