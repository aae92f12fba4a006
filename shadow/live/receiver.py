"""``shadow serve``: a Starlette app that stores mirrored webhook POSTs as capture lines.

Guarantees:

1. A line is written exactly as docs/capture.md's middleware writes it: Cloud API
   ``{"received_at", "headers": {"x-hub-signature-256"}, "body": <raw string>}``; Twilio
   ``{"received_at", "body": <raw urlencoded string>}``, with ``url`` and
   ``headers: {"x-twilio-signature"}`` when the receiver verified it (so a read with the
   token verifies it again); Evolution the POST's JSON object on one
   line with ``received_at`` first. ``received_at`` is the arrival time in UTC, ms precision.
2. A 2xx is sent only once the line is durable (``CaptureLog``); nothing else is acknowledged.
3. A bad signature gets 401 and a bad body (not UTF-8, not the provider's JSON or form shape,
   over 2 MB) 400 or 413; neither is stored, logged or echoed.
4. Secrets are never written: the only headers kept are the signatures (HMACs of the body,
   which ``validate`` and ``replay`` re-check; no secret); in Evolution's envelope every
   field with a secret name (``shadow.common.SECRET_NAMES``: ``apikey``...) is dropped and
   credentials inside its other strings (``server_url``'s ``?token=``) become ``<secret>``;
   ``Authorization`` and ``apikey`` headers are never read into a line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from shadow.common import is_secret_name, scrub_secrets
from shadow.live.capture_log import CaptureLog
from shadow.streams import SignatureError, verify_signature

MAX_BODY = 2 * 1024 * 1024  # the middleware's express.raw limit
#: Payload fields that hold a credential: dropped before a line is written. (Minimal until the
#: streams package's shared list of secret names lands; headers are never copied but one.)
KEPT_HEADER = "x-hub-signature-256"
TWILIO_HEADER = "x-twilio-signature"

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class ReceiverSettings:
    """Secrets come from the environment (the CLI reads them); ``None`` skips that check."""

    app_secret: str | None = None  # SHADOW_APP_SECRET: Cloud API X-Hub-Signature-256
    verify_token: str | None = None  # SHADOW_VERIFY_TOKEN: Cloud API GET hub.verify_token
    twilio_token: str | None = None  # SHADOW_TWILIO_AUTH_TOKEN: X-Twilio-Signature
    twilio_url: str | None = None  # the URL configured in Twilio (what it signs)
    evolution_apikey: str | None = None  # SHADOW_EVOLUTION_APIKEY: Evolution's apikey
    cloud_path: str = "/cloud"
    evolution_path: str = "/evolution"
    twilio_path: str = "/twilio"


class ReceiverCounts:
    """Requests by provider and status, and lines and fsyncs, served at ``/metrics``."""

    def __init__(self, log: CaptureLog) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "shadow_serve_requests",
            "Webhook requests by provider and answer status",
            ["provider", "status"],
            registry=self.registry,
        )
        gauge = Gauge("shadow_serve_lines", "Capture lines written", registry=self.registry)
        gauge.set_function(lambda: log.lines_written)
        fsyncs = Gauge("shadow_serve_fsyncs", "fsync calls (group commits)", registry=self.registry)
        fsyncs.set_function(lambda: log.fsyncs)

    def note(self, provider: str, status: int) -> None:
        self.requests.labels(provider, str(status)).inc()


def arrival(clock: Clock) -> tuple[str, str]:
    """``(received_at, day)``: ``new Date().toISOString()``'s spelling, and the UTC date."""
    now = clock().astimezone(dt.UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    return stamp, now.strftime("%Y-%m-%d")


def js_line(obj: dict[str, Any]) -> str:
    """``JSON.stringify(obj)``: compact, non-ASCII kept, key order kept."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _verify(line: dict[str, Any], fmt: str, secret: str | None, token: str | None) -> None:
    """The same check as a read of the stored line (``shadow.streams``): one implementation."""
    try:
        verify_signature(line, fmt, secret, token)
    except SignatureError as exc:
        raise _Refused(401, exc.reason) from None


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise _Refused(413, "body over 2 MB")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise _Refused(413, "body over 2 MB")
    return raw


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused(400, "body is not UTF-8") from None


def _json_object(text: str) -> dict[str, Any]:
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        raise _Refused(400, "body is not JSON") from None
    if not isinstance(obj, dict):
        raise _Refused(400, "body is not a JSON object")
    return obj


def cloud_line(raw: bytes, headers: dict[str, str], settings: ReceiverSettings, at: str) -> str:
    text = _text(raw)
    line = {"received_at": at, "headers": {KEPT_HEADER: headers.get(KEPT_HEADER)}, "body": text}
    _verify(line, "cloud", settings.app_secret, None)
    if not isinstance(_json_object(text).get("entry"), list):
        raise _Refused(400, "not a Cloud API webhook (no entry list)")
    return js_line(line)


def evolution_line(raw: bytes, headers: dict[str, str], settings: ReceiverSettings, at: str) -> str:
    obj = _json_object(_text(raw))
    if not isinstance(obj.get("event"), str) or "data" not in obj:
        raise _Refused(400, "not an Evolution webhook (no event and data)")
    if settings.evolution_apikey:
        given = headers.get("apikey") or obj.get("apikey")
        if not isinstance(given, str) or not hmac.compare_digest(given, settings.evolution_apikey):
            raise _Refused(401, "apikey does not match")
    # the envelope around ``data`` carries the gateway's credentials (``apikey``, a
    # ``server_url`` with ``?token=``): dropped or scrubbed; the message itself is kept as sent
    kept = {
        key: scrub_secrets(value) if isinstance(value, str) else value
        for key, value in obj.items()
        if not is_secret_name(key) and key != "received_at"
    }
    return js_line({"received_at": at, **kept})


def twilio_line(
    raw: bytes, headers: dict[str, str], settings: ReceiverSettings, at: str, url: str
) -> str:
    text = _text(raw)
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except ValueError:
        raise _Refused(400, "body is not urlencoded") from None
    signed = settings.twilio_url or url
    line = {
        "received_at": at,
        "url": signed,
        "headers": {TWILIO_HEADER: headers.get(TWILIO_HEADER, "")},
        "body": text,
    }
    _verify(line, "twilio", None, settings.twilio_token)
    names = {key for key, _ in pairs}
    if not names & {"MessageSid", "SmsMessageSid", "MessageStatus"}:
        raise _Refused(400, "not a Twilio webhook (no MessageSid)")
    if settings.twilio_token:  # verified here, so a read with the token verifies it again
        return js_line(line)
    return js_line({"received_at": at, "body": text})


def build_app(
    log: CaptureLog,
    settings: ReceiverSettings,
    clock: Clock,
) -> Starlette:
    """The receiver: POST routes per provider, the Cloud API GET verification, ``/healthz``
    and ``/metrics`` (requests by provider and status, lines, fsyncs)."""
    tally = ReceiverCounts(log)

    def handler(provider: str) -> Callable[[Request], Any]:
        async def post(request: Request) -> Response:
            headers = {key.lower(): value for key, value in request.headers.items()}
            try:
                raw = await _body(request)
                at, day = arrival(clock)
                if provider == "cloud":
                    line = cloud_line(raw, headers, settings, at)
                elif provider == "evolution":
                    line = evolution_line(raw, headers, settings, at)
                else:
                    line = twilio_line(raw, headers, settings, at, str(request.url))
            except _Refused as refused:
                tally.note(provider, refused.status)
                return PlainTextResponse(refused.reason, status_code=refused.status)
            try:
                await log.append(provider, day, line)
            except OSError:
                tally.note(provider, 503)
                return PlainTextResponse("capture write failed", status_code=503)
            tally.note(provider, 200)
            if provider == "twilio":  # an empty TwiML answer: the mirror must not reply twice
                return Response("<Response/>", media_type="application/xml")
            return PlainTextResponse("ok")

        return post

    async def verify(request: Request) -> Response:
        query = request.query_params
        token = settings.verify_token
        if (
            token
            and query.get("hub.mode") == "subscribe"
            and hmac.compare_digest(query.get("hub.verify_token", ""), token)
        ):
            return PlainTextResponse(query.get("hub.challenge", ""))
        return PlainTextResponse("verification refused", status_code=403)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(tally.registry), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route(settings.cloud_path, handler("cloud"), methods=["POST"]),
        Route(settings.cloud_path, verify, methods=["GET"]),
        Route(settings.evolution_path, handler("evolution"), methods=["POST"]),
        # Evolution's "webhook by events" appends the event's name to the URL
        Route(settings.evolution_path + "/{event:path}", handler("evolution"), methods=["POST"]),
        Route(settings.twilio_path, handler("twilio"), methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        log.close()

    return Starlette(routes=routes, lifespan=lifespan)
