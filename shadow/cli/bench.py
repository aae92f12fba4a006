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
    chunk: Annotated[
        int | None,
        typer.Option("--chunk", help="Stream the replay a chunk of N messages at a time."),
    ] = None,
    profile: Annotated[
        Path | None,
        typer.Option(
            "--profile",
            help="Write a cProfile of each phase into this folder (streams the replay).",
        ),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Throughput and peak memory of a full replay (legacy, unified, comparator).

    Example: shadow bench --messages 2000000 --contacts 40000 --chunk 100000
    """
    from shadow.bench import run_bench

    if messages < 1 or contacts < 1:
        raise UsageError("--messages and --contacts must be at least 1")
    if workers is not None and workers < 1:
        raise UsageError(f"--workers: must be at least 1 (got {workers})")
    if chunk is not None and chunk < 1:
        raise UsageError(f"--chunk: must be at least 1 (got {chunk})")
    result = run_bench(messages, contacts, workers, profile, chunk)
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
    mode = f"streamed in {result['chunks']} chunks" if result["chunk"] else "whole run"
    out.print(f"phases: {result['phases']}; core: {build}; {mode}", markup=False)
    if profile is not None:
        out.print(f"profiles: {profile}/<phase>.prof and .txt", markup=False)
