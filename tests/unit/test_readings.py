"""The open readings are declared once (``shadow.config.READINGS``): every ``[A#]`` switch of
the schema with enumerated values is there with exactly its values, and every value listed is
one the configuration accepts."""

from __future__ import annotations

import re
import typing
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from shadow.common import ShadowError
from shadow.config import READINGS, load_config, selected_readings, set_argument
from shadow.config.schema import ShadowConfig

TAG = re.compile(r"\[A\d+\]")
#: [A19] is how the flag is evaluated: the flip's mode is replayed with --flip-mode, the
#: provider is the team's own configuration, not a reading of the seed's code
NOT_READINGS = {"rollout.flip_mode", "rollout.provider"}


def _leaves(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any, str]]:
    found = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.extend(_leaves(annotation, key + "."))
        else:
            found.append((key, annotation, info.description or ""))
    return found


def _enumerated(annotation: Any) -> tuple[Any, ...] | None:
    if annotation is bool:
        return (True, False)
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)
    return None


def test_every_tagged_switch_is_a_reading_with_its_values() -> None:
    declared = {reading.key: set(map(repr, reading.values)) for reading in READINGS}
    for key, annotation, description in _leaves(ShadowConfig):
        if not TAG.search(description) or key in NOT_READINGS:
            continue
        values = _enumerated(annotation)
        if values is None:
            continue  # numeric: not varied (docs/gate.md, Open readings)
        assert key in declared, f"{key} is an [A#] switch but not an open reading"
        assert declared[key] == set(map(repr, values)), key


def test_list_valued_reading_is_declared() -> None:
    # unified.response_hash_fields is a list: its two accepted shapes are its values
    (reading,) = [r for r in READINGS if r.key == "unified.response_hash_fields"]
    assert reading.values == (["contact_id", "text"], ["text"])
    with pytest.raises(ShadowError):
        load_config(None, [set_argument(reading.key, ["text", "contact_id", "text"])])


@pytest.mark.parametrize("reading", READINGS, ids=lambda r: r.key)
def test_every_value_is_accepted_and_the_default_is_one_of_them(reading: Any) -> None:
    default = load_config(None, []).flat()[reading.key]
    assert default in reading.values
    for value in reading.values:
        assert load_config(None, [set_argument(reading.key, value)]).flat()[reading.key] == value
    assert len({repr(v) for v in reading.values}) == len(reading.values) >= 2


def test_run_readings_selects_all_none_or_a_list() -> None:
    assert selected_readings("all") == READINGS
    assert selected_readings("none") == ()
    assert [r.key for r in selected_readings(["unified.late_result"])] == ["unified.late_result"]
    with pytest.raises(ShadowError, match="not an open reading"):
        load_config(None, ["run.readings=[unified.duplicate_window]"])


def test_a_policy_pins_only_declared_readings_with_their_values() -> None:
    from shadow.common import InputError
    from shadow.gate.policy import parse_policy

    base = (
        "min_messages: 1\nmin_contacts: 1\nchecks: [{name: c, kinds: [lost_reply], max_count: 0}]\n"
    )
    pin = "readings: {unified.late_result: {value: send, reason: read the code, approver: a}}\n"
    assert parse_policy(base + pin, "p.yaml").readings["unified.late_result"].value == "send"
    with pytest.raises(InputError, match="not one of drop, send"):
        parse_policy(base + pin.replace("send", "later"), "p.yaml")
    with pytest.raises(InputError, match="not an open reading"):
        parse_policy(base + pin.replace("unified.late_result", "unified.max_locks"), "p.yaml")
    with pytest.raises(InputError, match="approver"):
        parse_policy(base + pin.replace(", approver: a", ""), "p.yaml")
