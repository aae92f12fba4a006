"""``shadow gate`` refreshes only the reports' verdict blocks, giving the bytes a full render
would; report.md's commands name the run folder as the user did."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cli_support import run_shadow

from reports import refresh_verdict, render_run, run_reference, verdict_parts
from shadow.replay.inputs import ReplayOptions
from shadow.replay.pipeline import replay


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gated") / "run"
    replay(ReplayOptions(inputs=["scenario:conflict-2-oi"], stages=[10, 50], out=out))
    return out


def _full(run: Path, tmp_path: Path, run_ref: str) -> tuple[bytes, bytes]:
    md, html = tmp_path / "full.md", tmp_path / "full.html"
    render_run(run, html=html, md=md, run_ref=run_ref)
    return md.read_bytes(), html.read_bytes()


def test_each_gate_leaves_the_bytes_of_a_full_render(staged: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    run = work / "run"
    shutil.copytree(staged, run)
    before = (run / "report.md").read_text(encoding="utf-8")
    assert "shadow gate run --stage 10" not in before  # replayed elsewhere: named as given then
    for stage, previous in ((10, None), (50, "gate-10.json")):
        extra = ["--previous", previous] if previous else []
        result = run_shadow("gate", "run", "--stage", str(stage), *extra, cwd=work)
        assert result.returncode in (0, 1, 2), result.stderr
        assert "warning" not in result.stderr
        md, html = _full(run, tmp_path, "run")
        assert (run / "report.md").read_bytes() == md
        assert (run / "report.html").read_bytes() == html
    text = (run / "report.md").read_text(encoding="utf-8")
    assert "not gated yet" not in text.split("## 2.")[0]
    assert "RUN_DIR" not in text


def test_the_gate_splices_and_does_not_render_in_full(staged: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(staged, run)
    ref = run_reference(run)
    render_run(run, run_ref=ref)
    parts = verdict_parts(run, ref)
    assert refresh_verdict(run, parts, ref) == "verdict"  # nothing changed: spliced in place
    md, html = _full(run, tmp_path, ref)
    assert (run / "report.md").read_bytes() == md and (run / "report.html").read_bytes() == html


def test_a_report_not_holding_the_old_verdict_is_rendered_in_full(
    staged: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(staged, run)
    ref = run_reference(run)
    parts = verdict_parts(run, ref)
    (run / "report.md").write_text("edited by hand\n", encoding="utf-8")
    assert refresh_verdict(run, parts, ref) == "full"
    md, html = _full(run, tmp_path, ref)
    assert (run / "report.md").read_bytes() == md and (run / "report.html").read_bytes() == html
    assert refresh_verdict(run, None, ref) == "full"


def test_report_md_names_the_folder_as_given_relative_inside_the_working_directory(
    staged: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    run = work / "runs" / "flip one"
    shutil.copytree(staged, run)
    result = run_shadow("report", str(run), cwd=work)  # absolute, inside the cwd: relative
    assert result.returncode == 0, result.stderr
    text = (run / "report.md").read_text(encoding="utf-8")
    assert "shadow gate 'runs/flip one' --stage 10" in text
    assert "shadow report 'runs/flip one'" in text
    assert "RUN_DIR" not in text and str(tmp_path) not in text
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    result = run_shadow("report", "../work/runs/flip one", cwd=outside)
    assert result.returncode == 0, result.stderr
    text = (run / "report.md").read_text(encoding="utf-8")
    assert "shadow report '../work/runs/flip one'" in text
