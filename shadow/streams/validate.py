"""``shadow validate``: the capture's accounting as contracts.md's document, and a table.

Guarantees:

1. ``validate_document`` is exactly contracts.md's ``validate --json`` document: ``lines`` equals
   the sum of ``line_kinds``; item counts are apart; every rejected line with file, line, reason.
2. ``validate_table`` renders the same numbers per file and in total (rich), never other ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from shadow.streams.accounting import Counts
from shadow.streams.base import LINE_KINDS
from shadow.streams.fields import iso_utc
from shadow.streams.normalize import Capture


def validate_document(capture: Capture) -> dict[str, Any]:
    document = capture.accounting.total.document()
    document["rejected"] = [
        {"file": bad.file, "line": bad.line, "reason": bad.reason} for bad in capture.rejected
    ]
    return document


_ITEMS = ("messages", "receipts", "outbound", "redeliveries", "groups", "contacts")


def _column(counts: Counts) -> list[str]:
    kinds = [str(counts.line_kinds[kind]) for kind in LINE_KINDS]
    items = [str(getattr(counts, name)) for name in _ITEMS]
    return [counts.format, str(counts.lines), *kinds, *items]


def validate_table(capture: Capture) -> list[Table]:
    """The human view: per-file and total counts, types and time span, bad lines."""
    files = capture.accounting.files
    columns = [(Path(counts.file).name, _column(counts)) for counts in files]
    if len(files) > 1:
        columns.append(("total", _column(capture.accounting.total)))
    counts = Table(title="Capture lines and items")
    counts.add_column("")
    for name, _ in columns:
        counts.add_column(name, justify="right")
    labels = ["format", "lines", *(f"  {kind}" for kind in LINE_KINDS)]
    labels += [f"{name} skipped" if name == "groups" else name for name in _ITEMS]
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
