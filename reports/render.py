"""Render a run folder's two reports (see the package docstring for the guarantees)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from shadow.common import UsageError, staged_file

#: the template blocks that show the gate's verdicts (the banner and section 1): all a gate
#: changes in a report
VERDICT_BLOCKS = ("banner", "verdict")
REPORTS = ("report.md", "report.html")


#: what report.md's commands call the run folder when the caller does not name it
PLACEHOLDER = "RUN_DIR"


def run_reference(path: Path) -> str:
    """The run folder as the user named it, relative to the working directory when inside
    it (never an absolute path the user did not type)."""
    try:
        relative = os.path.relpath(path.resolve(), Path.cwd())
    except ValueError:  # another drive
        return str(path)
    return str(path) if relative.startswith("..") else relative


def with_reference(markdown: str, run_ref: str | None) -> str:
    """report.md's commands with the run folder's name (shell-quoted) for ``RUN_DIR``."""
    return markdown if run_ref is None else markdown.replace(PLACEHOLDER, shlex.quote(run_ref))


def render_run(
    run_dir: Path,
    html: Path | None = None,
    md: Path | None = None,
    show_text: bool = False,
    run_ref: str | None = None,
) -> None:
    """Write the Markdown and HTML reports (default ``run_dir/report.md`` and ``report.html``).

    ``run_ref`` (``run_reference``) names the folder in report.md's commands, so they can be
    pasted as they are; without it they say ``RUN_DIR``."""
    from reports.context import build_context
    from reports.data import load_run
    from reports.html import render_html
    from reports.markdown import render_markdown

    data = load_run(run_dir, show_text=False)
    if show_text:
        if not data.manifest.get("keep_raw"):
            raise UsageError(
                f"--show-text: {run_dir} was replayed without --keep-raw, so it holds no "
                "message text; replay with --keep-raw to show texts"
            )
        data = load_run(run_dir, show_text=True)
    context = build_context(data)
    context["title"] = title(data.manifest)
    for target, render in (
        (md or run_dir / "report.md", lambda c: with_reference(render_markdown(c), run_ref)),
        (html or run_dir / "report.html", render_html),
    ):
        with staged_file(target) as staging:  # whole or not at all, even on Ctrl-C
            staging.write_text(render(context), encoding="utf-8")


def title(manifest: dict[str, Any]) -> str:
    """The inputs, as the run recorded them."""
    names = []
    for item in manifest.get("inputs") or []:
        if isinstance(item, dict):
            names.append(
                f"scenario:{item['scenario']}" if "scenario" in item else str(item.get("path"))
            )
    return ", ".join(names) or "run"


def verdict_parts(run_dir: Path, run_ref: str | None = None) -> dict[str, list[str]]:
    """The verdict blocks of both reports as the folder's ``gate-P.json`` files give them now
    (the whole report need not be built: they depend on run.json, the outcomes' harm columns
    and the gate files only)."""
    import json

    import pandas as pd
    import pyarrow.parquet as pq

    from reports.data import RunData, _read_gates
    from reports.html import environment as html_environment
    from reports.markdown import environment as md_environment
    from reports.markdown import normalize
    from reports.verdicts import verdicts
    from shadow.compare import HARM_COLUMNS

    manifest = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    stored = pq.read_schema(run_dir / "outcomes.parquet").names
    wanted = ["arm", *(c for c in HARM_COLUMNS if c in stored)]
    outcomes = pd.read_parquet(run_dir / "outcomes.parquet", columns=wanted)
    empty = pd.DataFrame()
    data = RunData(
        path=run_dir,
        manifest=manifest,
        stream=empty,
        outcomes=outcomes,
        divergences=empty,
        signatures=[],
        gauges=empty,
        gates=_read_gates(run_dir),
        display=str,
        show_text=False,
    )
    context = {"verdict": verdicts(data)}
    parts: dict[str, list[str]] = {}
    for name, env in (("report.md", md_environment()), ("report.html", html_environment())):
        template = env.get_template(f"{name}.j2")
        texts = ["".join(template.blocks[b](template.new_context(context))) for b in VERDICT_BLOCKS]
        # the Markdown report is normalized as a whole: a block is found by its lines
        if name == "report.md":
            texts = [with_reference(normalize(t).rstrip("\n"), run_ref) for t in texts]
        parts[name] = texts
    return parts


def refresh_verdict(
    run_dir: Path, before: dict[str, list[str]] | None, run_ref: str | None = None
) -> str:
    """Bring the run's reports up to date with its gate files: splice the verdict blocks in
    place of ``before`` (``verdict_parts`` taken before the gate wrote), which gives the bytes
    a full render would; when a report does not hold ``before`` exactly once per block (made
    by another version, or elsewhere), render both reports in full. Says which was done."""
    files = [run_dir / name for name in REPORTS]
    if before is not None and all(f.exists() for f in files):
        after = verdict_parts(run_dir, run_ref)
        spliced: dict[Path, str] = {}
        for file in files:
            text = file.read_bytes().decode("utf-8")
            old, new = before[file.name], after[file.name]
            starts = [text.find(part) for part in old]
            if any(text.count(part) != 1 for part in old) or starts != sorted(starts):
                break
            pieces, at = [], 0
            for start, part, replacement in zip(starts, old, new, strict=True):
                pieces += [text[at:start], replacement]
                at = start + len(part)
            spliced[file] = "".join(pieces) + text[at:]
        else:
            for file, text in spliced.items():
                with staged_file(file) as staging:  # whole or not at all, even on Ctrl-C
                    staging.write_bytes(text.encode("utf-8"))
            return "verdict"
    render_run(run_dir, run_ref=run_ref)
    return "full"
