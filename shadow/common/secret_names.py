"""The one list of secret names, and the scrubbing of their values out of a text.

Guarantees:

1. ``SECRET_NAMES`` is the only list of names whose values are secrets: credentials in
   headers, bodies, query strings and form fields (``Authorization``, ``apikey``,
   ``x-api-key``, ``X-Hub-Signature*``, ``X-Twilio-Signature``, ``client-token``,
   ``access_token``, and every name ending in token, secret, password or signature). A name
   matches whatever its case and whether it spells words with ``-``, ``_`` or nothing.
2. ``scrub_secrets`` replaces the value of every secret name in a text by ``<secret>``: JSON
   pairs (at any depth of string escaping, so a JSON body logged inside a JSON string is
   scrubbed too), query-string and form pairs, header-style ``name: value`` pairs, and
   ``Bearer``/``Basic`` credentials. Everything else is left byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fnmatch import fnmatchcase

SECRET = "<secret>"

#: Glob patterns over a name lower-cased with ``_`` spelled ``-`` (guarantee 1).
SECRET_NAMES: tuple[str, ...] = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "*apikey",
    "*api-key",
    "x-hub-signature*",
    "*signature",
    "*token",
    "*secret",
    "*password",
    "passwd",
    "appsecret-proof",
    "mediakey",
)


def is_secret_name(name: str) -> bool:
    """Does ``name`` (a header, field or parameter name) hold a secret? (guarantee 1)"""
    folded = name.strip().lower().replace("_", "-")
    return any(fnmatchcase(folded, pattern) for pattern in SECRET_NAMES)


_NAME = r"[A-Za-z0-9_.\-]+"
# the key of a JSON pair, its quotes escaped N times (a JSON body logged inside a JSON string)
_JSON_KEY = re.compile(r"(?P<q>\\*)\"(?P<name>" + _NAME + r")(?P=q)\"\s*:\s*")
_BARE = re.compile(r"[^,}\]\s\\\"]+")
# name=value in a query string or a urlencoded form
_FORM_PAIR = re.compile(r"(?<![A-Za-z0-9_.\-])(?P<name>" + _NAME + r")=(?P<value>[^&#\s\"'\\]*)")
# name: value in a header dump
_HEADER_PAIR = re.compile(
    r"(?<![A-Za-z0-9_.\-\"\\])(?P<name>" + _NAME + r")\s*:\s*(?P<value>[^\s\"',;}\]\\]+)"
)
_CREDENTIAL = re.compile(r"(?i)\b(?P<scheme>bearer|basic)\s+(?P<value>[A-Za-z0-9._~+/=\-]+)")
# user:password@ in a URL
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*:(?:\\?/){2})[^/@\s\"']+@")


def _value_end(text: str, start: int, level: int) -> int:
    """The end of the JSON string value whose opening quote (escaped ``level`` times) ends at
    ``start``: its closing quote has exactly ``level`` backslashes before it; -1 if none."""
    at = start
    while (at := text.find('"', at)) >= 0:
        slashes = 0
        while at - slashes - 1 >= start and text[at - slashes - 1] == "\\":
            slashes += 1
        if slashes == level:
            return at - level
        at += 1
    return -1


def _scrub_json_pairs(text: str) -> str:
    parts: list[str] = []
    done = 0
    for match in _JSON_KEY.finditer(text):
        if match.start() < done or not is_secret_name(match["name"]):
            continue
        quote = match["q"] + '"'
        at = match.end()
        if text.startswith(quote, at):
            end = _value_end(text, at + len(quote), len(match["q"]))
            if end < 0:  # cut off: everything after the key is the secret
                end = len(text)
            parts += [text[done:at], quote, SECRET]
            done = end
        elif bare := _BARE.match(text, at):
            parts += [text[done:at], quote, SECRET, quote]
            done = bare.end()
    parts.append(text[done:])
    return "".join(parts)


def _pair(separator: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        if not is_secret_name(match["name"]) or match["value"] == SECRET:
            return match[0]
        return f"{match['name']}{separator}{SECRET}"

    return replace


def scrub_secrets(text: str) -> str:
    """``text`` with the value of every secret name replaced by ``<secret>`` (guarantee 2)."""
    text = _scrub_json_pairs(text)
    text = _CREDENTIAL.sub(lambda m: f"{m['scheme']} {SECRET}", text)
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{SECRET}@", text)
    text = _FORM_PAIR.sub(_pair("="), text)
    return _HEADER_PAIR.sub(_pair(": "), text)
