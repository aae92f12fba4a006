"""``shadow explain``: both timelines of a message or contact, side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shadow.cli.output import out
from shadow.common import UsageError


def explain(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by shadow replay.")],
    seq: Annotated[int | None, typer.Option("--seq", help="One message (its seq).")] = None,
    contact: Annotated[
        str | None, typer.Option("--contact", help="Every message of one contact (pseudonym).")
    ] = None,
    arms: Annotated[str | None, typer.Option("--arms", help="Comma-separated arms.")] = None,
) -> None:
    """Show each arm's decision events for one message or contact, side by side.

    Example: shadow explain build/shadow/demo --seq 42
    """
    from rich.markup import escape
    from rich.table import Table

    from shadow.explain import open_run, rerun

    if (seq is None) == (contact is None):
        raise UsageError("give exactly one of --seq N or --contact ID")
    run = open_run(run_dir)
    seqs = [seq] if seq is not None else run.seqs_of_contact(contact or "")
    if not seqs:
        raise UsageError(f"--contact {contact}: no message of that contact in the run")
    wanted = [a.strip() for a in arms.split(",")] if arms else None
    timelines = rerun(run, seqs, wanted)
    shown = (
        "fate",
        "rule",
        "cause",
        "processing_count",
        "reply_count",
        "reply_latency",
        "batch_size",
    )
    for seq_ in seqs[:50]:
        outcomes = Table(title=f"seq {seq_}", title_justify="left")
        for column in ("arm", *shown):
            outcomes.add_column(column)
        for timeline in timelines:
            row = next(o for o in timeline.outcomes if o["seq"] == seq_)
            outcomes.add_row(timeline.arm, *("-" if row[c] is None else str(row[c]) for c in shown))
        out.print(outcomes)
    events = Table(
        title="decision events (virtual time from the stream start)", title_justify="left"
    )
    events.add_column("time", justify="right")
    for timeline in timelines:
        events.add_column(timeline.arm)
    merged = sorted({(e.at, i, j) for i, t in enumerate(timelines) for j, e in enumerate(t.events)})
    for at, index, position in merged:
        event = timelines[index].events[position]
        cells = [""] * len(timelines)
        seqs_text = ",".join(str(s) for s in event.seqs)
        rule = f" [{event.rule}]" if event.rule else ""
        layer = f"{event.layer}: " if event.layer else ""
        # the C2 window check says what it saw (other details are hashes, not for reading)
        detail = f": {event.detail}" if event.kind == "accepted" and event.detail else ""
        cells[index] = escape(f"{layer}{event.kind} #{seqs_text}{rule}{detail}")
        events.add_row(f"{at / 1e6:.3f}s", *cells)
    out.print(events)
    from shadow.repro import repro_commands

    for command in repro_commands(run_dir, seqs):
        out.print(f"smallest repro: {command}", markup=False)
