"""Every documented webhook of each gateway is accounted for (issue 17, docs/capture.md).

``tests/fixtures/gateways/<format>/<event>.jsonl`` holds one file per documented event type, in
the shapes the gateway's public documentation gives (values made up); ``expected.json`` names
each file's event, the kind it maps to and every count ``validate --json`` must report for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from shadow.common import InputError
from shadow.streams import EVENT_KINDS, ReadOptions, read_captures, validate_document

FIXTURES = Path(__file__).parent.parent / "fixtures"
GATEWAYS = FIXTURES / "gateways"
EXPECTED: dict[str, dict[str, Any]] = json.loads((GATEWAYS / "expected.json").read_text())
CLOUD_EVENTS = FIXTURES / "captures" / "cloud_events.jsonl"


def shadow(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "SHADOW_REDACT_KEY"}
    return subprocess.run(
        [sys.executable, "-m", "shadow.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=600,
    )


def expected_document(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The counts the fixtures' expectations add up to, shaped like ``validate --json``."""
    kinds: Counter[str] = Counter()
    events: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    types: Counter[str] = Counter()
    for entry in entries:
        kinds.update(entry.get("line_kinds", {}))
        events.update(entry.get("events", {}))
        unknown.update(entry.get("unknown_types", {}))
        types.update(entry.get("types", {}))
    document: dict[str, Any] = {
        "lines": sum(entry["lines"] for entry in entries),
        "line_kinds": {kind: n for kind, n in kinds.items() if n},
        "messages": sum(entry.get("messages", 0) for entry in entries),
        "receipts": sum(entry.get("receipts", 0) for entry in entries),
        "outbound": sum(entry.get("outbound", 0) for entry in entries),
        "types": dict(types),
        "events": {kind: events[kind] for kind in EVENT_KINDS} if events else None,
        "unknown_types": dict(unknown) if events else None,
    }
    return document


def observed_document(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "lines": document["lines"],
        "line_kinds": {kind: n for kind, n in document["line_kinds"].items() if n},
        "messages": document["messages"],
        "receipts": document["receipts"],
        "outbound": document["outbound"],
        "types": document["types"],
        "events": document.get("events"),
        "unknown_types": document.get("unknown_types"),
    }


