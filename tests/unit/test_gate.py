"""The gate end to end on small run folders: fail closed, waivers, verdicts (docs/gate.md)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from gate_run_folder import SETTINGS, contact_of, healthy_run, line, outcome_rows, write_run

from shadow.common.errors import InputError, UsageError
from shadow.gate.files import load_gate_input, load_policy
from shadow.gate.policy import Policy, Waiver, parse_policy, parse_waivers
from shadow.gate.verdict import GateOptions, GateReport, evaluate
from shadow.rollout.flags import RolloutSettings, fingerprint, in_stage

POLICY = """
baseline: previous
min_messages: 100
min_contacts: 20
confidence: 0.95
method: clopper-pearson
checks:
  - name: no lost replies
    metric: new_failures
    max_rate: 0.05
    max_contact_rate: 0.2
    scope: direct
  - name: latency
    metric: reply_latency_p95
    max_increase: 2s
  - name: order and handover
    kinds: [order_broken, handover]
    max_count: 0
"""
AS_OF = dt.date(2025, 3, 1)
MESSAGES, CONTACTS = 3000, 500


def policy(text: str = POLICY) -> Policy:
    return parse_policy(text, "policy.yaml")


def gate(
    folder: Path,
    stage: int = 10,
    *,
    pol: Policy | None = None,
    waivers: list[Waiver] | None = None,
    previous: dict[str, Any] | None = None,
    as_of: dt.date = AS_OF,
) -> GateReport:
    options = GateOptions(
        stage=stage,
        as_of=as_of,
        policy_sha256="0" * 64,
        policy_source="policy.yaml",
        waivers=waivers or [],
        previous=previous,
    )
    return evaluate(load_gate_input(folder, "run"), pol or policy(), options)


def check(report: GateReport, name: str) -> dict[str, Any]:
    return next(c for c in report.document["checks"] if c["name"] == name)


def cohort_contacts(stage: int = 10) -> list[int]:
    return [i for i in range(CONTACTS) if in_stage(contact_of(i, CONTACTS), stage, SETTINGS)]


def failing_run(folder: Path, contacts: list[int], **kw: Any) -> Path:
    failing = [seq for seq in range(MESSAGES) if seq % CONTACTS in contacts]
    rows = outcome_rows("legacy", MESSAGES, CONTACTS) + outcome_rows(
        "rollout@10", MESSAGES, CONTACTS, stage=10, failing=failing
    )
    lines = [line(seq, contact_of(seq, CONTACTS), ["lost_reply"]) for seq in failing]
    return write_run(folder, rows, lines, **kw)


def test_healthy_run_passes(tmp_path: Path) -> None:
    report = gate(healthy_run(tmp_path, MESSAGES, CONTACTS))
    assert report.verdict == "pass", report.document["reasons"]
    assert report.exit_status == 0
    assert report.document["cohort"]["messages"] == 6 * len(cohort_contacts())


def test_gate_on_a_cohort_of_2_messages_is_not_pass(tmp_path: Path) -> None:
    rows = outcome_rows("legacy", 2, 2) + outcome_rows("rollout@100", 2, 2, stage=100)
    folder = write_run(tmp_path, rows, [], arms=("legacy", "rollout@100"))
    report = gate(folder, 100)
    assert report.verdict == "inconclusive"
    assert check(report, "cohort size")["messages_needed"] == 100
    assert report.exit_status == 2


def test_empty_cohort_fails(tmp_path: Path) -> None:
    rows = outcome_rows("legacy", 10, 10) + [
        {**row, "system": "legacy"} for row in outcome_rows("rollout@10", 10, 10, stage=10)
    ]
    report = gate(write_run(tmp_path, rows, []))
    assert report.verdict == "fail"
    assert check(report, "cohort size")["verdict"] == "fail"
    reason = check(report, "cohort size")["reason"]
    # what usually empties a cohort: the flag's name, provider, salt, the stage
    assert "stage 10" in reason and "USE_UNIFIED" in reason
    assert all(word in reason for word in ("--flag", "--provider", "rollout.salt", "--stage"))


def test_missing_stage_arm_fails(tmp_path: Path) -> None:
    report = gate(healthy_run(tmp_path, 300, 50), stage=50)
    assert report.verdict == "fail"
    assert "rollout@50" in check(report, "stage arms")["reason"]
    assert check(report, "no lost replies")["verdict"] == "fail"


def test_tampered_run_folder_is_bad_input(tmp_path: Path) -> None:
    folder = healthy_run(tmp_path, 300, 50)
    with (folder / "divergences.jsonl").open("a") as handle:
        handle.write(json.dumps(line(1, "c000001", ["lost_reply"])) + "\n")
    with pytest.raises(InputError, match=r"divergences\.jsonl.*sha256"):
        load_gate_input(folder, "run")


def test_tampered_run_folder_exits_3_from_the_command_line(tmp_path: Path) -> None:
    folder = healthy_run(tmp_path / "run", 300, 50)
    with (folder / "divergences.jsonl").open("a") as handle:
        handle.write("{}\n")
    done = subprocess.run(
        [sys.executable, "-m", "shadow.cli", "gate", str(folder), "--stage", "10"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert "divergences.jsonl" in done.stderr and "Traceback" not in done.stderr


def test_missing_listed_file_is_bad_input(tmp_path: Path) -> None:
    folder = healthy_run(tmp_path, 300, 50)
    (folder / "outcomes.parquet").unlink()
    with pytest.raises(InputError, match=r"outcomes\.parquet"):
        load_gate_input(folder, "run")


def test_fingerprint_mismatch_with_previous_fails(tmp_path: Path) -> None:
    folder = healthy_run(tmp_path, MESSAGES, CONTACTS)
    other = fingerprint(RolloutSettings(group_id="another-group"))
    report = gate(folder, previous={"stage": 10, "verdict": "pass", "fingerprint": other})
    assert report.verdict == "fail"
    assert "group_id" in check(report, "flag fingerprint")["reason"]
    same = gate(
        folder, previous={"stage": 10, "verdict": "pass", "fingerprint": fingerprint(SETTINGS)}
    )
    assert check(same, "flag fingerprint")["verdict"] == "pass"


def test_later_stage_without_previous_is_inconclusive(tmp_path: Path) -> None:
    rows = (
        outcome_rows("legacy", MESSAGES, CONTACTS)
        + outcome_rows("rollout@10", MESSAGES, CONTACTS, stage=10)
        + outcome_rows("rollout@50", MESSAGES, CONTACTS, stage=50)
    )
    folder = write_run(tmp_path, rows, [], arms=("legacy", "rollout@10", "rollout@50"))
    report = gate(folder, 50)
    assert report.document["baseline"] == "rollout@10"
    assert report.verdict == "inconclusive"
    assert "--previous" in check(report, "flag fingerprint")["reason"]


def test_any_harness_error_fails(tmp_path: Path) -> None:
    rows = outcome_rows("legacy", MESSAGES, CONTACTS) + outcome_rows(
        "rollout@10", MESSAGES, CONTACTS, stage=10
    )
    folder = write_run(tmp_path, rows, [line(7, contact_of(7, CONTACTS), ["harness_error"])])
    report = gate(folder)
    assert report.verdict == "fail"
    assert check(report, "harness errors in the run")["examples"][0]["seq"] == 7


def test_new_failures_fail_with_numbers_and_explain_commands(tmp_path: Path) -> None:
    folder = failing_run(tmp_path, cohort_contacts()[:6])
    report = gate(folder)
    result = check(report, "no lost replies")
    assert report.verdict == "fail" and result["verdict"] == "fail"
    messages = next(m for m in result["measures"] if m["unit"] == "messages")
    assert messages["count"] == 36 and messages["lower"] > 0.05
    assert "max_rate 5%" in result["reason"]
    assert len(result["examples"]) == 5
    assert result["examples"][0]["command"].startswith("shadow explain run --seq ")


def test_indirect_failures_do_not_count_in_a_direct_check(tmp_path: Path) -> None:
    outside = [i for i in range(CONTACTS) if i not in cohort_contacts()][:6]
    report = gate(failing_run(tmp_path, outside))
    assert check(report, "no lost replies")["verdict"] == "pass"


def test_latency_regression_fails(tmp_path: Path) -> None:
    rows = outcome_rows("legacy", MESSAGES, CONTACTS) + outcome_rows(
        "rollout@10", MESSAGES, CONTACTS, stage=10, slow_by=5.0
    )
    report = gate(write_run(tmp_path, rows, []))
    result = check(report, "latency")
    assert result["verdict"] == "fail"
    direct = next(m for m in result["measures"] if m["scope"] == "direct")
    assert direct["observed"] == pytest.approx(5.0) and direct["lower"] > 2.0


def test_kinds_check_counts_regressions_only(tmp_path: Path) -> None:
    rows = outcome_rows("legacy", MESSAGES, CONTACTS) + outcome_rows(
        "rollout@10", MESSAGES, CONTACTS, stage=10
    )
    lines = [
        line(3, contact_of(3, CONTACTS), ["order_fixed"], severity="improvement"),
        line(4, contact_of(4, CONTACTS), ["order_broken"]),
    ]
    report = gate(write_run(tmp_path, rows, lines))
    result = check(report, "order and handover")
    assert result["verdict"] == "fail" and result["improvements"] == 1
    assert [e["seq"] for e in result["examples"]] == [4]


def test_incoherent_policy_is_rejected_with_the_n_needed() -> None:
    with pytest.raises(UsageError, match="min_messages >= 598"):
        policy(POLICY.replace("min_messages: 100", "min_messages: 100").replace("0.05", "0.005"))


def test_unknown_policy_key_is_rejected() -> None:
    with pytest.raises(InputError, match="Extra inputs"):
        policy(POLICY + "speed: fast\n")


def test_bundled_policies_are_coherent() -> None:
    for stage in (10, 50, 100):
        loaded = load_policy(None, stage)
        assert loaded.policy.checks and len(loaded.sha256) == 64
    with pytest.raises(UsageError, match="--policy"):
        load_policy(None, 25)


def waiver(**overrides: Any) -> Waiver:
    data: dict[str, Any] = {
        "signature": "aaaaaaaaaaaa",
        "approver": "ana",
        "reason": "known timeout, fixed in v2",
        "link": "https://example.org/issue/1",
        "expires": "2025-06-01",
        "stages": [10],
        "max_count": 100,
    }
    data.update(overrides)
    return parse_waivers(json.dumps([data]), "waivers.yaml")[0]


def test_waiver_accepts_divergences_and_lists_them_apart(tmp_path: Path) -> None:
    report = gate(failing_run(tmp_path, cohort_contacts()[:6]), waivers=[waiver()])
    assert check(report, "no lost replies")["verdict"] == "pass"
    assert check(report, "no lost replies")["waived"] == 36
    assert report.document["waived"][0]["count"] == 36
    assert report.document["waivers"][0]["status"] == "used"


def test_expired_waiver_is_stale(tmp_path: Path) -> None:
    folder = failing_run(tmp_path, cohort_contacts()[:6])
    report = gate(folder, waivers=[waiver(expires="2025-03-01")])
    assert report.document["waivers"][0]["status"] == "stale_expired"
    assert report.verdict == "fail"
    assert gate(folder, waivers=[waiver(expires="2025-03-02")]).verdict == "pass"


def test_waiver_over_max_count_is_stale(tmp_path: Path) -> None:
    report = gate(failing_run(tmp_path, cohort_contacts()[:6]), waivers=[waiver(max_count=10)])
    assert report.document["waivers"][0]["status"] == "stale_exceeded"
    assert report.verdict == "fail"


def test_unused_and_other_stage_waivers_are_reported(tmp_path: Path) -> None:
    by_cause = waiver(signature=None, kinds=["lost_reply"], causes=["nothing.matches"])
    report = gate(
        healthy_run(tmp_path, MESSAGES, CONTACTS), waivers=[by_cause, waiver(stages=[50])]
    )
    assert [w["status"] for w in report.document["waivers"]] == ["unused", "other_stage"]


def test_waiver_by_kinds_and_causes(tmp_path: Path) -> None:
    by_cause = waiver(signature=None, kinds=["lost_reply"], causes=["unified.processing_timeout"])
    report = gate(failing_run(tmp_path, cohort_contacts()[:6]), waivers=[by_cause])
    assert report.verdict == "pass"


def test_harness_error_cannot_be_waived() -> None:
    with pytest.raises(InputError, match="harness_error"):
        waiver(signature=None, kinds=["harness_error"], causes=["x"])


def test_verdict_document_is_deterministic(tmp_path: Path) -> None:
    folder = failing_run(tmp_path, cohort_contacts()[:2])
    first = json.dumps(gate(folder).document, sort_keys=True)
    assert first == json.dumps(gate(folder).document, sort_keys=True)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shadow.cli", *args], capture_output=True, text=True, check=False
    )


def test_healthy_20000_message_run_gives_a_verdict_with_junit_and_markdown(tmp_path: Path) -> None:
    folder = healthy_run(tmp_path / "run", messages=20_000, contacts=2_500)
    junit, summary = tmp_path / "gate.xml", tmp_path / "gate.md"
    done = run_cli(
        "gate", str(folder), "--stage", "10", "--as-of", "2025-03-01",
        "--junit", str(junit), "--summary", str(summary), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["verdict"] == "pass" and document["as_of"] == "2025-03-01"
    assert json.loads((folder / "gate-10.json").read_text()) == document
    cases = ET.parse(junit).getroot().findall("./testsuite/testcase")
    assert [case.get("name") for case in cases] == [check["name"] for check in document["checks"]]
    assert summary.read_text().startswith("## Shadow gate, stage 10%: ✅ pass")


def test_failing_gate_exits_1_and_reports_the_numbers(tmp_path: Path) -> None:
    folder = failing_run(tmp_path / "run", cohort_contacts()[:6])
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(POLICY)
    junit, summary = tmp_path / "gate.xml", tmp_path / "gate.md"
    done = run_cli(
        "gate", str(folder), "--stage", "10", "--policy", str(policy_file),
        "--as-of", "2025-03-01", "--junit", str(junit), "--summary", str(summary),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    failure = ET.parse(junit).getroot().find(".//testcase[@name='no lost replies']/failure")
    assert failure is not None and "36 of" in failure.get("message", "")
    assert "shadow explain" in (failure.text or "")
    text = summary.read_text()
    assert "❌ fail: no lost replies" in text and "--arms legacy,rollout@10" in text


def test_inconclusive_gate_exits_2(tmp_path: Path) -> None:
    rows = outcome_rows("legacy", 2, 2) + outcome_rows("rollout@100", 2, 2, stage=100)
    folder = write_run(tmp_path / "run", rows, [], arms=("legacy", "rollout@100"))
    done = run_cli("gate", str(folder), "--stage", "100", "--as-of", "2025-03-01")
    assert done.returncode == 2, done.stderr
    assert "cohort too small" in done.stderr


def test_reports_are_deterministic(tmp_path: Path) -> None:
    from reports.gate_summary import render_gate_summary
    from reports.junit import render_junit

    folder = failing_run(tmp_path, cohort_contacts()[:2])
    first, second = gate(folder).document, gate(folder).document
    assert render_junit(first) == render_junit(second)
    assert render_gate_summary(first) == render_gate_summary(second)


def test_require_waiver_fails_on_an_unwaived_change(tmp_path: Path) -> None:
    rows = outcome_rows("legacy", MESSAGES, CONTACTS) + outcome_rows(
        "rollout@10", MESSAGES, CONTACTS, stage=10
    )
    lines = [line(5, contact_of(5, CONTACTS), ["batching_changed"], severity="change")]
    folder = write_run(tmp_path, rows, lines)
    strict = policy(POLICY + "changes: require_waiver\n")
    assert check(gate(folder, pol=strict), "changes waived")["verdict"] == "fail"
    assert gate(folder, pol=strict, waivers=[waiver()]).verdict == "pass"
    assert gate(folder).verdict == "pass"  # changes: report


def test_inline_waivers_in_the_policy() -> None:
    text = POLICY + (
        "waivers:\n  - {signature: aaaaaaaaaaaa, approver: a, reason: r, link: l,\n"
        "     expires: 2025-06-01, stages: [10], max_count: 1}\n"
    )
    parsed = policy(text)
    assert isinstance(parsed.waivers, list) and parsed.waivers[0].max_count == 1
    with pytest.raises(InputError, match="waivers"):
        policy(POLICY + "waivers:\n  - {signature: aaaaaaaaaaaa}\n")


def test_the_terminal_lists_waivers_used_and_unused(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from shadow.cli.app import app

    folder = failing_run(tmp_path / "run", cohort_contacts()[:6])
    used = waiver().model_dump(mode="json", exclude_none=True)
    unused = {**used, "signature": "bbbbbbbbbbbb", "approver": "bia"}
    document = {**yaml.safe_load(POLICY), "waivers": [used, unused]}
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(document))
    result = CliRunner().invoke(
        app,
        [
            "gate",
            str(folder),
            "--stage",
            "10",
            "--policy",
            str(tmp_path / "policy.yaml"),
            "--as-of",
            AS_OF.isoformat(),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("waiver ")]
    assert lines == [
        "waiver 1 used: signature aaaaaaaaaaaa, 36 matched (approved by ana)",
        "waiver 2 unused: signature bbbbbbbbbbbb, 0 matched (approved by bia)",
    ]
