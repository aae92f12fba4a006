"""shadow.repro's pieces: the scenario ``messages`` element, placeholders that keep exactly the
equalities of the run, ddmin, rounding, and the case -> scenario rendering."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from shadow.common import InputError
from shadow.repro.case import Case, Item, Timed, placeholder, scenario_mapping
from shadow.repro.oracle import replay_scenario
from shadow.repro.reduce import Budget, Reducer, _rounded, ddmin
from shadow.streams.generate import generate
from shadow.streams.scenarios import scenario_from_text
from shadow.world import normalize_text

SECOND = 1_000_000


def _scenario(messages: str, contacts: int = 2, duration: str = "1m") -> str:
    return (
        f"name: listed\ndescription: d\nduration: {duration}\ncontacts: {contacts}\n"
        f"traffic:\n  - messages:\n{messages}"
    )


def test_listed_messages_become_rows_with_their_ids_topics_and_kinds() -> None:
    text = _scenario(
        "      - {at: 4s, contact: 1, text: Oi, id: m2, topic: t1, repeat_kind: resend}\n"
        "      - {at: 0s, contact: 1, text: Oi, id: m1, topic: t1}\n"
        "      - {at: 4500ms, contact: 2, type: image}\n"
    )
    rows = generate(scenario_from_text(text, "listed.yaml"))
    assert [(r["received_at"][-10:], r["message_id"], r["contact_id"]) for r in rows] == [
        ("00:00.000Z", "m1", "5511900000001"),
        ("00:04.000Z", "m2", "5511900000001"),
        ("00:04.500Z", "wamid.listed.0.2", "5511900000002"),
    ]
    assert rows[1]["repeat_kind"] == "resend" and rows[1]["topic"] == "t1"
    assert rows[2]["type"] == "image" and rows[2]["text"] == "" and rows[2]["topic"] == "t0.2"


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("{at: 0s, contact: 3}", ": traffic.0.messages.1: contact 3 > 2"),
        ("{at: 1500us, contact: 1}", ":8: traffic.0.messages.1.at: a message's time is a whole"),
        ("{at: 2m, contact: 1}", ": traffic.0.messages.1: at is not inside the duration"),
        ("{at: 0s, contact: 1, repeat_kind: redelivery}", ":8: traffic.0.messages.1.repeat_kind"),
        ("{at: 0s, contact: 1, colour: red}", ":8: traffic.0.messages.1.colour"),
    ],
)
def test_bad_listed_messages_name_the_line_and_reason(entry: str, reason: str) -> None:
    good = "      - {at: 0s, contact: 1}\n"
    with pytest.raises(InputError) as caught:
        scenario_from_text(_scenario(f"{good}      - {entry}\n"), "listed.yaml")
    assert caught.value.message.startswith("listed.yaml")
    assert reason in caught.value.message


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 20)), min_size=1, max_size=30))
def test_placeholders_keep_exactly_the_equalities_of_their_classes(
    classes: list[tuple[int, int]],
) -> None:
    # (normalized class, variant): equal texts exactly when equal pairs; equal normalized
    # texts exactly when equal classes
    texts = {(norm, variant): placeholder(norm, variant) for norm, variant in classes}
    for a, text_a in texts.items():
        for b, text_b in texts.items():
            assert (text_a == text_b) == (a == b)
            assert (normalize_text(text_a) == normalize_text(text_b)) == (a[0] == b[0])


@given(
    st.integers(2, 30).flatmap(
        lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1), min_size=1))
    )
)
def test_ddmin_finds_the_needed_units_in_order(case: tuple[int, set[int]]) -> None:
    size, needed = case
    calls: list[Sequence[int]] = []

    def holds(units: Sequence[int]) -> bool:
        calls.append(units)
        return needed <= set(units)

    assert ddmin(list(range(size)), holds) == sorted(needed)
    assert all(list(c) == sorted(c) for c in calls)


def test_rounded_values_are_roundest_first_and_never_negative() -> None:
    options = _rounded(7_384_000)
    assert options[:3] == [0, 10 * SECOND, 5 * SECOND]
    assert 7 * SECOND in options and 7_400_000 in options
    assert all(v >= 0 and v != 7_384_000 for v in options)
    assert _rounded(0) == []


def _item(seq: int, at: int, contact: int, norm: int, exact: int, **extra: object) -> Item:
    fields: dict[str, object] = dict(
        seq=seq,
        at=at,
        contact=contact,
        message=seq,
        norm=norm,
        exact=exact,
        type="text",
        topic=seq,
        repeat_kind="",
        latency=2_500_000,
        outcome="ok",
        reply=0,
    )
    fields.update(extra)
    return Item(**fields)  # type: ignore[arg-type]


def test_a_case_renders_placeholders_renamed_contacts_relative_times_and_pins() -> None:
    case = Case(
        (
            _item(40, 100 * SECOND, 7, 3, 9),
            _item(41, 104 * SECOND, 7, 3, 10, message=40, repeat_kind="resend", topic=40),
            _item(42, 105_500_000, 2, -1, 11, type="image", outcome="hang", reply=1),
        ),
        {"unified.duplicate_window": "5s", "environment.agent.script": {"x": {}}},
        (Timed("restart", 90 * SECOND, 110 * SECOND), Timed("restart", 0, SECOND)),
    )
    mapping = scenario_mapping(case, "repro-x", "why")
    messages = mapping["traffic"][0]["messages"]
    assert messages == [
        {"at": "0s", "contact": 1, "id": "m1", "text": "text 1", "topic": "t1"},
        {"at": "4s", "contact": 1, "id": "m1", "text": "Text 1", "topic": "t1",
         "repeat_kind": "resend"},
        {"at": "5500ms", "contact": 2, "id": "m2", "text": "", "type": "image", "topic": "t2"},
    ]  # fmt: skip
    environment = mapping["environment"]
    assert environment["unified"] == {"duplicate_window": "5s"}
    assert environment["environment"]["agent"]["script"] == {
        "m1": {"outcome": "ok", "latency": "2500ms", "reply": "reply 1"},
        "m2": {"outcome": "hang", "reply": "reply 2"},
    }
    # the restart straddling the first message is cut to it; the one before it goes
    assert environment["environment"]["restarts"] == [{"at": "0s", "downtime": "10s"}]
    assert mapping["duration"] == "6s" and mapping["contacts"] == 2
    # and the harness accepts what it renders
    scenario_from_text(yaml.safe_dump(mapping), "repro.yaml")


def test_content_classes_render_as_numbered_placeholders_the_scenario_keeps() -> None:
    """Two voice notes of one file and a place: ``c1``, ``c1``, ``c2`` (no raw value, only the
    equality), written back as the shadow rows' ``content_key``."""
    case = Case(
        (
            _item(1, 0, 7, -1, 1, type="voice", content=30),
            _item(2, SECOND, 7, -1, 2, type="voice", content=30, message=2),
            _item(3, 2 * SECOND, 7, -1, 3, type="location", content=4, message=3),
            _item(4, 3 * SECOND, 7, -1, 4, type="voice", message=4),
        ),
        {},
    )
    mapping = scenario_mapping(case, "repro-c", "why")
    messages = mapping["traffic"][0]["messages"]
    assert [m.get("content") for m in messages] == ["c1", "c1", "c2", None]
    rows = generate(scenario_from_text(yaml.safe_dump(mapping), "repro.yaml"))
    assert [r.get("content_key") for r in rows] == ["c1", "c1", "c2", None]


