"""The ``shadow`` command line: a thin typer layer over the library.

This is the only module that prints with rich or picks an exit status. Each command parses
its options, calls one library function, and renders the result. Exit statuses follow
contracts.md: 0 ok, 1 check failed, 2 needs a human, 3 bad usage or input, 4 internal error
(traceback to ``crash.txt``, never to the terminal).
"""

from __future__ import annotations

import contextlib
import sys
import time
import traceback
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console

from shadow.common import ShadowError, UsageError

app = typer.Typer(
    name="shadow",
    help="Replay WhatsApp traffic through the legacy coordinators and the unified one, "
    "compare them message by message, and gate each rollout stage.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")

# Piped output (CI logs, files) gets wide tables instead of rich's 80-column default.
_WIDTH = None if sys.stdout.isatty() else 200
out = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True)

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override one config key: dotted.key=value (repeatable)."),
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="A YAML configuration file.", exists=False)
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print exactly one JSON document on stdout.")
]


def print_json(document: Any) -> None:
    """One JSON document on stdout, sorted keys, nothing else."""
    import json

    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


# --- commands: each block below belongs to one feature; edit only your own block ----------


# [command: config show]
@config_app.command("show")
def config_show(
    config: ConfigOption = None,
    sets: SetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print every configuration key: `key = value  (source)`, sorted by key."""
    from shadow.config import load_config, render_value

    effective = load_config(config, sets or [])
    if as_json:
        print_json(effective.show())
        return
    lines = [
        f"{key} = {render_value(value)}  ({effective.sources[key]})"
        for key, value in effective.flat().items()
    ]
    sys.stdout.write("\n".join(lines) + "\n")


# [end: config show]

# [command: validate]
FormatOption = Annotated[
    str,
    typer.Option(
        "--format",
        help="auto, shadow, csv, cloud, evolution, zapi, twilio, wwebjs or export.",
    ),
]
TzOption = Annotated[
    str, typer.Option("--tz", help="Chat exports: zone of their local times (IANA or +HH:MM).")
]
ContactOption = Annotated[
    str | None, typer.Option("--contact", help="Chat exports: the conversation's contact id.")
]
MeOption = Annotated[
    str | None, typer.Option("--me", help="Chat exports: the business's author name (outbound).")
]
NinthDigitOption = Annotated[
    bool,
    typer.Option(
        "--merge-br-ninth-digit", help="Merge 55DD9XXXXXXXX with 55DDXXXXXXXX (default off)."
    ),
]


def read_options(
    tz: str, contact: str | None, me: str | None, merge_ninth: bool
) -> Any:  # -> shadow.streams.ReadOptions (lazy import keeps --help fast)
    """Reader options from the command line; the app secret from ``SHADOW_APP_SECRET``."""
    import os

    from shadow.streams import ReadOptions

    return ReadOptions(
        tz=tz,
        contact=contact,
        me=me,
        merge_br_ninth_digit=merge_ninth,
        app_secret=os.environ.get("SHADOW_APP_SECRET") or None,
    )


@app.command("validate")
def validate_command(
    captures: Annotated[list[Path], typer.Argument(help="Capture files.")],
    format: FormatOption = "auto",
    json_output: JsonOption = False,
    on_error: Annotated[
        str, typer.Option("--on-error", help="skip (list every bad line) or fail (stop at one).")
    ] = "skip",
    max_skew: Annotated[
        str, typer.Option("--max-skew", help="Warn when timestamps go backwards by more.")
    ] = "60s",
    tz: TzOption = "UTC",
    contact: ContactOption = None,
    me: MeOption = None,
    merge_br_ninth_digit: NinthDigitOption = False,
) -> None:
    """Check captures without running them: line kinds, counts, time span, every bad line."""
    from shadow.common import CheckFailed, parse_duration
    from shadow.streams import read_captures, validate_document

    try:
        skew = parse_duration(max_skew)
    except ValueError as exc:
        raise UsageError(f"--max-skew: {exc}") from None
    if on_error not in ("fail", "skip"):
        raise UsageError(f"--on-error must be fail or skip, not {on_error!r}")
    capture = read_captures(
        captures,
        format=format,
        on_error="fail" if on_error == "fail" else "skip",
        max_skew=skew,
        options=read_options(tz, contact, me, merge_br_ninth_digit),
    )
    for warning in capture.warnings:
        err.print(f"warning: {warning}", markup=False)
    if json_output:
        print_json(validate_document(capture))
    else:
        for table in _validate_tables(capture):
            out.print(table)
    if capture.rejected:
        raise CheckFailed(f"{len(capture.rejected)} bad line(s) in the capture")


def _validate_tables(capture: Any) -> list[Any]:
    """The human view of ``validate``: per-file and total counts, types and span, bad lines."""
    from rich.table import Table

    from shadow.streams import LINE_KINDS, iso_utc

    items = ("messages", "receipts", "outbound", "redeliveries", "groups", "contacts")

    def column(counts: Any) -> list[str]:
        kinds = [str(counts.line_kinds[kind]) for kind in LINE_KINDS]
        return [
            counts.format,
            str(counts.lines),
            *kinds,
            *(str(getattr(counts, name)) for name in items),
        ]

    files = capture.accounting.files
    columns = [(Path(counts.file).name, column(counts)) for counts in files]
    if len(files) > 1:
        columns.append(("total", column(capture.accounting.total)))
    counts = Table(title="Capture lines and items")
    counts.add_column("")
    for name, _ in columns:
        counts.add_column(name, justify="right")
    labels = ["format", "lines", *(f"  {kind}" for kind in LINE_KINDS)]
    labels += [f"{name} skipped" if name == "groups" else name for name in items]
    for index, label in enumerate(labels):
        counts.add_row(label, *(values[index] for _, values in columns))
    total = capture.accounting.total
    types = Table(title="Message types and time span")
    types.add_column("type")
    types.add_column("messages", justify="right")
    for name, number in sorted(total.types.items()):
        types.add_row(name, str(number))
    if total.first_at is not None and total.last_at is not None:
        types.add_row("first_at", iso_utc(total.first_at))
        types.add_row("last_at", iso_utc(total.last_at))
    tables = [counts, types]
    if capture.rejected:
        bad = Table(title=f"Rejected lines ({len(capture.rejected)})")
        bad.add_column("file:line")
        bad.add_column("reason")
        for item in capture.rejected:
            bad.add_row(f"{item.file}:{item.line}", item.reason)
        tables.append(bad)
    return tables


# [end: validate]


# [command: redact]
@app.command("redact")
def redact_command(
    capture: Annotated[Path, typer.Argument(help="The capture to pseudonymize.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The shadow JSONL to write.")],
    flag: Annotated[
        str | None,
        typer.Option("--flag", help="Record each contact's Unleash bucket from its real id."),
    ] = None,
    format: FormatOption = "auto",
    tz: TzOption = "UTC",
    contact: ContactOption = None,
    me: MeOption = None,
    merge_br_ninth_digit: NinthDigitOption = False,
) -> None:
    """Pseudonymize a capture with a keyed HMAC (key from SHADOW_REDACT_KEY), keeping equality."""
    import os

    from shadow.streams import REDACT_KEY_ENV, read_captures, write_redacted

    key = os.environ.get(REDACT_KEY_ENV, "")
    if not key:
        raise UsageError(f"redact refuses to run without a key: set {REDACT_KEY_ENV}")
    if output.resolve() == capture.resolve():
        raise UsageError("-o must differ from the capture")
    loaded = read_captures(
        [capture], format=format, options=read_options(tz, contact, me, merge_br_ninth_digit)
    )
    for warning in loaded.warnings:
        err.print(f"warning: {warning}", markup=False)
    written = write_redacted(loaded, output, key, flag)
    err.print(f"wrote {written} lines to {output}", markup=False)


# [end: redact]


# [command: scenarios]
@app.command("scenarios")
def scenarios_command(json_output: JsonOption = False) -> None:
    """List the built-in scenarios (replay_data/scenarios/)."""
    from shadow.streams import list_scenarios

    listing = list_scenarios()
    if json_output:
        print_json([{"name": name, "description": text} for name, text in listing])
        return
    from rich.table import Table

    table = Table("scenario", "what it exercises", box=None, pad_edge=False)
    for name, text in listing:
        table.add_row(name, text)
    out.print(table)


# [end: scenarios]


# [command: generate]
@app.command("generate")
def generate_command(
    scenario: Annotated[
        str, typer.Argument(help="A built-in scenario name (shadow scenarios) or a YAML file.")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="The shadow JSONL to write.")],
    seed: Annotated[int, typer.Option("--seed", help="The seed of every draw.")] = 1,
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Set a scenario key: duration=10m, contacts=50, "
            "traffic.0.conversations.rate=50/min (repeatable).",
        ),
    ] = None,
) -> None:
    """Write a synthetic stream (shadow JSONL) and beside it FILE.env.yaml (its environment)."""
    from shadow.streams import generate_to_file

    count, env_file = generate_to_file(scenario, output, seed=seed, sets=sets or ())
    err.print(f"wrote {count} messages to {output} and its environment to {env_file}", markup=False)


# [end: generate]


# [command: replay]
@app.command()
def replay(
    captures: Annotated[
        list[str], typer.Argument(help="Capture files, or scenario:NAME to generate one.")
    ],
    format: Annotated[str, typer.Option("--format", help="Capture format or auto.")] = "auto",
    config: ConfigOption = None,
    set_: SetOption = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Environment seed.")] = None,
    arms: Annotated[
        str | None, typer.Option("--arms", help="Comma-separated arms (default legacy,unified).")
    ] = None,
    stage: Annotated[
        list[int] | None, typer.Option("--stage", help="Rollout stage in percent (repeatable).")
    ] = None,
    flag: Annotated[str | None, typer.Option("--flag", help="Feature flag name.")] = None,
    provider: Annotated[
        str | None, typer.Option("--provider", help="unleash, launchdarkly or flagd.")
    ] = None,
    flip_at: Annotated[
        str | None, typer.Option("--flip-at", help="Virtual time of the flip (e.g. 30m).")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Run folder.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing run folder.")] = False,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes.")] = None,
    on_error: Annotated[
        str, typer.Option("--on-error", help="fail (stop at a bad line) or skip.")
    ] = "fail",
    keep_raw: Annotated[
        bool, typer.Option("--keep-raw", help="Keep raw contact ids and texts in the run.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Replay captures through every arm in virtual time, compare, write the run folder.

    Example: shadow replay capture.jsonl --stage 10 --stage 50
    """
    from shadow.replay import ReplayOptions
    from shadow.replay import replay as run_replay

    if on_error not in ("fail", "skip"):
        raise UsageError(f"--on-error: {on_error!r} is not one of fail, skip")
    policy: Literal["fail", "skip"] = "skip" if on_error == "skip" else "fail"
    options = ReplayOptions(
        inputs=captures,
        format=format,
        config_file=config,
        sets=list(set_ or []),
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
        keep_raw=keep_raw,
    )
    started = time.perf_counter()
    if json_ or not err.is_terminal:
        plain = _ReplayProgress()
        summary = run_replay(options, plain.note, plain.advance)
    else:
        summary = _replay_with_bar(options, run_replay)
    if json_:
        print_json(summary)
        return
    render_replay_summary(summary, time.perf_counter() - started)


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
    with Progress(*columns, console=err) as bar:
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
    pairs.add_column("kinds")
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
        for column in (
            "signature",
            "count",
            "severity",
            "kinds",
            "baseline cause",
            "candidate cause",
        ):
            top.add_column(column)
        for sig in summary["top_signatures"][:8]:
            top.add_row(
                sig["signature"],
                str(sig["count"]),
                sig["severity"],
                ",".join(sig["kinds"]),
                sig["baseline_cause"] or "-",
                sig["candidate_cause"] or "-",
            )
        out.print(top)
    out.print(f"run folder: {summary['run_dir']}  ({seconds:.1f} s)", markup=False)
    out.print(f"next: shadow explain {summary['run_dir']} --seq N", markup=False)


# [end: replay]


# [command: explain]
@app.command()
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
        cells[index] = escape(f"{layer}{event.kind} #{seqs_text}{rule}")
        events.add_row(f"{at / 1e6:.3f}s", *cells)
    out.print(events)


# [end: explain]


# [command: report]
@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by shadow replay.")],
    html: Annotated[
        Path | None, typer.Option("--html", help="HTML output (default RUN_DIR/report.html).")
    ] = None,
    md: Annotated[
        Path | None, typer.Option("--md", help="Markdown output (default RUN_DIR/report.md).")
    ] = None,
    show_text: Annotated[
        bool,
        typer.Option("--show-text", help="Show message texts and raw ids (needs --keep-raw)."),
    ] = False,
) -> None:
    """(Re)render the approvers' reports of a run: report.md and a self-contained report.html.

    Example: shadow report build/shadow/capture --html /tmp/report.html
    """
    from reports import render_run

    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such run folder")
    html_file = html or run_dir / "report.html"
    md_file = md or run_dir / "report.md"
    render_run(run_dir, html=html_file, md=md_file, show_text=show_text)
    out.print(f"wrote {md_file} and {html_file}", markup=False)


