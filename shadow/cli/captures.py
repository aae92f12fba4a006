"""Commands over capture files: ``validate``, ``redact``, ``scenarios``, ``generate``, and the
reader options they share with ``replay``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shadow.cli.output import JsonOption, StrictOption, err, out, print_json
from shadow.common import UsageError

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
    tz: str, contact: str | None, me: str | None, merge_ninth: bool, strict: bool = False
) -> Any:  # -> shadow.streams.ReadOptions (lazy import keeps --help fast)
    """Reader options from the command line; the signature secrets from the environment."""
    from shadow.streams import ReadOptions

    return ReadOptions.from_environment(
        tz=tz, contact=contact, me=me, merge_br_ninth_digit=merge_ninth, strict=strict
    )


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
    strict: StrictOption = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="List every bad line, not the first five per reason.")
    ] = False,
) -> None:
    """Check captures without running them: line kinds, counts, time span, bad lines by reason.

    Example: shadow validate webhooks.jsonl --on-error skip
    """
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
        options=read_options(tz, contact, me, merge_br_ninth_digit, strict),
    )
    for warning in capture.warnings:
        err.print(f"warning: {warning}", markup=False)
    if json_output:
        print_json(validate_document(capture))
    else:
        for table in _validate_tables(capture, show_all):
            out.print(table)
    if capture.rejected:
        raise CheckFailed(f"{len(capture.rejected)} bad line(s) in the capture")


def _validate_tables(capture: Any, show_all: bool = False) -> list[Any]:
    """The human view of ``validate``: per-file and total counts, types and span, bad lines
    grouped by reason (each one with ``show_all``). The event kinds and unknown types are shown
    when the capture has events, as in ``--json``."""
    from rich.table import Table

    from shadow.streams import (
        CLASSIC_LINE_KINDS,
        EVENT_KINDS,
        LINE_KINDS,
        iso_utc,
        rejection_groups,
    )

    events = capture.accounting.total.has_events
    line_kinds = LINE_KINDS if events else CLASSIC_LINE_KINDS
    items = ("messages", "receipts", "outbound", "redeliveries", "groups", "contacts")
    event_items = EVENT_KINDS if events else ()

    def column(counts: Any) -> list[str]:
        kinds = [str(counts.line_kinds.get(kind, 0)) for kind in line_kinds]
        return [
            counts.format,
            str(counts.lines),
            *kinds,
            *(str(getattr(counts, name)) for name in items),
            *(str(counts.events[kind]) for kind in event_items),
        ]

    files = capture.accounting.files
    columns = [(Path(counts.file).name, column(counts)) for counts in files]
    if len(files) > 1:
        columns.append(("total", column(capture.accounting.total)))
    counts = Table(title="Capture lines and items")
    counts.add_column("")
    for name, _ in columns:
        counts.add_column(name, justify="right")
    labels = ["format", "lines", *(f"  {kind}" for kind in line_kinds)]
    labels += [f"{name} skipped" if name == "groups" else name for name in items]
    labels += [f"{kind} events" for kind in event_items]
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
    if total.unknown_types:
        unknown = Table(title="Unknown types (counted; --strict rejects them)")
        unknown.add_column("type")
        unknown.add_column("items", justify="right")
        for name, number in sorted(total.unknown_types.items()):
            unknown.add_row(name, str(number))
        tables.append(unknown)
    if capture.rejected and show_all:
        bad = Table(title=f"Rejected lines ({len(capture.rejected)})")
        bad.add_column("file:line")
        bad.add_column("reason")
        for item in capture.rejected:
            bad.add_row(f"{item.file}:{item.line}", item.reason)
        tables.append(bad)
    elif capture.rejected:
        bad = Table(title=f"Rejected lines ({len(capture.rejected)}) by reason; --all lists each")
        bad.add_column("reason")
        bad.add_column("lines", justify="right")
        bad.add_column("first")
        for group in rejection_groups(capture.rejected):
            bad.add_row(group.reason, str(group.count), ", ".join(group.first))
        tables.append(bad)
    return tables


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
    err.print(
        "signature headers dropped: the redacted capture can no longer be verified (this read "
        "verified them when SHADOW_APP_SECRET or SHADOW_TWILIO_AUTH_TOKEN was set)",
        markup=False,
    )


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
