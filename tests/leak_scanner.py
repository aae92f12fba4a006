"""Looks for canary values in files and printed output, in every form a value could take.

Forms of a value: as is, NFC and NFD, casefolded and upper-cased (every form but base64 is
matched without regard to case), whitespace-normalized, digits only (for values with at least
eight digits), JSON-escaped (``\\u00e1``), URL-encoded (``%C3%A1`` and ``+`` for spaces), HTML
(``&aacute;``-free: ``&#225;``, ``&#xe1;``, ``&amp;``), and base64 (standard and URL-safe, at
the three byte alignments, so a value inside a longer encoded blob is found too). A canary's
markers (distinctive fragments) and, for texts and names, its first ten characters are
searched in the same forms, so a truncated copy is found.

Parquet files are searched in their decoded values as well as their bytes (their pages are
compressed); every file name is searched too.
"""

from __future__ import annotations

import base64
import html
import json
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

from canary_captures import Canary

_MIN_DIGITS = 8
_MIN_BASE64 = 8
_PREFIX = 10  # a text or name cut short is still found by its first characters


@dataclass(frozen=True, slots=True)
class Hit:
    where: str
    canary: str
    form: str
    context: str

    def __str__(self) -> str:
        return f"{self.where}: {self.canary} ({self.form}) in ...{self.context}..."


def _texts(value: str) -> dict[str, str]:
    nfc = unicodedata.normalize("NFC", value)
    nfd = unicodedata.normalize("NFD", value)
    found = {
        "raw": value,
        "nfd": nfd,
        "collapsed": " ".join(nfc.casefold().split()),
        "json": json.dumps(value, ensure_ascii=True)[1:-1],
        "json-nfd": json.dumps(nfd, ensure_ascii=True)[1:-1],
        "url": quote(value, safe=""),
        "url-plus": quote_plus(value),
        "url-path": quote(value),
        "html": html.escape(value),
        "html-dec": value.encode("ascii", "xmlcharrefreplace").decode(),
        "html-hex": "".join(c if ord(c) < 128 else f"&#x{ord(c):x};" for c in value),
    }
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) >= _MIN_DIGITS:
        found["digits"] = digits
    return found


def _base64_fragments(data: bytes) -> Iterator[str]:
    """The base64 characters that depend on ``data`` alone, at each of the 3 alignments."""
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + data).decode()
        first = -(-8 * pad // 6)
        last = (8 * (pad + len(data))) // 6
        fragment = encoded[first:last]
        if len(fragment) >= _MIN_BASE64:
            yield fragment
            yield fragment.replace("+", "-").replace("/", "_")


@dataclass(frozen=True, slots=True)
class Needles:
    """Every searched form of every canary, as ``(canary name, form, needle)``: ``folded``
    needles are casefolded (matched without regard to case), ``exact`` ones (base64) are not."""

    folded: tuple[tuple[str, str, str], ...]
    exact: tuple[tuple[str, str, str], ...]

    @classmethod
    def of(cls, canaries: Iterable[Canary]) -> Needles:
        folded: dict[tuple[str, str], str] = {}
        exact: dict[tuple[str, str], str] = {}
        for canary in canaries:
            pieces = [("", canary.value)]
            pieces += [(f"marker {n} ", m) for n, m in enumerate(canary.markers)]
            if canary.kind in ("text", "name"):
                pieces.append(("prefix ", canary.value[:_PREFIX]))
            for piece, value in pieces:
                for form, text in _texts(value).items():
                    folded.setdefault((canary.name, piece + form), text.casefold())
                    for n, fragment in enumerate(_base64_fragments(text.encode())):
                        exact.setdefault((canary.name, f"{piece}base64 {form} {n}"), fragment)
                    if form == "raw":
                        for n, fragment in enumerate(_base64_fragments(text.encode("utf-16-le"))):
                            exact.setdefault((canary.name, f"{piece}base64 utf-16 {n}"), fragment)
        return cls(
            tuple((name, form, needle) for (name, form), needle in folded.items() if needle),
            tuple((name, form, needle) for (name, form), needle in exact.items()),
        )


def scan_text(where: str, text: str, needles: Needles) -> list[Hit]:
    hits: list[Hit] = []
    haystack = text.casefold()
    for canary, form, needle in needles.folded:
        at = haystack.find(needle)
        if at >= 0:
            hits.append(Hit(where, canary, form, haystack[max(0, at - 40) : at + 40]))
    for canary, form, needle in needles.exact:
        at = text.find(needle)
        if at >= 0:
            hits.append(Hit(where, canary, form, text[max(0, at - 40) : at + 40]))
    return hits


def _parquet_text(path: Path) -> str:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    parts = [json.dumps(table.schema.to_string())]
    for name in table.column_names:
        parts.append(name)
        parts.extend(str(value) for value in table.column(name).to_pylist())
    return "\n".join(parts)


def file_texts(path: Path) -> Iterator[tuple[str, str]]:
    """(label, text) of everything readable in a file: its name, its bytes decoded as UTF-8
    and Latin-1, and a parquet file's values."""
    yield f"{path} (name)", path.name
    data = path.read_bytes()
    yield str(path), data.decode("utf-8", errors="replace")
    yield f"{path} (latin-1)", data.decode("latin-1")
    if path.suffix == ".parquet":
        yield f"{path} (values)", _parquet_text(path)


def scan_paths(paths: Iterable[Path], needles: Needles) -> list[Hit]:
    """Every file under the given files and folders."""
    hits: list[Hit] = []
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            for label, text in file_texts(path):
                hits.extend(scan_text(label, text, needles))
    return hits