def test_every_gateway_has_fixtures_of_each_kind_it_documents() -> None:
    kinds_by_gateway: dict[str, set[str]] = {}
    for name, entry in EXPECTED.items():
        kinds_by_gateway.setdefault(name.split("/")[0], set()).add(entry["kind"])
    assert set(kinds_by_gateway) == {"cloud", "evolution", "zapi", "twilio", "wwebjs"}
    for gateway in ("cloud", "evolution", "zapi", "wwebjs"):
        assert kinds_by_gateway[gateway] >= {"inbound", "receipt", "edit", "revoke", "system"}
        assert "unknown_type" in kinds_by_gateway[gateway]
    assert kinds_by_gateway["twilio"] >= {"inbound", "receipt", "unknown_type"}
    assert sorted(p.relative_to(GATEWAYS).as_posix() for p in GATEWAYS.glob("*/*.jsonl")) == sorted(
        EXPECTED
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_counts_exactly_what_its_documentation_says(name: str) -> None:
    entry = EXPECTED[name]
    capture = read_captures([str(GATEWAYS / name)], format=name.split("/")[0], on_error="skip")
    document = validate_document(capture)
    assert document["rejected"] == []
    assert observed_document(document) == expected_document([entry])
    assert capture.accounting.total.groups == entry.get("groups", 0)
    assert (document["contacts"], document["redeliveries"]) == (entry.get("contacts", 0), 0)
    assert document["lines"] == sum(document["line_kinds"].values())


@pytest.mark.parametrize("gateway", ["cloud", "evolution", "zapi", "twilio", "wwebjs"])
def test_validate_json_counts_every_fixture_of_a_gateway(gateway: str) -> None:
    names = sorted(name for name in EXPECTED if name.startswith(f"{gateway}/"))
    result = shadow("validate", "--json", "--format", gateway, *(str(GATEWAYS / n) for n in names))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["rejected"] == []
    assert observed_document(document) == expected_document([EXPECTED[n] for n in names])


def test_strict_restores_rejection_of_unknown_types() -> None:
    names = sorted(name for name in EXPECTED if EXPECTED[name]["kind"] == "unknown_type")
    for name in names:
        plain = shadow("validate", "--json", "--format", name.split("/")[0], str(GATEWAYS / name))
        strict = shadow(
            "validate", "--json", "--strict", "--format", name.split("/")[0], str(GATEWAYS / name)
        )
        assert plain.returncode == 0, name
        assert strict.returncode == 1, name
        unknown = next(iter(EXPECTED[name]["unknown_types"]))
        rejected = json.loads(strict.stdout)["rejected"]
        assert [bad["reason"] for bad in rejected] == [f"unknown type {unknown!r}"]
        assert "Traceback" not in strict.stderr


def test_the_acceptance_capture_counts_each_kind_and_replays_with_on_error_fail() -> None:
    capture = read_captures([str(CLOUD_EVENTS)])  # on_error="fail": no line is bad
    document = validate_document(capture)
    assert document["events"] == {
        "edit": 1,
        "revoke": 1,
        "system": 2,
        "error": 2,
        "unknown_type": 1,
    }
    assert document["unknown_types"] == {"hologram": 1}
    assert (document["messages"], document["receipts"], document["lines"]) == (4, 4, 14)
    with pytest.raises(InputError) as raised:
        read_captures([str(CLOUD_EVENTS)], options=ReadOptions(strict=True))
    assert (raised.value.line, raised.value.reason) == (13, "unknown type 'hologram'")


def test_a_capture_without_events_keeps_the_classic_document() -> None:
    document = validate_document(read_captures([str(FIXTURES / "captures" / "zapi.jsonl")]))
    assert list(document["line_kinds"]) == [
        "inbound",
        "receipt",
        "outbound",
        "skipped",
        "rejected",
        "continuation",
    ]
    assert "events" not in document and "unknown_types" not in document


def test_delivered_edit_is_a_message_with_the_new_content_linked_to_the_original() -> None:
    plain = read_captures([str(CLOUD_EVENTS)])
    delivered = read_captures([str(CLOUD_EVENTS)], options=ReadOptions(deliver=frozenset({"edit"})))
    assert delivered.delivered == {"edit": 1}
    assert len(delivered.inbound) == len(plain.inbound) + 1
    edit = next(record for record in delivered.inbound if record.event == "edit")
    original = next(r for r in plain.inbound if r.message_id == edit.refers_to)
    assert (edit.message_id, edit.refers_to) == ("wamid.EVT0004", "wamid.EVT0001")
    assert (edit.contact_id, edit.type) == (original.contact_id, "text")
    assert edit.text == "Oi, quero saber do meu pedido 4471"
    assert edit.received_at == original.received_at + 60_000_000
    # the accounting is the capture's: the delivered edit is still an event, not a message
    assert validate_document(delivered) == validate_document(plain)


def test_events_without_a_contact_are_counted_and_named_in_a_warning() -> None:
    options = ReadOptions(deliver=frozenset({"system", "error"}))
    capture = read_captures([str(GATEWAYS / "cloud" / "system.jsonl")], options=options)
    assert capture.delivered == {"system": 3}
    assert capture.undeliverable == {"system": 1}
    assert capture.warnings == [
        "1 system event(s) carry no contact, time or id: counted, not delivered"
    ]
    assert {record.type for record in capture.inbound} == {"unsupported"}


def test_every_kind_can_be_delivered() -> None:
    kinds = frozenset(EVENT_KINDS)
    capture = read_captures([str(CLOUD_EVENTS)], options=ReadOptions(deliver=kinds))
    # the value-level error has no message (no contact): counted, not delivered
    assert capture.delivered == {"edit": 1, "revoke": 1, "system": 2, "error": 1, "unknown_type": 1}
    assert capture.undeliverable == {"error": 1}
    events = [record for record in capture.inbound if record.event]
    assert [record.event for record in events] == [
        "edit",
        "revoke",
        "system",
        "system",
        "error",
        "unknown_type",
    ]
    assert [record.received_at for record in capture.inbound] == sorted(
        record.received_at for record in capture.inbound
    )


def test_an_unknown_type_is_listed_by_name_only_when_it_looks_like_one(tmp_path: Path) -> None:
    line = json.loads((GATEWAYS / "cloud" / "unknown_type.jsonl").read_text())
    message = line["entry"][0]["changes"][0]["value"]["messages"][0]
    message["type"] = "Ana Souza +55 11 99999-0001"
    path = tmp_path / "capture.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    document = validate_document(read_captures([str(path)], format="cloud"))
    assert document["unknown_types"] == {"(not a type name)": 1}
    assert "Ana" not in json.dumps(document)
