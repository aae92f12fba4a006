"""Alerts: the sliding-window evaluation (hysteresis, once per window, resolved), the policy's
refusals, and webhook delivery against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import http.server
import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shadow.common import InputError
from shadow.live import (
    DEFAULT_POLICY,
    Delivery,
    WebhookSender,
    evaluate,
    parse_alert_policy,
)

S = 1_000_000
POLICY = parse_alert_policy(
    "window: 10m\nstep: 1m\nchecks:\n"
    "  - {name: regressions, metric: regressions, max_count: 4, resolve_at: 1}\n"
    "  - {name: lag, metric: lag, max_lag: 2m}\n",
    "test.yaml",
)


def test_default_policy_parses() -> None:
    assert len(parse_alert_policy(DEFAULT_POLICY, "default").checks) == 6


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("checks: []", "checks"),
        ("checks: [{name: a, kinds: [nope], max_count: 1}]", "unknown divergence kind"),
        ("checks: [{name: a, metric: lag, max_count: 1}]", "max_lag"),
        ("checks: [{name: a, metric: harms, max_count: 1, colour: red}]", "colour"),
        ("window: 3\nchecks: [{name: a, metric: harms, max_count: 1}]", "window"),
        ("checks: [{name: a, metric: harms, max_count: 1, resolve_at: 2}]", "resolve_at"),
    ],
)
def test_bad_policies_are_one_line(text: str, reason: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_alert_policy(text, "p.yaml")
    assert caught.value.message.startswith("p.yaml: ") and reason in caught.value.message


def test_fires_once_resolves_with_hysteresis() -> None:
    # 6 regressions in minute 1 (fires), then 1 every 3 minutes: the count hovers around the
    # threshold without resolving until the window has emptied to at most 1
    times = [30 * S + k for k in range(6)] + [m * 60 * S for m in range(3, 30, 3)]
    found = evaluate(POLICY, {"regressions": {"legacy->unified": times}}, [], 0, 40 * 60 * S)
    states = [(t.state, t.at_us // (60 * S)) for t in found]
    assert states[0] == ("firing", 1)
    assert [s for s, _ in states].count("firing") == 1
    assert states[-1][0] == "resolved"
    resolved = found[-1]
    assert resolved.value <= 1 and resolved.threshold == 1


@given(
    st.lists(st.integers(min_value=0, max_value=3600 * S), max_size=200),
)
def test_transitions_alternate_and_fire_at_most_once_per_window(times: list[int]) -> None:
    found = evaluate(POLICY, {"regressions": {"p": times}}, [], 0, 3600 * S)
    states = [t.state for t in found]
    assert all(a != b for a, b in itertools.pairwise(states))
    assert not states or states[0] == "firing"
    fired = [t.at_us for t in found if t.state == "firing"]
    assert all(b - a >= 10 * 60 * S for a, b in itertools.pairwise(fired))
    for t in found:
        inside = sum(1 for x in times if t.at_us - 10 * 60 * S < x <= t.at_us)
        assert t.value == inside
        assert inside > 4 if t.state == "firing" else inside <= 1


def test_lag_alert_uses_the_last_sample() -> None:
    samples = [(60 * S, 30 * S), (120 * S, 200 * S), (300 * S, 50 * S)]
    found = evaluate(POLICY, {}, samples, 0, 400 * S)
    assert [(t.check, t.state, t.at_us) for t in found] == [
        ("lag", "firing", 120 * S),
        ("lag", "resolved", 300 * S),
    ]


class _Hook(http.server.BaseHTTPRequestHandler):
    statuses: ClassVar[list[int]] = []
    bodies: ClassVar[list[dict[str, Any]]] = []
    release = threading.Event()

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        type(self).release.wait(timeout=30)
        status = type(self).statuses.pop(0) if type(self).statuses else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"statuses": [], "bodies": [], "release": threading.Event()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    finally:
        handler.release.set()
        server.shutdown()
        server.server_close()


def test_webhook_retries_then_delivers_slack_payload(hook: tuple[str, type[_Hook]]) -> None:
    url, handler = hook
    handler.statuses = [500, 503]
    handler.release.set()
    sender = WebhookSender(url, timeout_s=5, retries=3, backoff_s=0.01)
    sender.submit({"message": "[firing] regressions", "alert": "regressions"})
    sender.close()
    assert sender.attempts == 3 and sender.sent == 1 and sender.failed == 0
    assert handler.bodies[-1]["text"] == "[firing] regressions"
    assert handler.bodies[-1]["alert"]["alert"] == "regressions"


def test_webhook_gives_up_after_bounded_retries(hook: tuple[str, type[_Hook]]) -> None:
    url, handler = hook
    handler.statuses = [500] * 10
    handler.release.set()
    sender = WebhookSender(url, timeout_s=5, retries=2, backoff_s=0.01)
    sender.submit({"message": "m"})
    sender.close()
    assert sender.attempts == 3 and sender.failed == 1 and len(handler.bodies) == 3


def test_delivery_never_waits_for_the_webhook(
    hook: tuple[str, type[_Hook]], tmp_path: Path
) -> None:
    """The hook server holds every request until released; delivery of more alerts than the
    queue holds returns anyway (overflow dropped and counted), before the release."""
    url, handler = hook
    sender = WebhookSender(url, timeout_s=30, retries=0, capacity=2)
    echoed: list[str] = []
    times = {
        "regressions": {"a": [30 * S] * 6, "b": [30 * S] * 6, "c": [30 * S] * 6, "d": [30 * S] * 6}
    }
    found = evaluate(POLICY, times, [], 0, 5 * 60 * S)
    delivery = Delivery(tmp_path / "alerts.jsonl", echoed.append, str, sender)
    assert delivery.deliver(found) == 4
    assert not handler.release.is_set()
    assert sender.dropped >= 1
    assert len(echoed) == 4
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["a", "b", "c", "d"]
    assert delivery.deliver(found) == 0  # already delivered: nothing twice
    handler.release.set()
    sender.close()


@given(
    st.lists(st.integers(min_value=0, max_value=3600 * S), max_size=150),
    st.lists(st.integers(min_value=0, max_value=3600 * S), min_size=1, max_size=8),
)
def test_cycle_by_cycle_delivery_equals_one_final_evaluation(
    times: list[int], cutoffs: list[int]
) -> None:
    """A watcher evaluates at growing cutoffs, seeing only events up to each: what it
    delivers over all cycles is exactly the final evaluation, each transition once."""
    delivered: list[str] = []
    seen: set[str] = set()
    for cutoff in sorted(cutoffs):
        visible = [t for t in times if t <= cutoff]
        for t in evaluate(POLICY, {"regressions": {"p": visible}}, [], 0, cutoff):
            if t.ident() not in seen:
                seen.add(t.ident())
                delivered.append(t.ident())
    final = evaluate(POLICY, {"regressions": {"p": times}}, [], 0, max(cutoffs))
    assert delivered == [t.ident() for t in final]
