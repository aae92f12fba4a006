"""Scenario files, the generator and the expect evaluator (docs/scenarios.md, the metrics of
docs/reference.md)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from shadow.common.errors import InputError, UsageError
from shadow.streams.expect import ExpectResult, check_expect, parse_expectation
from shadow.streams.generate import contact_id, generate, generate_rows
from shadow.streams.quantities import SECOND, Distribution, parse_duration, parse_rate
from shadow.streams.scenarios import list_scenarios, load_scenario, scenario_from_text
from shadow.streams.vocabulary import load_vocabulary

ROOT = Path(__file__).resolve().parents[2]
BUILTINS = [
    "agent-crash",
    "burst-high-frequency",
    "conflict-2-oi",
    "duplicate-window-question",
    "identical-bot-replies",
    "impatient-duplicates",
    "legit-repeats",
    "load-100-per-min",
    "many-contacts-surge",
    "media-and-redeliveries",
    "memory-soak",
    "restart-mid-traffic",
    "send-failures",
    "slow-agent",
    "webhook-redelivery",
]
# generating a full day of memory-soak takes seconds: an hour shows the same rules
SHORTEN = {"memory-soak": ["duration=1h"]}


def _at(row: dict[str, str]) -> float:
    moment = datetime.fromisoformat(row["received_at"].replace("Z", "+00:00"))
    return (moment - datetime(2026, 1, 5, 12, tzinfo=UTC)).total_seconds()


def test_every_builtin_of_the_spec_is_listed_sorted_with_a_description() -> None:
    listing = list_scenarios()
    assert [name for name, _ in listing] == BUILTINS
    assert all(description for _, description in listing)


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_loads_generates_and_is_well_formed(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.name == name
    assert scenario.expect, "every built-in states what the rules imply"
    rows = generate(name, 1, SHORTEN.get(name, ()))
    assert rows
    times = [_at(row) for row in rows]
    assert times == sorted(times)
    duration = scenario.duration / SECOND if name not in SHORTEN else 3600
    assert times[0] >= 0 and times[-1] < duration
    pool = {contact_id(i) for i in range(scenario.contacts)}
    for row in rows:
        assert row["received_at"].endswith("Z") and len(row["received_at"]) == 24
        assert row["contact_id"] in pool and len(row["contact_id"]) == 13
        assert row["message_id"].startswith(f"wamid.{name}.")
        assert row["topic"].startswith("t")
        assert row.get("repeat_kind", "resend") in ("resend", "legit")
        assert set(row) <= {
            "received_at",
            "contact_id",
            "message_id",
            "text",
            "type",
            "topic",
            "repeat_kind",
        }


def test_conflict_2_oi_is_exactly_the_seed_scenario() -> None:
    rows = generate("conflict-2-oi", 1)
    assert [(_at(r), r["contact_id"], r["text"]) for r in rows] == [
        (0.0, "5511900000001", "Oi"),
        (4.0, "5511900000001", "Oi"),
    ]
    assert rows[0]["topic"] == rows[1]["topic"]
    assert rows[1]["repeat_kind"] == "resend"
    environment = load_scenario("conflict-2-oi").environment
    assert environment["agent"] == {"latency": "5s", "error_rate": 0, "hang_rate": 0}
    assert environment["sender"]["failure_rate"] == 0
    assert generate("conflict-2-oi", 99) == rows, "nothing in it is random"


def test_legit_repeats_carry_legit_and_a_new_topic_4_to_9_s_later() -> None:
    rows = generate("legit-repeats", 1, ["duration=20m"])
    by_id = {row["message_id"]: row for row in rows if "repeat_kind" not in row}
    legit = [row for row in rows if row.get("repeat_kind") == "legit"]
    assert len(legit) > 20
    for row in legit:
        source = by_id[row["message_id"].rsplit(".", 1)[0]]
        assert row["text"] == source["text"] and row["contact_id"] == source["contact_id"]
        assert row["topic"] != source["topic"]
        assert 4.0 <= _at(row) - _at(source) <= 9.0
    assert {row["text"].casefold() for row in legit} <= {"sim", "não", "ok", "isso", "pode ser"}


def test_resends_keep_text_and_topic_and_redeliveries_reuse_the_message_id() -> None:
    rows = generate("impatient-duplicates", 3, ["duration=20m"])
    originals = {row["message_id"]: row for row in rows if "repeat_kind" not in row}
    resends = [row for row in rows if row.get("repeat_kind") == "resend"]
    assert resends
    for row in resends:
        source = originals[row["message_id"].rsplit(".", 1)[0]]
        assert (row["text"], row["topic"]) == (source["text"], source["topic"])
        assert 2.0 <= _at(row) - _at(source) <= 12.0
    rows = generate("webhook-redelivery", 1, ["duration=1h"])
    ids = [row["message_id"] for row in rows]
    repeated = {i for i in ids if ids.count(i) > 1}
    assert repeated
    for message_id in repeated:
        copies = [row for row in rows if row["message_id"] == message_id]
        assert len({(r["text"], r["topic"], r["contact_id"]) for r in copies}) == 1
        assert all("repeat_kind" not in r for r in copies)


def test_same_seed_same_stream_and_a_different_seed_differs() -> None:
    first = generate("duplicate-window-question", 7, ["duration=15m"])
    assert first == generate("duplicate-window-question", 7, ["duration=15m"])
    assert first != generate("duplicate-window-question", 8, ["duration=15m"])


def test_changing_one_element_leaves_the_other_elements_rows_alone() -> None:
    base = "burst-high-frequency"
    rows = generate(base, 1)
    changed = generate(base, 1, ["traffic.1.burst.messages=5", "traffic.1.burst.count=3"])

    def element(rows: list[dict[str, str]], index: int) -> list[dict[str, str]]:
        return [r for r in rows if r["message_id"].split(".")[2] == str(index)]

    assert element(rows, 0) == element(changed, 0)
    assert element(rows, 1) != element(changed, 1)
    quieter = generate(base, 1, ["traffic.0.conversations.rate=10/min"])
    assert element(rows, 1) == element(quieter, 1)
    # a derived element changes only itself: the conversations do not move
    plain = generate("impatient-duplicates", 1, ["duration=20m"])
    more = generate("impatient-duplicates", 1, ["duration=20m", "traffic.1.resend.probability=0.5"])
    assert [r for r in plain if "repeat_kind" not in r] == [
        r for r in more if "repeat_kind" not in r
    ]


def test_conversations_run_at_the_stated_rate_from_the_first_minute() -> None:
    rows = generate("load-100-per-min", 1, ["duration=30m"])
    assert 2700 < len(rows) < 3300
    early = [
        sum(1 for row in generate("load-100-per-min", seed, ["duration=2m"]))
        for seed in range(1, 11)
    ]
    # without the warm-up the first 2 minutes would hold about 60% of the rate
    assert 0.85 < sum(early) / (10 * 200) < 1.15


def test_surge_makes_distinct_contacts_active_at_once() -> None:
    rows = generate("many-contacts-surge", 1)
    surge = [r for r in rows if r["message_id"].split(".")[2] == "1"]
    first = [r for r in surge if 300 <= _at(r) < 310]
    assert len({r["contact_id"] for r in first}) == 150
    assert len(surge) == 3 * 150 * 3


def test_bursts_send_25_messages_within_10_s() -> None:
    rows = generate("burst-high-frequency", 1)
    bursts: dict[str, list[float]] = {}
    for row in rows:
        if row["message_id"].split(".")[2] == "1":
            bursts.setdefault(row["contact_id"], []).append(_at(row))
    assert sum(len(times) for times in bursts.values()) == 12 * 25
    for times in bursts.values():
        assert len(times) % 25 == 0


def test_vocabulary_is_brazilian_support_chat() -> None:
    vocabulary = load_vocabulary("pt_br_support")
    texts = vocabulary.all_texts()
    for expected in ("Oi", "Olá, boa tarde", "Cadê meu pedido?", "sim", "não", "Obrigado!"):
        assert expected in texts
    media = vocabulary.categories["media"]
    assert any(entry.type == "image" and entry.text == "" for entry in media)


def test_unknown_scenario_lists_the_builtins() -> None:
    with pytest.raises(UsageError, match="conflict-2-oi"):
        load_scenario("no-such-scenario")


def test_a_bad_file_names_the_line_and_the_reason() -> None:
    text = "name: x\ndescription: y\nduration: 1m\ncontacts: 3\ntraffic:\n  - surge: {at: 5s}\n"
    with pytest.raises(InputError) as caught:
        scenario_from_text(text, "x.yaml")
    assert "surge of 150 > 3" in caught.value.reason
    text = "name: x\ndescription: y\nduration: 1m\ncontacts: 3\ntraffic:\n  - resend:\n      p: 1\n"
    with pytest.raises(InputError) as caught:
        scenario_from_text(text, "x.yaml")
    assert caught.value.line == 7 and "traffic.0.resend" in caught.value.reason
    with pytest.raises(InputError, match=r"x\.yaml:3: found character '>'"):
        scenario_from_text("name: x\nexpect:\n  legacy: {answered_rate: > 0}\n", "x.yaml")
    text = "name: x\ndescription: d\nduration: 1m\ncontacts: 2\ntraffic: [{burst: {at: 0s}}]\n"
    with pytest.raises(InputError) as caught:
        scenario_from_text(text + "expect:\n  legacy:\n    answered_rate: '= 0'\n", "x.yaml")
    assert caught.value.line == 8 and "expect.legacy.answered_rate" in caught.value.reason
    with pytest.raises(UsageError, match="--set duration"):
        load_scenario("conflict-2-oi", ["duration=soon"])


@pytest.mark.parametrize(
    ("text", "us"),
    [("300ms", 300_000), ("3s", 3_000_000), ("5m", 300_000_000), ("2h", 7_200_000_000)],
)
def test_durations_parse_to_integer_microseconds(text: str, us: int) -> None:
    assert parse_duration(text) == us


def test_rates_and_distributions() -> None:
    assert parse_rate("100/min") == pytest.approx(100 / 60)
    assert parse_rate("2/s") == 2.0
    with pytest.raises(ValueError):
        parse_rate("100")
    lognormal = Distribution.model_validate({"median": "20s", "p95": "90s"})
    assert lognormal.draw(0.5) == 20 * SECOND
    assert lognormal.draw(0.95) == pytest.approx(90 * SECOND, rel=1e-3)
    spread = Distribution.model_validate({"min": "1s", "max": "2h", "log": True})
    assert spread.draw(0.0) == SECOND and spread.draw(1.0) == 7200 * SECOND
    assert Distribution.model_validate("4s").draw(0.3) == 4 * SECOND


@given(st.floats(min_value=0.0, max_value=0.999999), st.floats(min_value=0.0, max_value=0.999999))
def test_drawn_delays_stay_in_range_whole_ms_and_monotone(u: float, v: float) -> None:
    for spec in ({"min": "2s", "max": "12s"}, {"median": "5s", "p95": "14s"}):
        distribution = Distribution.model_validate(spec)
        low, high = distribution.draw(min(u, v)), distribution.draw(max(u, v))
        assert low <= high and low % 1000 == 0 and high % 1000 == 0
    uniform = Distribution.model_validate({"min": "2s", "max": "12s"})
    assert 2 * SECOND <= uniform.draw(u) <= 12 * SECOND


def test_check_expect_compares_numbers_durations_and_other_arms() -> None:
    expect = {
        "legacy": {"duplicate_processing": "> 0", "reply_latency_p95": "< 10s"},
        "unified": {"duplicate_processing": "< legacy", "legit_repeats_lost": "<= 5%"},
    }
    metrics = {
        "legacy": {"duplicate_processing": 41.0, "reply_latency_p95": 12.5},
        "unified": {"duplicate_processing": 3.0, "legit_repeats_lost": 0.05},
    }
    assert check_expect(expect, metrics) == [
        ExpectResult("legacy", "duplicate_processing", ">", 0.0, 41.0, True),
        ExpectResult("legacy", "reply_latency_p95", "<", 10.0, 12.5, False),
        ExpectResult("unified", "duplicate_processing", "<", 41.0, 3.0, True),
        ExpectResult("unified", "legit_repeats_lost", "<=", 0.05, 0.05, True),
    ]


def test_check_expect_never_passes_what_it_cannot_see() -> None:
    expect = {"unified": {"answered_rate": "> legacy", "reply_latency_p50": "< 3s"}}
    results = check_expect(
        expect, {"unified": {"answered_rate": 0.9, "reply_latency_p50": math.nan}}
    )
    assert [result.ok for result in results] == [False, False]
    assert results[0].expected is None


def test_expectations_reject_what_they_cannot_read() -> None:
    assert parse_expectation("< legacy").arm == "legacy"
    assert parse_expectation(">= 0.5").value == 0.5
    for bad in ("0", "about 3", "> soon", "=> 1"):
        with pytest.raises(ValueError):
            parse_expectation(bad)


def test_cli_scenarios_json_and_generate(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from shadow.cli.app import app

    runner = CliRunner()
    listed = runner.invoke(app, ["scenarios", "--json"])
    assert listed.exit_code == 0
    assert [item["name"] for item in json.loads(listed.stdout)] == BUILTINS
    target = tmp_path / "load.jsonl"
    arguments = ["generate", "load-100-per-min", "--seed", "3", "-o", str(target)]
    result = runner.invoke(app, [*arguments, "--set", "duration=10m", "--set", "contacts=50"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert lines == generate("load-100-per-min", 3, ["duration=10m", "contacts=50"])
    assert len({line["contact_id"] for line in lines}) <= 50
    # the scenario defaults: a generated stream replays as its scenario does
    assert yaml.safe_load(Path(f"{target}.env.yaml").read_text()) == {"users": "reactive"}


def test_shadow_generate_as_a_subprocess(tmp_path: Path) -> None:
    shadow = Path(sys.executable).parent / "shadow"
    target = tmp_path / "tmp"
    done = subprocess.run(
        [str(shadow), "generate", "conflict-2-oi", "-o", str(target)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONHASHSEED": "123"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(target.read_text().splitlines()) == 2
    environment = yaml.safe_load(Path(f"{target}.env.yaml").read_text())
    assert environment["agent"]["latency"] == "5s"
    unknown = subprocess.run(
        [str(shadow), "generate", "nope", "-o", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert unknown.returncode == 3
    assert "conflict-2-oi" in unknown.stderr and "Traceback" not in unknown.stderr


def test_rows_match_the_stream_written(tmp_path: Path) -> None:
    scenario = load_scenario("conflict-2-oi")
    assert [row.at for row in generate_rows(scenario, 1)] == [0, 4 * SECOND]
