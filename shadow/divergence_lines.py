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

import pandas as pd

from shadow.compare import OUTCOME_COLUMNS, PairDivergences
from shadow.runfolder import compact_json


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


_OUTCOME_KEYS = sorted(OUTCOME_COLUMNS)
_OUTCOME_TEMPLATE = "{{" + ",".join(f"{compact_json(key)}:{{}}" for key in _OUTCOME_KEYS) + "}}"


def _outcome_texts(frame: pd.DataFrame, rows: Any) -> tuple[list[str], list[str], list[str]]:
    """The rows' outcome texts, and their ``rule`` and ``cause`` texts."""
    subset = frame.iloc[rows]
    columns = {key: _texts(column_values(subset[key])) for key in _OUTCOME_KEYS}
    records = [_OUTCOME_TEMPLATE.format(*values) for values in zip(*columns.values(), strict=True)]
    return records, columns["rule"], columns["cause"]


def divergence_texts(
    pair: PairDivergences, b: pd.DataFrame, c: pd.DataFrame, size: int = 8192
) -> Iterator[str]:
    """The pair's lines of ``divergences.jsonl`` without their newline (guarantee 2)."""
    memo: dict[Any, str] = {}

    def once(value: Any, key: Any) -> str:
        text = memo.get(key)
        if text is None:
            text = memo[key] = compact_json(value)
        return text

    names = f'"baseline":{compact_json(pair.baseline)},"candidate":{compact_json(pair.candidate)},'
    for start in range(0, len(pair.seqs), size):
        rows = pair.seqs[start : start + size]
        b_out, b_rule, b_cause = _outcome_texts(b, rows)
        c_out, c_rule, c_cause = _outcome_texts(c, rows)
        for offset, seq in enumerate(rows.tolist()):
            index = start + offset
            kinds, severities = pair.kinds[index], pair.severities[index]
            severity, sig, effect = pair.severity[index], pair.signature[index], pair.effect[index]
            yield (
                f'{{"attribution":{{"baseline":{{"cause":{b_cause[offset]},"rule":{b_rule[offset]}}},'
                f'"candidate":{{"cause":{c_cause[offset]},"rule":{c_rule[offset]}}}}},{names}'
                + ("" if effect is None else f'"effect":{once(effect, ("e", effect))},')
                + f'"kinds":{once(kinds, ("k", *kinds))},'
                f'"outcomes":{{"baseline":{b_out[offset]},"candidate":{c_out[offset]}}},'
                f'"seq":{int(seq)},'
                f'"severities":{once(severities, ("s", *sorted(severities.items())))},'
                f'"severity":{once(severity, ("v", severity))},'
                f'"signature":{once(sig, ("g", sig))}}}'
            )
