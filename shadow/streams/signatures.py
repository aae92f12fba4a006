"""Webhook signatures, verified on every read of a line when its secret is known.

Guarantees:

1. Cloud API: a line logged with its headers (``{received_at, headers, body}``) carrying
   ``X-Hub-Signature-256`` (else the older ``X-Hub-Signature``, SHA-1) is verified with the app
   secret over the raw body. A body logged as a JSON object is checked against its compact,
   ASCII-escaped serialization, which is how Meta signs [F4]; log the raw string.
2. Twilio: ``X-Twilio-Signature`` is verified with the auth token over the request URL (the
   wrapper's ``url``) followed by every form field's name and value, sorted by name.
3. ``verify_signature`` gives None when the line carries no headers or its scheme's secret is
   not given, True when the signature verifies, and raises ``SignatureError`` otherwise: the same
   line and secret give the same result in every command. A line logged with headers but
   without the signature header is rejected too, but is not a signed line (``counted`` False).
4. ``SignatureTally`` watches the first ``SAMPLE`` signed lines of a read: when more than half of
   them fail, ``verdict`` names the count and the secret to check (a wrong secret fails every
   line; one edited body fails one). It decides as soon as the outcome is certain.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from shadow.streams.keys import APP_SECRET_ENV, TWILIO_TOKEN_ENV

SAMPLE = 200

#: scheme -> (its secret's environment variable, what that secret is)
SCHEMES: dict[str, tuple[str, str]] = {
    "cloud": (APP_SECRET_ENV, "the app secret of this WhatsApp app"),
    "twilio": (TWILIO_TOKEN_ENV, "the auth token of this Twilio account"),
}


class SignatureError(Exception):
    """A signature that does not verify: the line's reason (``counted``: the line was signed)."""

    def __init__(self, reason: str, counted: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.counted = counted


def _header(headers: dict[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return value if isinstance(value, str) else ""
    return None


def _raw_body(body: Any) -> bytes:
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode()


def _verify_cloud(obj: dict[str, Any], headers: dict[str, Any], secret: str) -> bool:
    for name, digest in (
        ("x-hub-signature-256", hashlib.sha256),
        ("x-hub-signature", hashlib.sha1),
    ):
        signature = _header(headers, name)
        if signature is None:
            continue
        prefix = "sha256=" if digest is hashlib.sha256 else "sha1="
        given = signature.strip().lower().removeprefix(prefix)
        expected = hmac.new(secret.encode(), _raw_body(obj.get("body")), digest).hexdigest()
        if hmac.compare_digest(expected, given):
            return True
        raise SignatureError(
            f"{'X-Hub-Signature-256' if prefix == 'sha256=' else 'X-Hub-Signature'} does not verify"
        )
    raise SignatureError("no X-Hub-Signature-256 header", counted=False)


def _twilio_params(body: Any) -> list[tuple[str, str]]:
    if isinstance(body, str):
        return parse_qsl(body, keep_blank_values=True)
    if isinstance(body, dict):
        return [
            (str(k), v if isinstance(v, str) else str(v)) for k, v in body.items() if v is not None
        ]
    return []


def twilio_signature(url: str, pairs: list[tuple[str, str]], token: str) -> str:
    """Twilio's signature: base64 HMAC-SHA1 of the URL and the sorted POST fields."""
    signed = url + "".join(name + value for name, value in sorted(pairs))
    return base64.b64encode(
        hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()
    ).decode()


def _verify_twilio(obj: dict[str, Any], headers: dict[str, Any], token: str) -> bool:
    signature = _header(headers, "x-twilio-signature")
    if signature is None:
        raise SignatureError("no X-Twilio-Signature header", counted=False)
    url = obj.get("url")
    if not isinstance(url, str) or not url:
        raise SignatureError(
            "X-Twilio-Signature needs the request URL: log it as url", counted=False
        )
    expected = twilio_signature(url, _twilio_params(obj.get("body")), token)
    if hmac.compare_digest(expected, signature.strip()):
        return True
    raise SignatureError("X-Twilio-Signature does not verify")


def verify_signature(
    obj: dict[str, Any], fmt: str, app_secret: str | None, twilio_auth_token: str | None
) -> bool | None:
    """None: nothing to verify; True: verified; ``SignatureError`` otherwise (guarantee 3)."""
    headers = obj.get("headers")
    if not isinstance(headers, dict) or "body" not in obj:
        return None
    if fmt == "cloud" and app_secret:
        return _verify_cloud(obj, headers, app_secret)
    if fmt == "twilio" and twilio_auth_token:
        return _verify_twilio(obj, headers, twilio_auth_token)
    return None


@dataclass(slots=True)
class SignatureTally:
    """Signed lines among the first ``SAMPLE`` of a read, per scheme (guarantee 4)."""

    signed: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    last_file: dict[str, str] = field(default_factory=dict)

    def add(self, scheme: str, ok: bool, file: str) -> None:
        seen = self.signed.get(scheme, 0)
        if seen >= SAMPLE:
            return
        self.signed[scheme] = seen + 1
        if not ok:
            self.failed[scheme] = self.failed.get(scheme, 0) + 1
            self.last_file[scheme] = file

    def none_verified(self, scheme: str) -> bool:
        return self.failed.get(scheme, 0) == self.signed.get(scheme, 0)

    def hint(self, scheme: str) -> str:
        variable, what = SCHEMES[scheme]
        return (
            f"{self.failed.get(scheme, 0)} of the first {self.signed.get(scheme, 0)} signatures "
            f"do not match: is {variable} {what}?"
        )

    def verdict(self, final: bool = False) -> tuple[str, str] | None:
        """``(file, hint)`` once more than half of the first signed lines failed: certain
        when over half of ``SAMPLE`` failed, or (``final``) of the fewer lines seen."""
        for scheme, failed in sorted(self.failed.items()):
            signed = self.signed[scheme]
            if 2 * failed > SAMPLE or (final and signed < SAMPLE and 2 * failed > signed):
                return self.last_file[scheme], self.hint(scheme)
        return None
