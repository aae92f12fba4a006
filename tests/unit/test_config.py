"""Configuration: durations, precedence and sources, errors, builders, `config show`, docs."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legacy_models.settings import (
    CoordinatorSettings,
    LegacySettings,
    OrchestratorSettings,
    ResponseManagerSettings,
)
from shadow.common.durations import HOUR, MINUTE, MS, SECOND, format_duration, parse_duration
from shadow.common.errors import InputError, UsageError
from shadow.config.doc import DOC, key_table, render_doc
from shadow.config.effective import LEAF_KEYS, ConfigFileError, load_config, render_value
from shadow.world.environment import EnvironmentSettings, Latency, ScriptEntry
from unified.settings import UnifiedSettings

ROOT = Path(__file__).resolve().parents[2]

# --- durations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "us"),
    [
        ("300ms", 300 * MS),
        ("3s", 3 * SECOND),
        ("5m", 5 * MINUTE),
        ("2h", 2 * HOUR),
        ("1m30s", 90 * SECOND),
        ("2s500ms", 2_500 * MS),
        ("1.5s", 1_500 * MS),
        ("250us", 250),
        ("250µs", 250),
        (" 3s ", 3 * SECOND),
        ("0s", 0),
    ],
)
def test_parse_duration(text: str, us: int) -> None:
    assert parse_duration(text) == us


@pytest.mark.parametrize(
    "text", ["", "3", "-3s", "3 s", "1s1m", "1s1s", "3sec", "0.0000001s", "1.5us", "s", "3S"]
)
def test_parse_duration_refuses_ambiguous_or_negative(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|negative|microseconds|units"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("us", "text"),
    [(0, "0s"), (90 * SECOND, "90s"), (60 * SECOND, "1m"), (1_500 * MS, "1500ms"), (7, "7us")],
)
def test_format_duration_largest_exact_unit(us: int, text: str) -> None:
    assert format_duration(us) == text


@given(st.integers(min_value=0, max_value=10**14))
def test_duration_round_trip(us: int) -> None:
    text = format_duration(us)
    assert parse_duration(text) == us
    assert format_duration(parse_duration(text)) == text


_UNITS = [("h", HOUR), ("m", MINUTE), ("s", SECOND), ("ms", MS), ("us", 1)]


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=5, max_size=5), st.data())
def test_compound_durations_parse_to_their_sum(numbers: list[int], data: st.DataObject) -> None:
    used = data.draw(st.lists(st.sampled_from(range(5)), min_size=1, unique=True))
    picked = sorted(used)
    text = "".join(f"{numbers[i]}{_UNITS[i][0]}" for i in picked)
    total = sum(numbers[i] * _UNITS[i][1] for i in picked)
    assert parse_duration(text) == total
    assert parse_duration(format_duration(total)) == total


def test_bare_numbers_need_a_unit_except_zero() -> None:
    assert load_config(None, ["run.drain=0"]).run.drain == 0
    with pytest.raises(UsageError, match=r"run\.drain: 5 has no unit"):
        load_config(None, ["run.drain=5"])


# --- defaults: the dataclasses are the single home of the seed's figures -------------------


def _assert_same_fields(built: object, default: object) -> None:
    assert dataclasses.is_dataclass(built) and type(built) is type(default)
    for item in dataclasses.fields(built):
        assert getattr(built, item.name) == getattr(default, item.name), item.name


def test_builders_give_the_dataclass_defaults_field_by_field() -> None:
    effective = load_config(None, [])
    legacy = effective.legacy_settings()
    _assert_same_fields(legacy.orchestrator, OrchestratorSettings())
    _assert_same_fields(legacy.coordinator, CoordinatorSettings())
    _assert_same_fields(legacy.response_manager, ResponseManagerSettings())
    assert legacy == LegacySettings()
    _assert_same_fields(effective.unified_settings(), UnifiedSettings())
    env = effective.environment_settings()
    _assert_same_fields(env, EnvironmentSettings())
    _assert_same_fields(env.agent, EnvironmentSettings().agent)
    _assert_same_fields(env.sender, EnvironmentSettings().sender)


@pytest.mark.parametrize(
    ("section", "settings"),
    [
        ("orchestrator", OrchestratorSettings),
        ("coordinator", CoordinatorSettings),
        ("response_manager", ResponseManagerSettings),
        ("unified", UnifiedSettings),
    ],
)
def test_every_settings_field_has_a_config_key(section: str, settings: type) -> None:
    renamed = {
        "batching_enabled": "batching.enabled",
        "max_batch": "batching.max_batch",
        "collect_delay": "batching.collect_delay",
    }
    expected = {f"{section}.{renamed.get(f.name, f.name)}" for f in dataclasses.fields(settings)}
    assert {key for key in LEAF_KEYS if key.startswith(section + ".")} == expected


def test_issue_19_switches_reach_the_models() -> None:
    legacy = load_config(
        None,
        [
            "coordinator.emergency_flush=process",
            "coordinator.batching.collect_delay=2s",
            "orchestrator.emptied_queues=delete",
        ],
    ).legacy_settings()
    assert legacy.coordinator.emergency_flush == "process"
    assert legacy.coordinator.collect_delay == 2 * SECOND
    assert legacy.orchestrator.emptied_queues == "delete"
    defaults = load_config(None, []).legacy_settings()
    assert (defaults.coordinator.emergency_flush, defaults.coordinator.collect_delay) == (
        "discard",
        0,
    )
    assert defaults.orchestrator.emptied_queues == "keep"
    with pytest.raises(UsageError, match=r"coordinator\.emergency_flush"):
        load_config(None, ["coordinator.emergency_flush=maybe"])


def test_contracts_defaults_outside_the_models() -> None:
    flat = load_config(None, []).flat()
    assert flat["run.drain"] == "2m" and flat["run.gauge_interval"] == "10s"
    assert flat["rollout.provider"] == "unleash"
    assert flat["rollout.flag"] == flat["rollout.group_id"] == "USE_UNIFIED_COORDINATOR"
    assert flat["rollout.salt"] is None and flat["rollout.stickiness"] == "contact_id"
    assert flat["compare.latency_abs"] == "2s" and flat["compare.latency_rel"] == 0.5
    assert flat["compare.repeat_horizon"] == "1m" and flat["compare.severity"] == {}
    assert flat["environment.agent.latency"] == {"median": "3s", "p95": "9s"}
    assert flat["environment.sender.latency"] == "300ms"
    assert flat["environment.agent.client_timeout"] == "10m"


# --- precedence and sources --------------------------------------------------------------


def _write(tmp_path: Path, text: str, name: str = "my.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_precedence_and_every_source_label(tmp_path: Path) -> None:
    scenario = {"seed": 7, "agent": {"error_rate": 0.1, "hang_rate": 0.0}}
    config = _write(tmp_path, "environment:\n  agent:\n    error_rate: 0.2\n    hang_rate: 0.01\n")
    effective = load_config(
        config, ["environment.agent.hang_rate=0.02"], scenario, scenario_source="scenario"
    )
    env = effective.model.environment
    assert (env.seed, env.agent.error_rate, env.agent.hang_rate) == (7, 0.2, 0.02)
    assert effective.sources["environment.seed"] == "scenario"
    assert effective.sources["environment.agent.error_rate"] == "config:my.yaml"
    assert effective.sources["environment.agent.hang_rate"] == "--set"
    assert effective.sources["coordinator.duplicate_window"] == "default"
    assert set(effective.sources) == set(LEAF_KEYS)


def test_an_empty_section_in_a_file_is_no_change(tmp_path: Path) -> None:
    effective = load_config(_write(tmp_path, "coordinator:\nunified: {max_locks: 7}\n"), [])
    assert effective.legacy_settings().coordinator == CoordinatorSettings()
    assert effective.unified_settings().max_locks == 7


def test_scenario_accepts_a_full_config_mapping_and_its_own_label() -> None:
    effective = load_config(
        None, [], {"unified": {"duplicate_window": "5s"}}, scenario_source="scenario:x"
    )
    assert effective.model.unified.duplicate_window == 5 * SECOND
    assert effective.sources["unified.duplicate_window"] == "scenario:x"


def test_set_flow_mapping_latency_reaches_the_environment() -> None:
    effective = load_config(None, ["environment.agent.latency={median: 2s, p95: 5s}"])
    latency = effective.environment_settings().agent.latency
    assert latency == Latency(kind="lognormal", median=2 * SECOND, p95=5 * SECOND)
    uniform = load_config(None, ["environment.agent.latency={uniform: [1s, 4s]}"])
    assert uniform.environment_settings().agent.latency == Latency(
        kind="uniform", low=SECOND, high=4 * SECOND
    )


def test_map_leaves_merge_across_layers_and_ids_may_hold_dots(tmp_path: Path) -> None:
    config = _write(tmp_path, "environment:\n  agent:\n    replies: {b: B}\n")
    effective = load_config(
        config,
        ["environment.agent.script.wamid.X.1.outcome=hang"],
        {"agent": {"replies": {"a": "A"}, "script": {"wamid.X.1": {"latency": "20s"}}}},
    )
    agent = effective.environment_settings().agent
    assert dict(agent.replies) == {"a": "A", "b": "B"}
    assert agent.script == {"wamid.X.1": ScriptEntry(latency=20 * SECOND, outcome="hang")}
    assert effective.sources["environment.agent.script"] == "--set"


def test_seed_override_and_later_sets() -> None:
    effective = load_config(None, ["environment.seed=3"])
    assert effective.environment_settings().seed == 3
    assert effective.environment_settings(seed_override=11).seed == 11
    swept = effective.with_sets(["unified.duplicate_window=20s"])
    assert swept.unified_settings().duplicate_window == 20 * SECOND
    assert swept.model.environment.seed == 3


def test_rollout_resolves_group_id_and_algorithm() -> None:
    rollout = load_config(None, ["rollout.flag=F", "rollout.provider=flagd"]).rollout
    assert (rollout.group_id, rollout.algorithm) == ("F", "v2")
    with pytest.raises(UsageError, match=r"rollout\.algorithm: 'v1' is not one of murmur3"):
        load_config(None, ["rollout.algorithm=v1"])


def test_pasting_config_show_values_into_set_gives_the_same_config() -> None:
    defaults = load_config(None, [])
    sets = [f"{key}={render_value(value)}" for key, value in defaults.flat().items()]
    pasted = load_config(None, sets)
    assert pasted.sha256 == defaults.sha256
    assert set(pasted.sources.values()) == {"--set"}


def test_sha256_depends_on_values_not_on_sources(tmp_path: Path) -> None:
    config = _write(tmp_path, "coordinator: {duplicate_window: 4s}\n")
    from_file = load_config(config, [])
    from_set = load_config(None, ["coordinator.duplicate_window=4000ms"])
    assert from_file.sha256 == from_set.sha256 != load_config(None, []).sha256


# --- errors ------------------------------------------------------------------------------


def test_unknown_key_names_it_and_suggests() -> None:
    with pytest.raises(UsageError) as caught:
        load_config(None, ["coordinator.duplicat_window=5s"])
    assert "unknown key 'coordinator.duplicat_window'" in caught.value.message
    assert "did you mean coordinator.duplicate_window?" in caught.value.message
    with pytest.raises(UsageError, match=r"did you mean coordinator\.batching\.max_batch"):
        load_config(None, ["coordinator.max_batch=3"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("orchestrator.on_lock_wait_timeout=x", "'x' is not one of queue, proceed"),
        ("coordinator.mutex=lock", "'lock' is not one of loop, naive_await"),
        ("unified.late_result=keep", "'keep' is not one of drop, send"),
        ("environment.agent.script.m1.outcome=boom", "'boom' is not one of ok, error, hang"),
        ("compare.severity.slower=bad", "'bad' is not one of regression, change, improvement"),
        ("compare.severity.nope=change", "compare.severity.nope: unknown divergence kind"),
        ("unified.response_hash_fields=[text, contact_id]", "is not one of [contact_id, text]"),
        ("orchestrator.release_lock_on_error=1", "valid boolean"),
        ("orchestrator.max_concurrent_contacts=0", "greater than or equal to 1"),
        ("environment.agent.error_rate=1.5", "less than or equal to 1"),
        ("run.gauge_interval=0s", "longer than 0s"),
        ("response_manager.max_attempts=4", "response_manager.backoff: 2 waits"),
        ("environment.sender.latency=recorded", "recorded is only for the agent"),
        ("environment.agent.latency={median: 5s, p95: 1s}", "latency.p95: p95 must not"),
        ("environment.sender.outages=[{from: 5s, to: 1s, failure_rate: 0.3}]", "[0].to"),
        ("environment.restarts=[{at: 10s, downtime: 5s}, {at: 12s, downtime: 1s}]", "[1].at"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(override: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        load_config(None, [override])
    assert message in caught.value.message
    assert caught.value.message.endswith("(from --set)")


def test_errors_in_the_config_file_carry_file_and_line(tmp_path: Path) -> None:
    config = _write(tmp_path, "run:\n  drain: 2m\norchestrator:\n  on_lock_wait_timeout: x\n")
    with pytest.raises(ConfigFileError) as caught:
        load_config(config, [])
    assert isinstance(caught.value, UsageError) and isinstance(caught.value, InputError)
    assert (caught.value.file, caught.value.line) == ("my.yaml", 4)
    assert "orchestrator.on_lock_wait_timeout" in caught.value.reason


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [("a: [1\n", 2, "expected"), ("a: 1\na: 2\n", 2, "repeated"), ("- 1\n", 1, "mapping")],
)
def test_bad_yaml_files(tmp_path: Path, text: str, line: int, reason: str) -> None:
    with pytest.raises(InputError) as caught:
        load_config(_write(tmp_path, text), [])
    assert caught.value.line == line and reason in caught.value.reason
    with pytest.raises(InputError, match="no such file"):
        load_config(tmp_path / "missing.yaml", [])


@pytest.mark.parametrize("item", ["nokey", "=1", "a..b=1", "run.drain=[1"])
def test_malformed_set(item: str) -> None:
    with pytest.raises(UsageError, match="--set"):
        load_config(None, [item])


# --- the command -------------------------------------------------------------------------


def _shadow(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    return subprocess.run(
        [sys.executable, "-c", "from shadow.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )


def test_config_show_unknown_key_exits_3_with_one_line() -> None:
    result = _shadow("config", "show", "--set", "nope=1")
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.startswith("error: unknown key 'nope'")
    assert "Traceback" not in result.stderr


def test_config_show_lines_and_json(tmp_path: Path) -> None:
    config = _write(tmp_path, "unified: {duplicate_window: 5s}\n")
    result = _shadow("config", "show", "--config", str(config), "--set", "run.drain=30s")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(" = ")[0] for line in lines] == list(LEAF_KEYS)
    assert "unified.duplicate_window = 5s  (config:my.yaml)" in lines
    assert "run.drain = 30s  (--set)" in lines
    assert "environment.agent.latency = {median: 3s, p95: 9s}  (default)" in lines
    document = json.loads(_shadow("config", "show", "--json").stdout)
    assert list(document) == sorted(LEAF_KEYS)
    assert document["coordinator.duplicate_window"] == {"value": "3s", "source": "default"}


def test_cli_runner_surfaces_the_usage_error() -> None:
    from typer.testing import CliRunner

    from shadow.cli.app import app

    result = CliRunner().invoke(app, ["config", "show", "--set", "orchestrator.nope=1"])
    assert isinstance(result.exception, UsageError)
    assert "orchestrator.nope" in result.exception.message


# --- documentation -----------------------------------------------------------------------


def test_docs_list_every_key_with_its_default() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert render_doc(text) == text, "docs/config.md is stale: python -m shadow.config.doc"
    table = key_table()
    for key in LEAF_KEYS:
        assert f"| `{key}` |" in table
    assert all(not row.endswith("|  |") for row in table.splitlines()), "a key lacks a meaning"


def test_scenario_defaults_reactive_users_unless_bursts_or_surges() -> None:
    from shadow.config import scenario_environment

    assert scenario_environment({}, ["conversations", "resend"]) == {"users": "reactive"}
    # a burst's or surge's users type on without waiting for replies
    assert scenario_environment(None, ["conversations", "burst"]) == {"users": "open"}
    assert scenario_environment({"users": "reactive"}, ["surge"]) == {"users": "reactive"}
    full = scenario_environment({"environment": {"seed": 3}, "unified": {}}, [])
    assert full == {"environment": {"users": "reactive", "seed": 3}, "unified": {}}
