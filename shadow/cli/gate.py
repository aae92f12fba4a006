"""``shadow gate``: may the flag flip? Verdict files, JUnit, summary, exit status."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from shadow.cli.output import JsonOption, err, out, print_json
from shadow.common import ShadowError, UsageError, staged_file


def gate(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by shadow replay.")],
    stage: Annotated[int, typer.Option("--stage", help="The stage the flip goes to (percent).")],
    policy: Annotated[
        Path | None, typer.Option("--policy", help="Policy YAML (default: bundled stage-P).")
    ] = None,
    previous: Annotated[
        Path | None,
        typer.Option(
            "--previous",
            help="The previous stage's gate-Q.json (flag fingerprint); looked up in the run "
            "folder when not found as given.",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Date waivers are judged on (default: today, UTC)."),
    ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    summary: Annotated[
        Path | None, typer.Option("--summary", help="Write the Markdown summary here.")
    ] = None,
    json_: JsonOption = False,
) -> None:
    """The CI gate for the flip to stage P: exit 0 pass, 1 fail, 2 inconclusive, 3 bad input.

    Writes gate-P.json into the run folder.

    Example: shadow gate build/shadow/capture --stage 10 --junit gate.xml --summary gate.md
    """
    import datetime as dt
    import json

    from reports import render_gate_summary, render_junit
    from shadow.gate import (
        GateOptions,
        GateVerdict,
        evaluate,
        load_gate_input,
        load_policy,
        read_previous,
        result_line,
    )
    from shadow.rollout import check_stage

    if stage < 1:
        raise UsageError("--stage must be a percentage between 1 and 100")
    check_stage(stage)
    if as_of is None:
        day = dt.datetime.now(dt.UTC).date()
    else:
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            raise UsageError(f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)") from None
    from reports import run_reference

    # the explain commands name the folder as the user would type it, never an absolute path
    run_ref = run_reference(run_dir)
    if previous is not None and not previous.exists() and (run_dir / previous).is_file():
        previous = run_dir / previous
    loaded = load_policy(policy, stage)
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        import pyarrow as pa

        # pyarrow's mimalloc hands freed pages back at once: reading a run's 15 outcome files
        # (one per open reading) cost a second of page faults; the results are the same
        pa.set_memory_pool(pa.system_memory_pool())
    inputs = load_gate_input(run_dir, run_ref)
    options = GateOptions(
        stage=stage,
        as_of=day,
        policy_sha256=loaded.sha256,
        policy_source=loaded.source,
        waivers=loaded.waivers,
        previous=read_previous(previous) if previous is not None else None,
    )
    report = evaluate(inputs, loaded.policy, options)
    document = report.document
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    # the run's reports lead with the verdict: only that part is redone once gate-P.json exists
    reported = (run_dir / "report.html").exists() or (run_dir / "report.md").exists()
    before = None
    if reported:
        from reports import verdict_parts

        try:
            before = verdict_parts(run_dir, run_ref)
        except Exception:  # the report is then rendered in full
            before = None
    for target, content in (
        (run_dir / f"gate-{stage}.json", text),
        (junit, render_junit(document) if junit else ""),
        (summary, render_gate_summary(document) if summary else ""),
    ):
        if target is None:
            continue
        try:
            with staged_file(target) as staging:
                staging.write_text(content, encoding="utf-8", newline="\n")
        except OSError as exc:
            raise UsageError(f"cannot write {target}: {exc.strerror}") from None
    if reported:
        from reports import refresh_verdict

        try:
            refresh_verdict(run_dir, before, run_ref)
        except Exception as exc:  # the verdict stands; the report can be redone
            why = exc.message if isinstance(exc, ShadowError) else type(exc).__name__
            err.print(f"warning: report not refreshed ({why}); run shadow report {run_ref}")
    if json_:
        print_json(document)
    else:
        for check in document["checks"]:
            out.print(f"{check['verdict']:<12} {check['name']}: {check['reason']}", markup=False)
        for waiver in document.get("waivers", []):
            status = waiver["status"].replace("_", " ")
            out.print(
                f"waiver {waiver['index']} {status}: {waiver['match']}, "
                f"{waiver['matched']} matched (approved by {waiver['approver']})",
                markup=False,
            )
        out.print(result_line(document), markup=False)
    if report.exit_status:
        raise GateVerdict(stage, report.verdict, document["reasons"])
