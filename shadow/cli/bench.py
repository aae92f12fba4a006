"""``shadow bench``: throughput and memory of a synthetic replay."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shadow.cli.output import JsonOption, out, print_json
from shadow.common import UsageError


def bench(
    messages: Annotated[int, typer.Option("--messages", help="Stream messages.")] = 200_000,
    contacts: Annotated[int, typer.Option("--contacts", help="Distinct contacts.")] = 5_000,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes.")] = None,
    profile: Annotated[
        Path | None,
        typer.Option("--profile", help="Write a cProfile of each phase into this folder."),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Throughput and peak memory of a full replay (legacy, unified, comparator).

    Example: shadow bench --messages 200000 --profile build/profile
    """
    from shadow.bench import run_bench

    if messages < 1 or contacts < 1:
        raise UsageError("--messages and --contacts must be at least 1")
    if workers is not None and workers < 1:
        raise UsageError(f"--workers: must be at least 1 (got {workers})")
    result = run_bench(messages, contacts, workers, profile)
    if json_:
        print_json(result)
        return
    out.print(
        f"{result['messages']} messages, {result['contacts']} contacts, arms legacy+unified: "
        f"{result['wall_s']} s wall, {result['messages_per_s']} messages/s, "
        f"peak RSS {result['peak_rss_parent_mb']} MB (workers {result['peak_rss_workers_mb']} MB)",
        markup=False,
    )
    build = "compiled (make fast)" if result["compiled"] else "pure Python"
    out.print(f"phases: {result['phases']}; core: {build}", markup=False)
    if profile is not None:
        out.print(f"profiles: {profile}/<phase>.prof and .txt", markup=False)
