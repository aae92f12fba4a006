"""The HTML report in a real browser: headless Chromium renders it with every section.

Run with ``make test-browser`` (installs Debian's ``chromium`` when missing). The browser is
started with networking features off and a throwaway profile; the page itself forbids any
load by its Content-Security-Policy.
"""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_fixture import fake_timelines, write_fixture_run

import reports.swimlanes
from reports import render_run
from reports.context import SECTIONS

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Headings(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.h2: list[str] = []
        self.svgs = 0
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h2":
            self._open = True
            self.h2.append("")
        if tag == "svg":
            self.svgs += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._open = False

    def handle_data(self, data: str) -> None:
        if self._open:
            self.h2[-1] += data


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM.exists(), "headless Chromium is needed: apt-get install -y chromium"
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.browser
def test_report_renders_in_headless_chromium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports.swimlanes, "fetch_timelines", fake_timelines)
    folder = write_fixture_run(tmp_path / "run", gate=True)
    render_run(folder)
    page = (folder / "report.html").resolve()
    done = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = Headings()
    dom.feed(done.stdout)
    assert [h.strip() for h in dom.h2] == [
        f"{n}. {title}" for n, (_, title) in enumerate(SECTIONS, start=1)
    ]
    assert dom.svgs >= 6  # three charts, three swimlanes
    assert "Stage 10%: FAIL" in done.stdout
    assert not re.search(r"Refused to (load|apply)", done.stderr)
    shot = tmp_path / "report.png"
    taken = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,4000", page.as_uri())
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one
