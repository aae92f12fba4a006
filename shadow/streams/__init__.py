"""Capture readers and the normalized stream (formats.md).

``read_captures`` reads capture files of any known format into a ``Capture``: inbound and
outbound records sorted by time, the line accounting, rejected lines and warnings.
"""

from shadow.streams.base import LINE_KINDS, ReadOptions
from shadow.streams.expect import parse_expectation
from shadow.streams.fields import iso_utc
from shadow.streams.generate import generate_to_file
from shadow.streams.loadgen import steady_load
from shadow.streams.normalize import Capture, read_captures
from shadow.streams.parquet import (
    OUTBOUND_SCHEMA,
    STREAM_SCHEMA,
    Pseudonyms,
    outbound_columns,
    record_columns,
    stream_columns,
    write_parquet,
)
from shadow.streams.record import InboundRecord, OutboundRecord, Rejected
from shadow.streams.redact import REDACT_KEY_ENV, Redactor, write_redacted
from shadow.streams.scenarios import builtin_names, list_scenarios, load_scenario
from shadow.streams.validate import validate_document

__all__ = [
    "LINE_KINDS",
    "OUTBOUND_SCHEMA",
    "REDACT_KEY_ENV",
    "STREAM_SCHEMA",
    "Capture",
    "InboundRecord",
    "OutboundRecord",
    "Pseudonyms",
    "ReadOptions",
    "Redactor",
    "Rejected",
    "builtin_names",
    "generate_to_file",
    "iso_utc",
    "list_scenarios",
    "load_scenario",
    "outbound_columns",
    "parse_expectation",
    "read_captures",
    "record_columns",
    "steady_load",
    "stream_columns",
    "validate_document",
    "write_parquet",
    "write_redacted",
]
