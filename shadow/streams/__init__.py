"""Capture readers and the normalized stream (formats.md).

``read_captures`` reads capture files of any known format into a ``Capture``: inbound and
outbound records sorted by time, the line accounting, rejected lines and warnings.
"""

from shadow.streams.base import ReadOptions
from shadow.streams.normalize import Capture, read_captures
from shadow.streams.record import InboundRecord, OutboundRecord, Rejected

__all__ = [
    "Capture",
    "InboundRecord",
    "OutboundRecord",
    "ReadOptions",
    "Rejected",
    "read_captures",
]