# [end: report]


# [command: bench]
@app.command()
def bench(
    messages: Annotated[int, typer.Option("--messages", help="Stream messages.")] = 200_000,
    contacts: Annotated[int, typer.Option("--contacts", help="Distinct contacts.")] = 5_000,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes.")] = None,
    json_: JsonOption = False,
) -> None:
    """Throughput and peak memory of a full replay (legacy, unified, comparator).

    Example: shadow bench --messages 200000
    """
    from shadow.bench import run_bench

    if messages < 1 or contacts < 1:
        raise UsageError("--messages and --contacts must be at least 1")
    result = run_bench(messages, contacts, workers)
    if json_:
        print_json(result)
        return
    out.print(
        f"{result['messages']} messages, {result['contacts']} contacts, arms legacy+unified: "
        f"{result['wall_s']} s wall, {result['messages_per_s']} messages/s, "
        f"peak RSS {result['peak_rss_mb']} MB",
        markup=False,
    )
    build = "compiled (make fast)" if result["compiled"] else "pure Python"
    out.print(f"phases: {result['phases']}; core: {build}", markup=False)


# [end: bench]


# [command: rollout]
@app.command()
def rollout(
    capture: Annotated[Path, typer.Argument(help="A capture file (production contact ids).")],
    flag: Annotated[str, typer.Option("--flag", help="The flag name (Unleash group id).")],
    provider: Annotated[
        str, typer.Option("--provider", help="unleash, launchdarkly or flagd.")
    ] = "unleash",
    group_id: Annotated[
        str | None, typer.Option("--group-id", help="Unleash groupId (default: the flag name).")
    ] = None,
    salt: Annotated[
        str | None, typer.Option("--salt", help="LaunchDarkly: the flag's salt.")
    ] = None,
    algorithm: Annotated[
        str | None, typer.Option("--algorithm", help="flagd: v2 (default) or v1.")
    ] = None,
    stages: Annotated[
        str, typer.Option("--stages", help="Comma-separated percentages.")
    ] = "10,50,100",
    buckets: Annotated[
        Path | None, typer.Option("--buckets", help="Write contact_id,bucket CSV here.")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="Capture format (auto).")] = "auto",
    json_: JsonOption = False,
) -> None:
    """Who is in each stage's cohort, by the production flag's own bucketing.

    Example: shadow rollout capture.jsonl --flag USE_UNIFIED_COORDINATOR --stages 10,50,100
    """
    from shadow.rollout import (
        RolloutSettings,
        buckets_csv,
        cohorts_of_entries,
        contact_buckets,
        entry_stage,
        fingerprint,
        parse_stages,
    )
    from shadow.streams import read_captures

    settings = RolloutSettings(
        provider=provider, flag=flag, group_id=group_id, salt=salt, algorithm=algorithm
    )
    stage_list = parse_stages(stages)
    loaded = read_captures([capture], format=format, on_error="fail")
    contact_ids = [record.contact_id for record in loaded.inbound]
    carried = {r.contact_id: r.bucket for r in loaded.inbound if r.bucket is not None}
    order, messages = contact_buckets(contact_ids, settings)
    if carried:
        # a redacted capture: ids are pseudonyms, each line carries the real id's bucket
        header = loaded.fingerprint or {}
        if header.get("id") != fingerprint(settings)["id"]:
            raise UsageError(
                f"{capture}: redacted with flag fingerprint {header.get('id')}, not "
                f"{fingerprint(settings)['id']}: its buckets are for another flag setting"
            )
        order = [(contact, carried.get(contact, value)) for contact, value in order]
        entries = [(contact, int(value)) for contact, value in order]
    else:
        entries = [(contact, entry_stage(value, settings)) for contact, value in order]
    summary: dict[str, Any] = {
        "provider": settings.provider,
        "fingerprint": fingerprint(settings),
        "stages": [c.to_dict() for c in cohorts_of_entries(entries, messages, stage_list)],
    }
    if buckets is not None:
        try:
            with buckets.open("w", encoding="utf-8", newline="") as handle:
                handle.write(buckets_csv(order))
        except OSError as exc:
            raise UsageError(f"--buckets {buckets}: {exc.strerror}") from None
    if json_:
        print_json(summary)
        return
    print_fp = summary["fingerprint"]
    out.print(
        f"{len(order)} contacts, {len(contact_ids)} messages; {settings.provider} flag "
        f"{settings.flag!r}, fingerprint {print_fp['id']}",
        markup=False,
    )
    for row in summary["stages"]:
        nested = {True: "nested in next", False: "NOT nested in next", None: ""}[
            row["nested_in_next"]
        ]
        out.print(
            f"  {row['stage']:>3}%: {row['contacts']} contacts, {row['messages']} messages"
            f"  {nested}",
            markup=False,
        )


