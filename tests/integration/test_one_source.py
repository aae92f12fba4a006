"""One set of numbers: the gate's figures read back out of every rendered output.

For several runs (a scenario and a capture, several stages) the test gates each stage with
``--json --junit --summary``, re-renders the reports, and parses every check's counts back out
of the JSON document, the JUnit XML, the gate's Markdown summary and the run's Markdown and
HTML reports: they must be the same numbers, and the result line must name the deciding
checks, failing ones before inconclusive ones.
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from cli_support import SAMPLE, run_shadow

RUNS = {
    "impatient": (["scenario:impatient-duplicates"], [10, 50]),
    "capture": ([str(SAMPLE)], [10, 100]),
}

Figures = dict[str, list[tuple[int, int]]]


def _json_figures(document: dict[str, Any]) -> Figures:
    return {
        check["name"]: [
            (int(m["count"]), int(m["n"])) for m in check["measures"] if m["unit"] != "seconds"
        ]
        for check in document["checks"]
    }


def _junit_figures(text: str) -> Figures:
    found: Figures = {}
    for case in ET.fromstring(text).iter("testcase"):
        body = "".join(child.text or "" for child in case)
        found[case.attrib["name"]] = [
            (int(count), int(n))
            for unit, n, count in re.findall(r"(\w+): n=(\d+) count=(\d+) ", body)
            if unit != "seconds"
        ]
    return found


def _summary_figures(text: str, names: list[str]) -> Figures:
    """Rows of the check table: a row with an empty name continues the check above."""
    found: Figures = {}
    current = ""
    for row in text.splitlines():
        cells = [cell.strip() for cell in row.split(" | ")]
        if not row.startswith("| ") or len(cells) < 4 or cells[0].lstrip("| ") not in ("", *names):
            continue
        current = cells[0].lstrip("| ") or current
        rate = re.match(r"(\d+)/(\d+) (messages|contacts)", cells[3])
        if rate:
            found.setdefault(current, []).append((int(rate.group(1)), int(rate.group(2))))
        counted = re.match(r"(\d+) msgs$", cells[3])
        if counted:
            found.setdefault(current, []).append((int(counted.group(1)), -1))
        found.setdefault(current, [])
    return found


def _report_figures(text: str, stage: int) -> list[tuple[int, int]]:
    """Every ``COUNT of N messages|contacts`` the stage's part of a report shows."""
    found = re.search(rf"(?i)stage {stage}\b", text)
    assert found, f"stage {stage} not in the report"
    start = found.start()
    part = text[start : start + 20_000]
    return [(int(c), int(n)) for c, n in re.findall(r"(\d+) of (\d+) (?:messages|contacts)", part)]


@pytest.mark.parametrize("name", sorted(RUNS))
def test_every_output_shows_the_gate_numbers(name: str, tmp_path: Path) -> None:
    inputs, stages = RUNS[name]
    folder = tmp_path / "run"
    args = [a for stage in stages for a in ("--stage", str(stage))]
    replayed = run_shadow("replay", *inputs, *args, "--out", str(folder))
    assert replayed.returncode == 0, replayed.stderr
    documents = {}
    for stage in stages:
        first = folder / f"gate-{stages[0]}.json"
        previous = [] if stage == stages[0] else ["--previous", str(first)]
        junit, summary = tmp_path / f"gate-{stage}.xml", tmp_path / f"gate-{stage}.md"
        gated = run_shadow(
            "gate", str(folder), "--stage", str(stage), *previous, "--as-of", "2026-01-01",
            "--junit", str(junit), "--summary", str(summary), "--json",
        )  # fmt: skip
        assert gated.returncode in (0, 1, 2), gated.stderr
        document = json.loads(gated.stdout)
        assert document == json.loads((folder / f"gate-{stage}.json").read_text())
        documents[stage] = document
        figures = _json_figures(document)
        assert any(figures.values()), "no counted figure to compare"
        assert _junit_figures(junit.read_text()) == figures
        shown = _summary_figures(summary.read_text(), list(figures))
        for check, values in figures.items():
            assert [c for c, _ in shown.get(check, [])] == [c for c, _ in values], check
            assert [n for _, n in shown.get(check, []) if n >= 0] == [
                n for (_, n), (_, m) in zip(values, shown.get(check, []), strict=False) if m >= 0
            ], check
        # deciding checks: failing ones named first, inconclusive after
        verdicts = {c["name"]: c["verdict"] for c in document["checks"]}
        deciding = document["deciding"]
        ranks = [0 if verdicts[n] == "fail" else 1 for n in deciding]
        assert ranks == sorted(ranks)
        assert set(deciding) == {n for n, v in verdicts.items() if v != "pass"}
        if deciding:
            assert f"gate stage {stage}: {document['verdict']}" in gated.stderr
            assert deciding[0] in gated.stderr.splitlines()[-1]
    reported = run_shadow("report", str(folder))
    assert reported.returncode == 0, reported.stderr
    markdown = (folder / "report.md").read_text()
    page = html.unescape(re.sub(r"<[^>]+>", " ", (folder / "report.html").read_text()))
    page = re.sub(r"\s+", " ", page)
    for stage, document in documents.items():
        counted = sorted(
            (int(m["count"]), int(m["n"]))
            for check in document["checks"]
            for m in check["measures"]
            if m["unit"] != "seconds"
        )
        assert sorted(set(_report_figures(markdown, stage)) & set(counted)) == sorted(set(counted))
        assert sorted(set(_report_figures(page, stage)) & set(counted)) == sorted(set(counted))
