"""Prometheus metrics and ``/healthz`` for ``shadow watch`` (and the receiver's counts).

Guarantees:

1. Every value is set from the published run folder and the watcher's own state (one source:
   the same numbers the run files hold), on a private registry: nothing global.
2. The HTTP endpoint listens only where it is told (``127.0.0.1`` by default), on a daemon
   thread; ``/metrics`` in the Prometheus text format, ``/healthz`` ``ok`` with the seconds
   since the last published cycle.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


@dataclass
class WatchMetrics:
    """The gauges ``shadow watch`` publishes; names are ``shadow_watch_*``."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.messages = Gauge(
            "shadow_watch_messages", "Messages simulated per arm", ["arm"], registry=r
        )
        self.fates = Gauge(
            "shadow_watch_fates",
            "Messages per arm and fate (harms included)",
            ["arm", "fate"],
            registry=r,
        )
        self.divergences = Gauge(
            "shadow_watch_divergences",
            "Divergent messages by pair, kind and severity",
            ["pair", "kind", "severity"],
            registry=r,
        )
        self.model_state = Gauge(
            "shadow_watch_model_state",
            "Last value of each model structure gauge",
            ["arm", "structure"],
            registry=r,
        )
        self.lag = Gauge(
            "shadow_watch_lag_seconds",
            "Capture time between the newest line and the published cutoff",
            registry=r,
        )
        self.capture_lines = Gauge(
            "shadow_watch_capture_lines", "Complete capture lines read", registry=r
        )
        self.late_lines = Gauge(
            "shadow_watch_late_lines", "Lines older than an already published cutoff", registry=r
        )
        self.firing = Gauge(
            "shadow_watch_alerts_firing",
            "1 while an alert is firing",
            ["alert", "key"],
            registry=r,
        )
        self.cycles = Counter("shadow_watch_cycles", "Published cycles", registry=r)

    def set_run(self, summary: Mapping[str, Any]) -> None:
        """From a cycle's figures (``watch.cycle_figures``)."""
        for gauge in (self.messages, self.fates, self.divergences, self.model_state, self.firing):
            gauge.clear()
        for arm, count in summary["messages"].items():
            self.messages.labels(arm).set(count)
        for (arm, fate), count in summary["fates"].items():
            self.fates.labels(arm, fate).set(count)
        for (pair, kind, severity), count in summary["divergences"].items():
            self.divergences.labels(pair, kind, severity).set(count)
        for (arm, structure), value in summary["model_state"].items():
            self.model_state.labels(arm, structure).set(value)
        for alert, key in summary["firing"]:
            self.firing.labels(alert, key).set(1)
        self.lag.set(summary["lag_s"])
        self.capture_lines.set(summary["capture_lines"])
        self.late_lines.set(summary["late_lines"])
        self.cycles.inc()


class _Handler(http.server.BaseHTTPRequestHandler):
    registry: CollectorRegistry
    health: Callable[[], dict[str, Any]]

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/metrics":
            body, kind = generate_latest(self.registry), CONTENT_TYPE_LATEST
        elif self.path.split("?")[0] == "/healthz":
            body, kind = json.dumps(self.health()).encode(), "application/json"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def serve_metrics(
    registry: CollectorRegistry,
    health: Callable[[], dict[str, Any]],
    port: int,
    host: str = "127.0.0.1",
) -> http.server.ThreadingHTTPServer:
    """Start ``/metrics`` and ``/healthz`` on a daemon thread; ``shutdown()`` stops it."""
    handler = type(
        "MetricsHandler", (_Handler,), {"registry": registry, "health": staticmethod(health)}
    )
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
