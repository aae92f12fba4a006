"""Live shadow: the webhook receiver (``shadow serve``), following a growing capture into a
run folder (``shadow watch``), alerts over sliding windows of capture time, and metrics.

Sits above ``shadow.replay``: a watch cycle is a replay of the settled capture prefix.
"""

from shadow.live.alert_policy import (
    DEFAULT_POLICY,
    HARM_FATES,
    AlertCheck,
    AlertPolicy,
    parse_alert_policy,
)
from shadow.live.alerts import Delivery, Transition, WebhookSender, evaluate
from shadow.live.capture_log import CaptureLog
from shadow.live.receiver import (
    SECRET_FIELDS,
    ReceiverCounts,
    ReceiverSettings,
    build_app,
    twilio_signature,
)

__all__ = [
    "DEFAULT_POLICY",
    "HARM_FATES",
    "SECRET_FIELDS",
    "AlertCheck",
    "AlertPolicy",
    "CaptureLog",
    "Delivery",
    "ReceiverCounts",
    "ReceiverSettings",
    "Transition",
    "WebhookSender",
    "build_app",
    "evaluate",
    "parse_alert_policy",
    "twilio_signature",
]
