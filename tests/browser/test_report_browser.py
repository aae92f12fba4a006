"""The HTML report in a real browser: headless Chromium renders it with every section.

Run with ``make test-browser`` (installs Debian's ``chromium`` when missing). The browser is
started with networking features off and a throwaway profile; the page itself forbids any
load by its Content-Security-Policy.
"""

from __future__ import annotations

import re
import subprocess
from html import unescape
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


#: Injected into a copy of the report (the report itself allows no script): the page's layout
#: as Chromium computes it at 1400 x 900, written into the DOM for --dump-dom to read.
MEASURE = """<script>
window.addEventListener("load", () => {
  const found = [];
  const add = (name, el) => {
    if (!el) return;
    const box = el.getBoundingClientRect();
    found.push({name, top: box.top + window.scrollY, bottom: box.bottom + window.scrollY,
                text: el.innerText});
  };
  add("verdict", document.querySelector("#verdict h3"));
  add("deciding", document.querySelector("#verdict ul li"));
  add("harms", document.querySelector("#harms"));
  const out = document.createElement("pre");
  out.id = "layout";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
});
</script>"""


@pytest.mark.browser
def test_first_screen_holds_the_verdict_the_deciding_check_and_the_harms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 1400 x 900 the verdict, the first deciding check with its numbers and the harms
    table with its numbers end above 900 px (element positions measured in Chromium)."""
    import json

    monkeypatch.setattr(reports.swimlanes, "fetch_timelines", fake_timelines)
    folder = write_fixture_run(tmp_path / "run", gate=True)
    render_run(folder)
    html = (folder / "report.html").read_text(encoding="utf-8")
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    page = tmp_path / "measured.html"
    page.write_text(html.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    done = chromium(tmp_path, "--window-size=1400,900", "--dump-dom", page.resolve().as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    layout = re.search(r'<pre id="layout">(.*?)</pre>', done.stdout, re.DOTALL)
    assert layout, "the measuring script did not run"
    boxes = {box["name"]: box for box in json.loads(unescape(layout.group(1)))}
    assert set(boxes) == {"verdict", "deciding", "harms"}
    for name, box in boxes.items():
        assert box["bottom"] <= 900, f"{name} ends at {box['bottom']:.0f} px: {box['text'][:80]}"
    assert "Stage 10%" in boxes["verdict"]["text"]
    assert re.search(r"\d+ of \d+", boxes["deciding"]["text"]), boxes["deciding"]["text"]
    harms = boxes["harms"]["text"]
    assert "never answered" in harms and re.search(r"legacy\s+\d+", harms), harms
