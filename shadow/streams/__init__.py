"""Capture readers and the normalized stream (docs/capture.md).

``read_captures`` reads capture files of any known format into a ``Capture``: inbound and
outbound records sorted by time, the line accounting, rejected lines and warnings.
"""

from shadow.streams.base import CLASSIC_LINE_KINDS, LINE_KINDS, LineMemo, ReadOptions
from shadow.streams.expect import parse_expectation
from shadow.streams.fields import iso_utc
from shadow.streams.generate import contact_id as pool_contact
from shadow.streams.generate import generate_to_file
from shadow.streams.keys import APP_SECRET_ENV, REDACT_KEY_ENV, TWILIO_TOKEN_ENV
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
from shadow.streams.record import EVENT_KINDS, InboundRecord, OutboundRecord, Rejected
from shadow.streams.redact import Redactor, write_redacted
from shadow.streams.scenarios import builtin_names, list_scenarios, load_scenario
from shadow.streams.signatures import SignatureError, twilio_signature, verify_signature
from shadow.streams.validate import RejectionGroup, rejection_groups, validate_document

__all__ = [
    "APP_SECRET_ENV",
    "CLASSIC_LINE_KINDS",
    "EVENT_KINDS",
    "LINE_KINDS",
    "OUTBOUND_SCHEMA",
    "REDACT_KEY_ENV",
    "STREAM_SCHEMA",
    "TWILIO_TOKEN_ENV",
    "Capture",
    "InboundRecord",
    "LineMemo",
    "OutboundRecord",
    "Pseudonyms",
    "ReadOptions",
    "Redactor",
    "Rejected",
    "RejectionGroup",
    "SignatureError",
    "builtin_names",
    "generate_to_file",
    "iso_utc",
    "list_scenarios",
    "load_scenario",
    "outbound_columns",
    "parse_expectation",
    "pool_contact",
    "read_captures",
    "record_columns",
    "rejection_groups",
    "steady_load",
    "stream_columns",
    "twilio_signature",
    "validate_document",
    "verify_signature",
    "write_parquet",
    "write_redacted",
]
