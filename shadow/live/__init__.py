"""Live shadow: the webhook receiver (``shadow serve``), following a growing capture into a
run folder (``shadow watch``), alerts over sliding windows of capture time, and metrics.

Sits above ``shadow.replay``: a watch cycle is a replay of the settled capture prefix.
"""

from shadow.live.capture_log import CaptureLog
from shadow.live.receiver import (
    SECRET_FIELDS,
    ReceiverCounts,
    ReceiverSettings,
    build_app,
    twilio_signature,
)

__all__ = [
    "SECRET_FIELDS",
    "CaptureLog",
    "ReceiverCounts",
    "ReceiverSettings",
    "build_app",
    "twilio_signature",
]
