"""A run folder or a previous verdict written by another schema version is refused, naming
the file and what to do, never read as if it were current (a gate must not pass on it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gate_run_folder import healthy_run

from shadow.common import InputError
from shadow.gate.files import read_previous
from shadow.gate.verdict import SCHEMA_VERSION as GATE_SCHEMA_VERSION
from shadow.runfolder import SCHEMA_VERSION, verify_folder


def _rewrite(path: Path, **changes: object) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**document, **changes}), encoding="utf-8")


def test_current_run_folder_is_read(tmp_path: Path) -> None:
    manifest, paths = verify_folder(healthy_run(tmp_path / "run", messages=50, contacts=10))
    assert manifest["schema_version"] == SCHEMA_VERSION and "outcomes" in paths


@pytest.mark.parametrize("version", [SCHEMA_VERSION - 1, SCHEMA_VERSION + 1, None])
def test_other_run_folder_schema_is_refused(tmp_path: Path, version: int | None) -> None:
    run = healthy_run(tmp_path / "run", messages=50, contacts=10)
    _rewrite(run / "run.json", schema_version=version)
    with pytest.raises(InputError) as caught:
        verify_folder(run)
    assert caught.value.exit_code == 3
    assert f"schema_version {version} is not {SCHEMA_VERSION}" in caught.value.message
    assert "replay the capture again" in caught.value.message


def test_previous_verdict_of_another_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gate-10.json"
    document = {"schema_version": GATE_SCHEMA_VERSION, "stage": 10, "fingerprint": "f"}
    path.write_text(json.dumps(document), encoding="utf-8")
    assert read_previous(path)["stage"] == 10
    _rewrite(path, schema_version=GATE_SCHEMA_VERSION - 1)
    with pytest.raises(InputError, match="gate the previous stage again"):
        read_previous(path)
