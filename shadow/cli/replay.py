"""``shadow replay``: run every arm on a capture, with progress and a summary."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from shadow.cli.output import (
    ArmsOption,
    ConfigOption,
    FlagOption,
    JsonOption,
    ProviderOption,
    SeedOption,
    SetOption,
    StageOption,
    StrictOption,
    err,
    out,
    print_json,
)
from shadow.common import UsageError


def replay(
    captures: Annotated[
        list[str], typer.Argument(help="Capture files, or scenario:NAME to generate one.")
    ],
    format: Annotated[str, typer.Option("--format", help="Capture format or auto.")] = "auto",
    config: ConfigOption = None,
    set_: SetOption = None,
    seed: SeedOption = None,
    arms: ArmsOption = None,
    stage: StageOption = None,
    flag: FlagOption = None,
    provider: ProviderOption = None,
    flip_at: Annotated[
        str | None, typer.Option("--flip-at", help="Virtual time of the flip (e.g. 30m).")
    ] = None,
    flip_mode: Annotated[
        str | None,
        typer.Option(
            "--flip-mode",
            help="restart (default: the flip is a deploy) or hot (in-process, [A19]); "
            "sets rollout.flip_mode.",
        ),
    ] = None,
    users: Annotated[
        str | None,
        typer.Option(
            "--users",
            help="open (default: messages as given) or reactive (a resend an arm already "
            "answered is not sent to it); sets environment.users.",
        ),
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Run folder.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing run folder.")] = False,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes.")] = None,
    on_error: Annotated[
        str, typer.Option("--on-error", help="fail (stop at a bad line) or skip.")
    ] = "fail",
    strict: StrictOption = False,
    keep_raw: Annotated[
        bool, typer.Option("--keep-raw", help="Keep raw contact ids and texts in the run.")
    ] = False,
    chunk: Annotated[
        int | None, typer.Option("--chunk", help="Records per chunk of the streaming replay.")
    ] = None,
    id_retention: Annotated[
        str | None,
        typer.Option("--id-retention", help="How long message ids count for redelivery (7d)."),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Replay captures through every arm in virtual time, compare, write the run folder.

    Example: shadow replay capture.jsonl --stage 10 --stage 50
    """
    from shadow.replay import ReplayOptions
    from shadow.replay import replay as run_replay

    if on_error not in ("fail", "skip"):
        raise UsageError(f"--on-error: {on_error!r} is not one of fail, skip")
    if flip_mode is not None and flip_mode not in ("restart", "hot"):
        raise UsageError(f"--flip-mode: {flip_mode!r} is not one of restart, hot")
    if users is not None and users not in ("open", "reactive"):
        raise UsageError(f"--users: {users!r} is not one of open, reactive")
    policy: Literal["fail", "skip"] = "skip" if on_error == "skip" else "fail"
    if chunk is not None and chunk < 1:
        raise UsageError("--chunk must be at least 1")
    options = ReplayOptions(
        inputs=captures,
        format=format,
        config_file=config,
        sets=list(set_ or [])
        + ([f"rollout.flip_mode={flip_mode}"] if flip_mode else [])
        + ([f"environment.users={users}"] if users else []),
        seed=seed,
        arms=[a for a in arms.split(",") if a.strip()] if arms else None,
        stages=list(stage or []),
        flag=flag,
        provider=provider,
        flip_at=_duration_option("--flip-at", flip_at) if flip_at else None,
        out=out_dir,
        force=force,
        workers=workers,
        on_error=policy,
        strict=strict,
        keep_raw=keep_raw,
        chunk=chunk,
        id_retention=_duration_option("--id-retention", id_retention) if id_retention else None,
    )
    started = time.perf_counter()
    if json_ or not err.is_terminal:
        plain = _ReplayProgress()
        summary = run_replay(options, plain.note, plain.advance)
    else:
        summary = _replay_with_bar(options, run_replay)
    if json_:
        print_json(summary)
    else:
        render_replay_summary(summary, time.perf_counter() - started)
    if summary.get("rejected"):
        rejected = Path(summary["run_dir"]) / "rejected.jsonl"
        err.print(f"skipped {summary['rejected']} bad lines (see {rejected})", markup=False)


