"""``shadow sweep`` on the command line: CliRunner and a real subprocess, exit statuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import run_shadow
from typer.testing import CliRunner

from shadow.cli.app import app
from shadow.common.errors import UsageError

VARY = ["--vary", "unified.duplicate_window=3s,5s", "--seeds", "2"]


def test_sweep_json_prints_one_document_with_every_row(tmp_path: Path) -> None:
    out = tmp_path / "s"
    result = CliRunner().invoke(
        app, ["sweep", "conflict-2-oi", *VARY, "--out", str(out), "--workers", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["out"] == str(out)
    assert [(r["values"], r["seed"]) for r in document["rows"]] == [
        ({"unified.duplicate_window": "3s"}, 1),
        ({"unified.duplicate_window": "3s"}, 2),
        ({"unified.duplicate_window": "5s"}, 1),
        ({"unified.duplicate_window": "5s"}, 2),
    ]
    assert [r["unified.duplicate_processing"] for r in document["rows"]] == [1, 1, 0, 0]
    assert document["objective"] == "min:regressions,duplicate_processing"
    assert document["chosen"] == {"unified.duplicate_window": "5s"}
    assert [(r["rank"], r["setting"]) for r in document["ranking"]] == [
        (1, {"unified.duplicate_window": "5s"}),
        (2, {"unified.duplicate_window": "3s"}),
    ]
    assert [r["means"]["unified.duplicate_processing"] for r in document["ranking"]] == [0, 1]
    assert document == json.loads((out / "sweep.json").read_text(encoding="utf-8"))


def test_sweep_prints_the_summary_and_the_best_value(tmp_path: Path) -> None:
    out = tmp_path / "s"
    result = CliRunner().invoke(app, ["sweep", "scenario:conflict-2-oi", *VARY, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "unified.duplicate_window = 5s is best" in result.stdout
    assert "duplicates processed" in result.stdout
    again = CliRunner().invoke(app, ["sweep", "conflict-2-oi", *VARY, "--out", str(out)])
    assert isinstance(again.exception, UsageError)
    forced = CliRunner().invoke(
        app, ["sweep", "conflict-2-oi", *VARY, "--out", str(out), "--force"]
    )
    assert forced.exit_code == 0, forced.output


def test_sweep_usage_error_surfaces_through_the_cli_runner(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["sweep", "conflict-2-oi", "--vary", "unified.nope=1,2", "--out", str(tmp_path / "s")]
    )
    assert isinstance(result.exception, UsageError)
    assert "unified.nope" in result.exception.message


def test_sweep_in_a_subprocess_writes_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "s"
    result = run_shadow(
        "sweep", "conflict-2-oi", *VARY, "--objective", "min:new_failures,regressions",
        "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "is best" in result.stdout
    assert "fewest new failures, then fewest regressions" in result.stdout
    for name in ("sweep.csv", "sweep.parquet", "summary.csv", "sweep.json", "sweep.md"):
        assert (out / name).is_file(), name
    html = (out / "sweep.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 1
    assert "<script" not in html


@pytest.mark.parametrize(
    ("vary", "says"),
    [
        (["--vary", "unified.duplicat_window=3s,5s"], "unified.duplicat_window"),
        (["--vary", "unified.duplicate_window=3s,soon"], "is not a duration"),
        (["--vary", "unified.duplicate_window="], "no values"),
        (["--vary", "unified.duplicate_window"], "KEY=V1,V2"),
        ([], "--vary"),
        (["--vary", "unified.duplicate_window=3s", "--objective", "min:nope"], "nope"),
    ],
)
def test_bad_vary_exits_3_without_a_traceback(tmp_path: Path, vary: list[str], says: str) -> None:
    result = run_shadow("sweep", "conflict-2-oi", *vary, "--out", str(tmp_path / "s"))
    assert result.returncode == 3, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "s").exists()
