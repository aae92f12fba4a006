"""Reading a divergence line without its outcome records gives the same fields otherwise."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from shadow.gate.files import _without_outcome_records, read_divergences

TEXT = st.text(alphabet=st.sampled_from(list('ab{}[],:"\\ é')), max_size=8)


def _line(contact: str, cause: str, last: bool) -> dict[str, Any]:
    record = {"arm": "legacy", "contact_id": contact, "fate": "answered", "seq": 3}
    line: dict[str, Any] = {
        "attribution": {"baseline": {"cause": cause, "rule": ""}, "candidate": {}},
        "baseline": "legacy",
        "candidate": "unified",
        "kinds": ["lost_reply"],
        "outcomes": {"baseline": record, "candidate": {**record, "contact_id": cause}},
        "seq": 3,
    }
    if last:  # the member last, as another writer might order it
        line["zzz"] = line.pop("seq")
        line["outcomes"] = line.pop("outcomes")
        line["seq"] = line.pop("zzz")
        line = {key: line[key] for key in [*[k for k in line if k != "outcomes"], "outcomes"]}
    return line


@given(contact=TEXT, cause=TEXT, last=st.booleans())
def test_the_line_read_is_the_line_without_its_outcomes(
    contact: str, cause: str, last: bool
) -> None:
    """Braces, quotes and backslashes in the records' strings: the cut is made only where it
    is certain, else the whole line is parsed; the fields read are the same either way."""
    line = _line(contact, cause, last)
    text = json.dumps(line, separators=(",", ":"), ensure_ascii=False)
    expected = {key: value for key, value in line.items() if key != "outcomes"}
    parsed = json.loads(_without_outcome_records(text))
    parsed.pop("outcomes", None)
    assert parsed == expected


def test_read_divergences_keeps_every_other_field(tmp_path: Any) -> None:
    lines = [_line("c1", "x}}y", False), _line('q"}}', "", False), _line("c3", "", True)]
    path = tmp_path / "divergences.jsonl"
    path.write_text(
        "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines),
        encoding="utf-8",
    )
    read = read_divergences(path)
    for found, line in zip(read, lines, strict=True):
        found.pop("outcomes", None)
        assert found == {key: value for key, value in line.items() if key != "outcomes"}


def test_a_line_as_replay_writes_it_is_cut() -> None:
    for last in (False, True):
        text = json.dumps(_line("c1", "unified.lock", last), separators=(",", ":"))
        assert '"outcomes"' not in _without_outcome_records(text)