class _ReplayProgress:
    """Phase notes and each arm's progress: a rich bar per arm on a terminal, plain lines
    (one per arm and quarter of the stream) in CI logs."""

    def __init__(self, bar: Any = None) -> None:
        self.bar = bar
        self.tasks: dict[str, Any] = {}
        self.quarters: dict[str, int] = {}
        self.phase = bar.add_task("reading", total=None, virtual="") if bar else None

    def note(self, message: str) -> None:
        if self.bar is None:
            err.print(f"replay: {message}", markup=False)
        else:
            self.bar.update(self.phase, description=message[:40])

    def advance(self, arm: str, done: int, total: int, virtual_us: int) -> None:
        clock = f"virtual {_virtual(virtual_us)}"
        if self.bar is not None:
            if arm not in self.tasks:
                self.tasks[arm] = self.bar.add_task(arm, total=total, virtual=clock)
            self.bar.update(self.tasks[arm], completed=done, virtual=clock)
            return
        quarter = 4 * done // max(total, 1)
        if quarter > self.quarters.get(arm, 0):
            self.quarters[arm] = quarter
            err.print(f"replay: {arm}: {done}/{total} messages, {clock}", markup=False)


def _virtual(us: int) -> str:
    """Virtual time as [Nd ]HH:MM:SS from the stream start."""
    days, rest = divmod(us // 1_000_000, 86_400)
    hours, rest = divmod(rest, 3600)
    clock = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{days}d {clock}" if days else clock


def _replay_with_bar(options: Any, run_replay: Any) -> dict[str, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[virtual]}"),
    )
    with Progress(*columns, console=err, transient=True) as bar:  # gone once the summary shows
        progress = _ReplayProgress(bar)
        return dict(run_replay(options, progress.note, progress.advance))


def _duration_option(option: str, text: str) -> int:
    from shadow.common import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def render_replay_summary(summary: dict[str, Any], seconds: float) -> None:
    """The closing table: fates per arm, divergences per pair, top signatures."""
    from rich.table import Table

    from shadow.kernel import FATES

    fates = Table(title=f"{summary['messages']} messages, {summary['contacts']} contacts")
    fates.add_column("fate")
    for arm in summary["arms"]:
        fates.add_column(arm, justify="right")
    for fate in FATES:
        fates.add_row(fate, *(str(summary["arms"][arm].get(fate, 0)) for arm in summary["arms"]))
    out.print(fates)
    pairs = Table(title="divergences")
    pairs.add_column("pair")
    for severity in ("regression", "change", "improvement"):
        pairs.add_column(severity, justify="right")
    pairs.add_column("kinds", overflow="fold")
    for pair, counts in summary["divergences"].items():
        kinds = ", ".join(f"{k} {n}" for k, n in counts["by_kind"].items())
        pairs.add_row(
            pair,
            *(str(counts["by_severity"][s]) for s in ("regression", "change", "improvement")),
            kinds,
        )
    out.print(pairs)
    if summary["top_signatures"]:
        top = Table(title="top signatures")
        # a signature is an id: never wrapped or cut; the prose columns fold instead
        top.add_column("signature", no_wrap=True, min_width=12)
        top.add_column("pair", overflow="fold")
        top.add_column("count", justify="right", no_wrap=True)
        for column in ("severity", "kinds", "baseline cause", "candidate cause"):
            top.add_column(column, overflow="fold")
        for sig in summary["top_signatures"][:8]:
            top.add_row(
                sig["signature"],
                f"{sig['baseline']} vs {sig['candidate']}",
                str(sig["count"]),
                sig["severity"],
                ",".join(sig["kinds"]),
                sig["baseline_cause"] or "-",
                sig["candidate_cause"] or "-",
            )
        out.print(top)
    rejected = summary.get("rejected_reasons") or []
    if rejected:
        total = sum(group["lines"] for group in rejected)
        out.print(f"bad lines by reason ({total}; rejected.jsonl keeps them without their data):")
        for group in rejected:
            first = ", ".join(group["first"])
            out.print(f"  {group['reason']}: {group['lines']} ({first})", markup=False)
    out.print(f"run folder: {summary['run_dir']}  ({seconds:.1f} s)", markup=False)
    out.print(f"next: shadow explain {summary['run_dir']} --seq N", markup=False)
