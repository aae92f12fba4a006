"""Outcome records and ``divergences.jsonl`` lines, as dicts and as the file's text.

Guarantees:

1. ``outcome_records`` gives an outcome row as a JSON-able dict: nulls are ``None``, floats
   rounded to the µs.
2. ``divergence_texts`` gives, line for line, exactly the text ``runfolder.write_jsonl`` writes
   for ``compare.divergence_records`` with ``outcome_records`` (sorted keys, no spaces, no
   ASCII escaping), without building a dict per line: the outcome columns are encoded a
   column at a time, and the lines assembled from the pieces. The dict form stays the
   reference; a test holds the two together.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from json.encoder import encode_basestring  # json.dumps' own, with ensure_ascii off
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from shadow.common import compact_json
from shadow.compare.frame import OUTCOME_COLUMNS
from shadow.compare.pairs import PairDivergences


def column_values(series: pd.Series) -> list[Any]:
    """A column's values as plain Python values (guarantee 1)."""
    if series.dtype == "float64":
        return [None if value != value else round(value, 6) for value in series.tolist()]
    if series.dtype == "bool":
        return [bool(value) for value in series.tolist()]
    return [None if value is pd.NA else value for value in series.tolist()]


def outcome_records(frame: pd.DataFrame, rows: Any) -> list[dict[str, Any]]:
    """Outcome rows as JSON-able dicts (nulls as None, floats rounded to the µs), column-wise."""
    subset = frame.iloc[rows]
    columns = [column_values(subset[column]) for column in OUTCOME_COLUMNS]
    return [
        dict(zip(OUTCOME_COLUMNS, values, strict=True)) for values in zip(*columns, strict=True)
    ]


def _texts(values: list[Any]) -> list[str]:
    """Each value's JSON text, as ``compact_json`` writes it: numbers, strings and nulls
    directly (what json itself calls), anything else through ``compact_json``."""
    texts = []
    for value in values:
        kind = type(value)
        if kind is str:
            texts.append(encode_basestring(value))
        elif kind is int:
            texts.append(int.__repr__(value))
        elif kind is float and math.isfinite(value):
            texts.append(float.__repr__(value))
        elif value is None:
            texts.append("null")
        elif kind is bool:
            texts.append("true" if value else "false")
        else:
            texts.append(compact_json(value))
    return texts


def _column_texts(series: pd.Series) -> list[str]:
    """``_texts(column_values(series))`` a column at a time, for the outcome frames' dtypes."""
    dtype = series.dtype
    if dtype == "float64":
        # each distinct value (by its bits: -0.0 stays apart from 0.0) rounded and written once
        bits, where = np.unique(series.to_numpy().view(np.int64), return_inverse=True)
        distinct = bits.view(np.float64).tolist()
        texts = ["null" if value != value else compact_json(round(value, 6)) for value in distinct]
        return list(np.array(texts, dtype=object)[where.reshape(-1)])
    if dtype == "bool":
        return ["true" if value else "false" for value in series.tolist()]
    if dtype == "int64":
        return list(map(int.__repr__, series.tolist()))
    if isinstance(dtype, pd.Int64Dtype):
        texts = list(map(int.__repr__, series.to_numpy(dtype=np.int64, na_value=0).tolist()))
        for row in np.flatnonzero(series.isna().to_numpy()).tolist():
            texts[row] = "null"
        return texts
    if isinstance(dtype, pd.StringDtype):
        encoded = pa.array(series).dictionary_encode()  # each distinct string escaped once
        table = np.array(
            [*map(encode_basestring, encoded.dictionary.to_pylist()), "null"], dtype=object
        )
        return list(table[encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)])
    return _texts(column_values(series))


_OUTCOME_KEYS = sorted(OUTCOME_COLUMNS)
_OUTCOME_TEMPLATE = "{{" + ",".join(f"{compact_json(key)}:{{}}" for key in _OUTCOME_KEYS) + "}}"


def _outcome_texts(frame: pd.DataFrame, rows: Any) -> tuple[list[str], list[str], list[str]]:
    """The rows' outcome texts, and their ``rule`` and ``cause`` texts."""
    subset = frame.iloc[rows]
    columns = {key: _column_texts(subset[key]) for key in _OUTCOME_KEYS}
    records = [_OUTCOME_TEMPLATE.format(*values) for values in zip(*columns.values(), strict=True)]
    return records, columns["rule"], columns["cause"]


def divergence_texts(
    pair: PairDivergences,
    b: pd.DataFrame,
    c: pd.DataFrame,
    size: int = 8192,
    first_seq: int = 0,
) -> Iterator[str]:
    """The pair's lines of ``divergences.jsonl`` without their newline (guarantee 2).

    ``pair.seqs`` are rows of ``b`` and ``c``, whose first row is seq ``first_seq``."""
    names = f'"baseline":{compact_json(pair.baseline)},"candidate":{compact_json(pair.candidate)},'
    effects: dict[str | None, str] = {
        None: "",
        **{effect: f'"effect":{compact_json(effect)},' for effect in ("direct", "indirect")},
    }
    # the text of each distinct (kinds, severities, signature): a few per pair
    verdicts: dict[tuple[Any, ...], tuple[str, str]] = {}
    for start in range(0, len(pair.seqs), size):
        rows = pair.seqs[start : start + size]
        b_out, b_rule, b_cause = _outcome_texts(b, rows)
        c_out, c_rule, c_cause = _outcome_texts(c, rows)
        for offset, seq in enumerate(rows.tolist()):
            index = start + offset
            kinds, severities = pair.kinds[index], pair.severities[index]
            severity, sig = pair.severity[index], pair.signature[index]
            key = (sig, severity, *kinds, *severities.items())
            verdict = verdicts.get(key)
            if verdict is None:
                verdict = verdicts[key] = (
                    f'"kinds":{compact_json(kinds)},',
                    f'"severities":{compact_json(severities)},"severity":{compact_json(severity)},'
                    f'"signature":{compact_json(sig)}}}',
                )
            yield (
                f'{{"attribution":{{"baseline":{{"cause":{b_cause[offset]},"rule":{b_rule[offset]}}},'
                f'"candidate":{{"cause":{c_cause[offset]},"rule":{c_rule[offset]}}}}},{names}'
                f"{effects[pair.effect[index]]}{verdict[0]}"
                f'"outcomes":{{"baseline":{b_out[offset]},"candidate":{c_out[offset]}}},'
                f'"seq":{first_seq + seq},{verdict[1]}'
            )