# [end: rollout]


# [command: gate]
@app.command()
def gate(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by shadow replay.")],
    stage: Annotated[int, typer.Option("--stage", help="The stage the flip goes to (percent).")],
    policy: Annotated[
        Path | None, typer.Option("--policy", help="Policy YAML (default: bundled stage-P).")
    ] = None,
    previous: Annotated[
        Path | None,
        typer.Option("--previous", help="The previous stage's gate-Q.json (flag fingerprint)."),
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
    import os

    from reports import render_gate_summary, render_junit
    from shadow.gate import (
        GateOptions,
        GateVerdict,
        evaluate,
        load_gate_input,
        load_policy,
        read_previous,
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
    # the explain commands name the folder as the user would type it, never an absolute path
    try:
        run_ref = os.path.relpath(run_dir.resolve(), Path.cwd())
    except ValueError:
        run_ref = str(run_dir)
    if run_ref.startswith(".."):
        run_ref = str(run_dir)
    loaded = load_policy(policy, stage)
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
    for target, content in (
        (run_dir / f"gate-{stage}.json", text),
        (junit, render_junit(document) if junit else ""),
        (summary, render_gate_summary(document) if summary else ""),
    ):
        if target is None:
            continue
        try:
            with target.open("w", encoding="utf-8", newline="\n") as handle:
                handle.write(content)
        except OSError as exc:
            raise UsageError(f"cannot write {target}: {exc.strerror}") from None
    # the run's reports lead with the verdict: refresh them now that gate-P.json exists
    if (run_dir / "report.html").exists() or (run_dir / "report.md").exists():
        from reports import render_run

        try:
            render_run(run_dir)
        except Exception as exc:  # the verdict stands; the report can be redone
            err.print(f"warning: report not refreshed ({exc}); run shadow report {run_ref}")
    if json_:
        print_json(document)
    else:
        for check in document["checks"]:
            out.print(f"{check['verdict']:<12} {check['name']}: {check['reason']}", markup=False)
        out.print(f"gate stage {stage}: {report.verdict}", markup=False)
    if report.exit_status:
        raise GateVerdict(stage, report.verdict, document["reasons"])


# [end: gate]


# [command: sweep]
@app.command()
def sweep(
    capture: Annotated[
        str,
        typer.Argument(help="A capture file, scenario:NAME or a built-in scenario name."),
    ],
    vary: Annotated[
        list[str] | None,
        typer.Option(
            "--vary",
            help="A config key and its values: KEY=V1,V2,... (repeatable; every combination "
            "is replayed).",
        ),
    ] = None,
    seeds: Annotated[
        int,
        typer.Option(
            "--seeds",
            help="Environment seeds 1..N per combination (a scenario is regenerated per seed).",
        ),
    ] = 5,
    objective: Annotated[
        str | None,
        typer.Option(
            "--objective",
            help="How to rank values, lexicographic on seed means: comma-separated metrics, "
            "each optionally prefixed min: or max: (held until the next prefix). Default "
            "min:regressions,duplicate_processing (fewest regressions, then fewest "
            "duplicates processed).",
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Sweep folder (default build/shadow/sweep-<input stem>)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing sweep folder.")
    ] = False,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes.")] = None,
    json_: JsonOption = False,
) -> None:
    """Replay every combination of config values (x N seeds) and tabulate outcomes per value.

    Example: shadow sweep scenario:duplicate-window-question
    --vary unified.duplicate_window=3s,5s,10s,20s,30s --seeds 5
    """
    from shadow.sweep import parse_vary, run_sweep

    if not vary:
        raise UsageError("give at least one --vary KEY=V1,V2,...")
    parsed = [parse_vary(text) for text in vary]
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if json_ or not err.is_terminal:
            progress: Any = lambda m: err.print(f"sweep: {m}", markup=False)  # noqa: E731
        else:
            status = stack.enter_context(err.status("sweeping..."))
            progress = lambda m: status.update(f"sweep: {m}")  # noqa: E731
        result = run_sweep(
            capture, parsed, seeds, objective, workers, out_dir, force=force, progress=progress
        )
    if json_:
        print_json(result.document)
        return
    render_sweep_summary(result, time.perf_counter() - started)


def render_sweep_summary(result: Any, seconds: float) -> None:
    """The summary table (seed means, min-max) and the best-value sentence."""
    from shadow.sweep import ARM_METRICS, format_metric, metric_words

    columns = ["regressions", "new_failures", *(f"unified.{m}" for m in ARM_METRICS)]
    rank_of = {index: place + 1 for place, index in enumerate(result.ranking)}
    rows = []
    for index, combo in enumerate(result.combos):
        summary = result.summary.iloc[index]
        cells = []
        for column in columns:
            mean, low, high = (float(summary[f"{column}_{s}"]) for s in ("mean", "min", "max"))
            text = format_metric(column, mean)
            if low != high:
                text += f" ({format_metric(column, low)}-{format_metric(column, high)})"
            cells.append(text)
        rows.append([str(rank_of[index]), *combo, *cells])
    heads = ["rank", *result.keys, *(metric_words(c) for c in columns)]
    if out.is_terminal:
        from rich.table import Table

        table = Table(title=f"seed means over {result.seeds} seeds (min-max)")
        for index, head in enumerate(heads):
            table.add_column(head, justify="left" if 0 < index <= len(result.keys) else "right")
        for row in rows:
            table.add_row(*row)
        out.print(table)
    else:
        out.print("\t".join(heads), markup=False)
        for row in rows:
            out.print("\t".join(row), markup=False)
    out.print(result.sentence, markup=False)
    out.print(f"sweep folder: {result.out}  ({seconds:.1f} s)", markup=False)


# [end: sweep]


def main() -> None:
    """Console entry point: maps errors to exit statuses; never prints a traceback."""
    try:
        app(standalone_mode=False)
    except ShadowError as exc:
        # a verdict (gate fail, validate's bad lines) is a result, not an error
        label = "error" if exc.exit_code >= 3 else "result"
        err.print(f"{label}: {exc.message}", markup=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except typer.TyperException as exc:  # click's usage errors: bad option, missing argument
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        sys.exit(0 if type(exc).__name__ == "NoArgsIsHelpError" else 3)
    except SystemExit:
        raise
    except Exception as exc:
        _crash(exc)


def _crash(exc: BaseException) -> None:
    crash_dir = Path(getattr(exc, "run_dir", None) or ".")
    crash_file = crash_dir / "crash.txt"
    try:
        crash_file.write_text("".join(traceback.format_exception(exc)))
        where = f" (traceback in {crash_file})"
    except OSError:
        where = ""
    err.print(f"internal error: {type(exc).__name__}: {exc}{where}", markup=False)
    sys.exit(4)


if __name__ == "__main__":
    main()
