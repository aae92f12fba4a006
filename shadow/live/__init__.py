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
from shadow.live.journal import line_time
from shadow.live.metrics import WatchMetrics, serve_metrics
from shadow.live.receiver import (
    ReceiverCounts,
    ReceiverSettings,
    build_app,
)
from shadow.live.watch import Watcher, WatchOptions, iso_us

__all__ = [
    "DEFAULT_POLICY",
    "HARM_FATES",
    "AlertCheck",
    "AlertPolicy",
    "CaptureLog",
    "Delivery",
    "ReceiverCounts",
    "ReceiverSettings",
    "Transition",
    "WatchMetrics",
    "WatchOptions",
    "Watcher",
    "WebhookSender",
    "build_app",
    "evaluate",
    "iso_us",
    "line_time",
    "parse_alert_policy",
    "serve_metrics",
]