def test_the_reducer_answers_repeated_cases_from_memory_and_stops_at_the_budget() -> None:
    case = Case(tuple(_item(i, i * SECOND, 1, i, i) for i in range(6)), {})
    asked: list[int] = []

    def holds(candidate: Case, key: str) -> bool:
        asked.append(len(candidate.items))
        return any(item.seq == 4 for item in candidate.items)

    reducer = Reducer(lambda c: repr([i.seq for i in c.items]), holds, Budget(3))
    assert reducer.test(case) and reducer.test(case)
    assert asked == [6]
    kept = ddmin(case.items, lambda items: reducer.test(case.keep(items)))
    assert reducer.budget.used == 3 and len(asked) == 3
    assert any(item.seq == 4 for item in kept)


def test_the_oracle_finds_conflict_2_in_a_listed_scenario(tmp_path: Path) -> None:
    path = tmp_path / "c2.yaml"
    path.write_text(
        _scenario(
            "      - {at: 0s, contact: 1, text: Oi, topic: t1}\n"
            "      - {at: 4s, contact: 1, text: Oi, topic: t1, repeat_kind: resend}\n"
            "environment:\n  agent: {latency: 5s, error_rate: 0, hang_rate: 0}\n"
            "  sender: {failure_rate: 0}\n",
            contacts=1,
        )
    )
    found = replay_scenario(path, ("legacy", "unified"), [], None)
    # legacy processes both and R1 blocks the second reply; unified never processes it
    assert [(f.seq, f.kinds) for f in found] == [(1, ("processing_removed",))]


def test_the_report_spells_the_repro_command_as_the_command_does() -> None:
    from reports.context import repro_command as in_report
    from shadow.repro import repro_command

    pair = ("legacy", "rollout@10")
    assert in_report("abc123", list(pair)) == repro_command("abc123", pair)
    assert in_report("abc123", ["legacy", "recorded"]) == ""  # not replayable as a scenario


def test_the_pair_is_the_most_frequent_and_noise_arms_are_refused() -> None:
    from shadow.common import UsageError
    from shadow.repro.run import _pair

    group = {"signature": "abc", "pairs": {"legacy vs rollout@10": 2, "legacy vs unified": 5}}
    assert _pair(group, None) == ("legacy", "unified")
    assert _pair(group, "legacy,rollout@10") == ("legacy", "rollout@10")
    with pytest.raises(UsageError, match="legacy~2 cannot be replayed from a scenario"):
        _pair({"signature": "abc", "pairs": {"legacy vs legacy~2": 1}}, None)


