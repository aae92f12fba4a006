"""The wheel carries everything: packages, replay_data, the ``shadow`` console script.

Builds the wheel (isolated build, as a release would), installs it with ``--no-deps`` into a
fresh virtual environment that borrows the already-installed dependencies through a ``.pth``
line, and runs ``shadow`` from there, outside the source tree.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )


def test_the_wheel_installs_and_runs_outside_the_tree(tmp_path: Path) -> None:
    built = run(
        sys.executable, "-m", "build", "--wheel", "--outdir", tmp_path / "dist", ROOT, cwd=tmp_path
    )
    assert built.returncode == 0, built.stderr[-2000:]
    wheels = list((tmp_path / "dist").glob("coordinator_shadow-*.whl"))
    assert len(wheels) == 1
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    purelib = run(
        python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path
    ).stdout.strip()
    # the dependencies, not this project (the editable finder's .pth is not processed here)
    Path(purelib, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = run(python, "-m", "pip", "install", "--no-deps", "--quiet", wheels[0], cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-2000:]
    where = run(python, "-c", "import shadow, replay_data; print(shadow.__file__)", cwd=tmp_path)
    assert where.stdout.startswith(str(env_dir)), where.stdout + where.stderr
    help_text = run(env_dir / "bin" / "shadow", "--help", cwd=tmp_path)
    assert help_text.returncode == 0, help_text.stderr
    assert "replay" in help_text.stdout and "gate" in help_text.stdout
    scenarios = run(env_dir / "bin" / "shadow", "scenarios", "--json", cwd=tmp_path)
    assert scenarios.returncode == 0, scenarios.stderr
    assert "conflict-2-oi" in scenarios.stdout  # replay_data shipped and found
    replayed = run(
        env_dir / "bin" / "shadow", "replay", "scenario:conflict-2-oi", "--out", "r", cwd=tmp_path
    )
    assert replayed.returncode == 0, replayed.stderr[-2000:]
    assert (tmp_path / "r" / "report.html").stat().st_size > 10_000  # templates shipped too
