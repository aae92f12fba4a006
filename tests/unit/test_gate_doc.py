"""docs/gate.md's waiver example is a valid waiver file and its tables name every field."""

from __future__ import annotations

import re
from pathlib import Path

from shadow.gate.policy import Check, Policy, Waiver, parse_waivers

DOC = Path(__file__).resolve().parents[2] / "docs" / "gate.md"


def test_the_waiver_example_parses_and_uses_every_field() -> None:
    text = DOC.read_text(encoding="utf-8")
    example = re.search(r"A full waiver file[^\n]*\n\n```yaml\n(.*?)```", text, re.S)
    assert example is not None
    waivers = parse_waivers(example.group(1), "docs/gate.md")
    assert len(waivers) == 2
    used = {key for waiver in waivers for key in waiver.model_dump(exclude_none=True)}
    assert used == set(Waiver.model_fields)


def test_every_policy_check_and_waiver_key_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for key in [*Policy.model_fields, *Check.model_fields, *Waiver.model_fields]:
        if key != "name":
            assert f"`{key}" in text, key
