"""``divergences.jsonl`` written from columns holds the reference dicts' JSON, byte for byte."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shadow.compare.lines as divergence_lines
import shadow.replay.chunks as chunks
import shadow.replay.manifest as manifest
from shadow.common.jsonio import compact_json
from shadow.compare.lines import outcome_records
from shadow.compare.pairs import PairDivergences
from shadow.compare.signatures import divergence_records
from shadow.replay.inputs import ReplayOptions
from shadow.replay.pipeline import replay

json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False),  # outcome_records turns NaN into None
    st.text(),
    st.lists(st.text(max_size=3), max_size=3),
)


@settings(deadline=None)
@given(st.lists(json_values, max_size=30))
def test_each_value_is_encoded_as_compact_json_encodes_it(values: list[Any]) -> None:
    assert divergence_lines._texts(values) == [compact_json(value) for value in values]


@settings(deadline=None)
@given(
    st.sampled_from(["float64", "bool", "int64", "Int64", "string"]).flatmap(
        lambda dtype: st.tuples(
            st.just(dtype),
            st.lists(
                {
                    "float64": st.one_of(st.none(), st.floats()),
                    "bool": st.booleans(),
                    "int64": st.integers(-(2**63), 2**63 - 1),
                    "Int64": st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
                    "string": st.one_of(st.none(), st.text()),
                }[dtype],
                max_size=20,
            ),
        )
    )
)
def test_a_column_is_encoded_as_its_values_one_by_one(column: tuple[str, list[Any]]) -> None:
    dtype, values = column
    if dtype == "string":
        series = pd.Series(pd.arrays.ArrowStringArray(pa.array(values, pa.string())))
    elif dtype == "float64":
        series = pd.Series([np.nan if v is None else v for v in values], dtype="float64")
    elif dtype in ("bool", "int64"):
        series = pd.Series(values, dtype=dtype)
    else:
        series = pd.Series(pd.array(values, dtype=dtype))
    expected = divergence_lines._texts(divergence_lines.column_values(series))
    assert divergence_lines._column_texts(series) == expected


@pytest.mark.parametrize(
    ("scenario", "options"),
    [
        ("conflict-2-oi", {"arms": ["legacy", "unified", "coordinator"]}),
        ("send-failures", {"stages": [10, 50]}),
        ("restart-mid-traffic", {"arms": ["legacy", "unified", "legacy~1", "orchestrator"]}),
    ],
)
def test_written_lines_are_the_reference_dicts_as_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, scenario: str, options: dict[str, Any]
) -> None:
    written: list[str] = []

    def checked(
        pair: PairDivergences, b: pd.DataFrame, c: pd.DataFrame, first_seq: int = 0
    ) -> Iterator[str]:
        texts = list(divergence_lines.divergence_texts(pair, b, c, 7, first_seq))  # in pieces
        reference = divergence_records(pair, b, c, outcome_records)
        shifted = [{**line, "seq": line["seq"] + first_seq} for line in reference]
        assert texts == [compact_json(line) for line in shifted]
        written.extend(texts)
        return iter(texts)

    monkeypatch.setattr(chunks, "divergence_texts", checked)  # the streaming replay (--chunk)
    monkeypatch.setattr(manifest, "divergence_texts", checked)  # the whole-run replay
    out = tmp_path / "run"
    replay(ReplayOptions(inputs=[f"scenario:{scenario}"], out=out, reports=False, **options))
    assert written, "the scenario should diverge somewhere"
    assert (out / "divergences.jsonl").read_text(encoding="utf-8").splitlines() == written
    if options.get("stages"):
        assert any('"effect":' in line for line in written)