_CLASSES = st.tuples(
    st.integers(0, 3),  # contact
    st.integers(0, 4),  # message id (equal ids: a redelivery)
    st.integers(-1, 3),  # normalized text (-1: empty)
    st.integers(0, 2),  # exact spelling within it
    st.integers(-1, 2),  # topic (-1: none)
    st.integers(0, 60_000),  # ms after the previous message
)


@given(st.lists(_CLASSES, min_size=1, max_size=12))
def test_a_rendered_case_keeps_exactly_the_equalities_of_its_classes(
    rows: list[tuple[int, int, int, int, int, int]],
) -> None:
    from shadow.streams.record import text_hashes

    at = 0
    items = []
    for seq, (contact, message, norm, exact, topic, gap) in enumerate(rows):
        at += gap * 1000
        items.append(
            _item(seq, 5 * SECOND + at, contact, norm, norm * 10 + exact, message=message,
                  topic=topic)
        )  # fmt: skip
    mapping = scenario_mapping(Case(tuple(items), {}), "repro-p", "d")
    generated = generate(scenario_from_text(yaml.safe_dump(mapping), "repro.yaml"))
    assert len(generated) == len(items)
    listed = mapping["traffic"][0]["messages"]
    hashes = [text_hashes(m["text"]) for m in listed]
    for i, a in enumerate(items):
        for j, b in enumerate(items):
            assert (hashes[i][0] == hashes[j][0]) == (a.exact == b.exact)
            assert (hashes[i][1] == hashes[j][1]) == (a.norm == b.norm)
            assert (listed[i]["contact"] == listed[j]["contact"]) == (a.contact == b.contact)
            assert (listed[i]["id"] == listed[j]["id"]) == (a.message == b.message)
            assert (listed[i]["topic"] == listed[j]["topic"]) == (a.topic == b.topic)
    # times count from the first message, in order
    assert listed[0]["at"] == "0s"
    assert [r["received_at"] for r in generated] == sorted(r["received_at"] for r in generated)


@pytest.mark.parametrize(
    ("pair", "stages", "flip_at"),
    [(("legacy", "unified"), [], None), (("legacy", "rollout@50"), [50], 60 * SECOND)],
)
def test_the_oracle_agrees_with_shadow_replay(
    tmp_path: Path, pair: tuple[str, str], stages: list[int], flip_at: int | None
) -> None:
    import json

    from shadow.replay import ReplayOptions, replay
    from shadow.streams import load_scenario

    data = load_scenario("agent-crash").raw
    data["duration"] = "5m"
    if flip_at is not None:  # the flip as a deploy: a restart of the rollout arms
        data["environment"] = {
            "environment": data["environment"],
            "rollout": {"flip_mode": "restart"},
        }
    path = tmp_path / "crash.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    found = replay_scenario(path, pair, stages, flip_at)
    out = tmp_path / "run"
    options = ReplayOptions(
        [f"scenario:{path}"],
        arms=list(pair),
        stages=stages,
        flip_at=flip_at,
        out=out,
        reports=False,
    )
    replay(options)
    text = (out / "divergences.jsonl").read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    lines = [line for line in lines if (line["baseline"], line["candidate"]) == pair]
    assert len(found) > 10
    assert [(f.seq, f.signature, list(f.kinds), f.severity) for f in found] == [
        (line["seq"], line["signature"], line["kinds"], line["severity"]) for line in lines
    ]


def test_simplify_drops_unneeded_restarts_and_rounds_the_rest() -> None:
    from shadow.repro.reduce import simplify

    base = 100 * SECOND
    case = Case(
        (_item(0, base, 1, 0, 0), _item(1, base + 7_384_000, 1, 1, 1)),
        {},
        (Timed("restart", base + 455_023_000, base + 485_023_000),
         Timed("restart", base + 1_655_023_000, base + 1_775_023_000)),
    )  # fmt: skip

    def holds(candidate: Case, key: str) -> bool:
        # the divergence needs a restart 5 to 10 minutes after the first message, and the
        # second message within 10 s of the first
        items = candidate.items
        starts = [t.start - items[0].at for t in candidate.timed]
        soon = items[1].at - items[0].at <= 10 * SECOND
        return soon and any(300 * SECOND <= s <= 600 * SECOND for s in starts)

    reducer = Reducer(lambda c: repr(c.items) + repr(c.timed), holds, Budget(500))
    simple = simplify(case, reducer)
    kept = [(t.start - base, t.end - t.start) for t in simple.timed]
    assert kept == [(480 * SECOND, 30 * SECOND)]
    assert simple.items[1].at == simple.items[0].at  # the roundest gap that still holds
