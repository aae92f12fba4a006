"""The approvers' reports: structure, privacy, self-containment, determinism (issue 8)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_fixture import fake_timelines, write_fixture_run

import reports.swimlanes
from reports import render_run
from reports.context import SECTIONS
from shadow.common.errors import InputError, UsageError

PHONE = re.compile(r"(?<![\w+])\+?\d{10,15}(?!\w)")


class Page(HTMLParser):
    """Headings, tags and resource attributes of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.h2: list[str] = []
        self.resources: list[tuple[str, str, str]] = []
        self.ids: list[str] = []
        self._in_h2 = False
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "data", "poster"):
                self.resources.append((tag, name, value or ""))
            if name == "id" and tag == "section":
                self.ids.append(value or "")
        if tag == "h2":
            self._in_h2, self._text = True, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2 = False
            self.h2.append("".join(self._text).strip())

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self._text.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(autouse=True)
def no_rerun(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture folder was not made by the models: timelines come from a stand-in."""
    monkeypatch.setattr(reports.swimlanes, "fetch_timelines", fake_timelines)


@pytest.fixture
def run(tmp_path: Path) -> Path:
    folder = write_fixture_run(tmp_path / "run")
    render_run(folder)
    return folder


def test_every_section_heading_is_present_in_order(run: Path) -> None:
    page = parse(run / "report.html")
    assert page.h2 == [f"{n}. {title}" for n, (_, title) in enumerate(SECTIONS, start=1)]
    assert page.ids == [key for key, _ in SECTIONS]
    markdown = (run / "report.md").read_text(encoding="utf-8")
    headings = [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == page.h2


def test_html_is_self_contained(run: Path) -> None:
    page = parse(run / "report.html")
    text = (run / "report.html").read_text(encoding="utf-8")
    assert "script" not in page.tags
    assert "link" not in page.tags and "img" not in page.tags and "iframe" not in page.tags
    assert page.resources, "the table of contents links to the sections"
    for tag, name, value in page.resources:
        assert value.startswith("#"), f"<{tag} {name}={value!r}> leaves the page"
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", text)
    assert "@import" not in text
    assert not re.search(r"url\(\s*['\"]?(?!#)", text), "only in-page url(#id) references"
    assert text.count("<svg") >= 3 + 3  # three charts and three swimlanes


def test_html_stays_small(run: Path) -> None:
    assert (run / "report.html").stat().st_size < 400_000


def test_verdict_comes_first_and_says_not_gated(run: Path) -> None:
    html = (run / "report.html").read_text(encoding="utf-8")
    markdown = (run / "report.md").read_text(encoding="utf-8")
    assert html.index('class="banner') < html.index('id="verdict"') < html.index('id="replayed"')
    assert "Stage 10%: NOT GATED YET" in html
    assert "shadow gate RUN_DIR --stage 10" in html and "shadow gate RUN_DIR --stage 10" in markdown


def test_gate_verdict_shows_each_check(tmp_path: Path) -> None:
    folder = write_fixture_run(tmp_path / "run", gate=True)
    render_run(folder)
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    assert "**Verdict: stage 10% FAIL**" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| no lost replies"))
    for figure in ("fail", "20%", "43%", "max_rate 0.5%", "--seq 15"):
        assert figure in row
    assert "banner v-fail" in (folder / "report.html").read_text(encoding="utf-8")


def test_no_raw_phone_number_without_show_text(tmp_path: Path) -> None:
    folder = write_fixture_run(tmp_path / "raw", keep_raw=True)
    render_run(folder)
    for name in ("report.html", "report.md"):
        text = (folder / name).read_text(encoding="utf-8")
        assert not PHONE.findall(text), name
        assert "Oi, pedido" not in text
        assert "c000001" in text
    shown = folder / "shown.html"
    render_run(folder, html=shown, md=folder / "shown.md", show_text=True)
    text = shown.read_text(encoding="utf-8")
    assert PHONE.findall(text) and "Oi, pedido" in text


def test_show_text_is_refused_without_keep_raw(run: Path) -> None:
    with pytest.raises(UsageError, match="--keep-raw"):
        render_run(run, show_text=True)


def test_cli_refuses_show_text_with_exit_3(run: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shadow.cli", "report", str(run), "--show-text"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 3
    assert "--keep-raw" in done.stderr and "Traceback" not in done.stderr


def test_cli_renders_to_the_given_files(run: Path, tmp_path: Path) -> None:
    html, md = tmp_path / "out.html", tmp_path / "out.md"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "shadow.cli",
            "report",
            str(run),
            "--html",
            str(html),
            "--md",
            str(md),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # a separate process re-runs the real models for timelines: compare the structure only
    assert parse(html).h2 == parse(run / "report.html").h2
    # the command names the folder as given (outside the working directory: as typed)
    written = md.read_text(encoding="utf-8")
    assert f"shadow report {run}" in written and "RUN_DIR" not in written
    assert (
        written.replace(str(run), "RUN_DIR").split("## 10.")[0]
        == (run / "report.md").read_text(encoding="utf-8").split("## 10.")[0]
    )


def test_rendering_twice_and_elsewhere_gives_the_same_bytes(run: Path, tmp_path: Path) -> None:
    first = (run / "report.html").read_bytes(), (run / "report.md").read_bytes()
    render_run(run)
    assert ((run / "report.html").read_bytes(), (run / "report.md").read_bytes()) == first
    moved = tmp_path / "elsewhere" / "deeper"
    shutil.copytree(run, moved)
    render_run(moved)
    assert ((moved / "report.html").read_bytes(), (moved / "report.md").read_bytes()) == first
    assert str(tmp_path) not in first[0].decode() and str(tmp_path) not in first[1].decode()


def test_charts_use_the_fixed_hash_salt_and_no_date(run: Path) -> None:
    text = (run / "report.html").read_text(encoding="utf-8")
    assert "<dc:date>" not in text and "<metadata>" not in text
    assert not re.search(r"20\d\d-\d\d-\d\dT", text)


def test_reproduce_names_inputs_config_and_seed_only(run: Path) -> None:
    markdown = (run / "report.md").read_text(encoding="utf-8")
    block = markdown.split("## 14. How to reproduce", 1)[1]
    replay = next(line for line in block.splitlines() if line.startswith("shadow replay"))
    assert replay.startswith("shadow replay scenario:conflict-2-oi --seed 7 --stage 10")
    assert "--set coordinator.duplicate_window=5s" in replay
    for banned in ("--out", "--workers", "--force", "/tmp", str(run)):
        assert banned not in block


def test_timelines_fall_back_to_the_reason(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(path: Path, seqs: list[int], arms: list[str]) -> list[object]:
        raise UsageError("the models are not there")

    monkeypatch.setattr(reports.swimlanes, "fetch_timelines", broken)
    render_run(run)
    page = parse(run / "report.html")
    assert len(page.h2) == len(SECTIONS)
    assert "Timelines unavailable: UsageError: the models are not there" in (
        run / "report.md"
    ).read_text(encoding="utf-8")


def test_swimlanes_draw_both_arms_and_mark_the_example(run: Path) -> None:
    html = (run / "report.html").read_text(encoding="utf-8")
    lanes = re.findall(r'<svg[^>]*class="swimlane".*?</svg>', html, flags=re.DOTALL)
    assert len(lanes) == 3
    first = lanes[0]
    assert ">legacy</text>" in first and ">unified</text>" in first
    assert "example #" in first
    assert first.count("<title>") >= 6


def test_altered_run_folder_is_refused(run: Path) -> None:
    with (run / "divergences.jsonl").open("a", encoding="utf-8") as handle:
        handle.write("\n")
    with pytest.raises(InputError, match="sha256"):
        render_run(run)


def test_fidelity_and_extra_replies_come_from_the_outcomes(run: Path) -> None:
    markdown = (run / "report.md").read_text(encoding="utf-8")
    fidelity = markdown.split("## 11.", 1)[1].split("## 12.", 1)[0]
    rows = [line for line in fidelity.splitlines() if line.startswith("| ") and "%" in line]
    assert [row.split(" | ")[0] for row in rows] == ["| legacy", "| unified", "| rollout@10"]
    extra = markdown.split("## 12.", 1)[1].split("## 13.", 1)[0]
    assert "contacts get more replies on unified" in extra
    counts = [line.split(" | ") for line in extra.splitlines() if line.startswith("| c0")]
    assert counts and all(int(c[2]) - int(c[1]) == int(c[3]) > 0 for c in counts)
