"""The sweep report: Markdown and a self-contained HTML page with a trade-off chart per key.

Guarantees:

1. A pure function of the ``SweepResult``: the same sweep gives byte-identical Markdown, HTML
   and SVG (fixed ``svg.hashsalt``, no date in the SVG metadata, every table in sweep order).
2. The HTML page loads nothing: CSS inline, charts as inline ``<svg>``, a Content-Security-
   Policy forbidding the rest; every value is escaped (Jinja2 autoescape).
3. Each chart: x = the key's values in the order given; lines = seed means of regressions,
   duplicates processed and legitimate repeats lost (unified); bands = min-max across seeds
   (and across the other keys' values when several keys vary); the best value marked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import numpy as np
from jinja2 import Environment, StrictUndefined

from reports import cell
from shadow.sweep.spec import ARM_METRICS, BASELINE, CANDIDATE, format_metric, metric_words

if TYPE_CHECKING:
    from shadow.sweep.result import SweepResult

HASH_SALT = "coordinator-shadow"
#: The trade-off the charts draw: (column, legend, colour).
TRADEOFF = (
    ("regressions", "regressions (legacy vs unified)", "#c92a2a"),
    (f"{CANDIDATE}.duplicate_processing", "duplicates processed (unified)", "#1f5fa8"),
    (f"{CANDIDATE}.legit_repeats_lost", "legitimate repeats lost (unified)", "#2b8a3e"),
)
#: The summary table's columns (seed means, with min-max).
SUMMARY_COLUMNS = (
    "regressions",
    "changes",
    "improvements",
    "new_failures",
    *(f"{CANDIDATE}.{m}" for m in ARM_METRICS),
)
BASELINE_COLUMNS = tuple(f"{BASELINE}.{m}" for m in ARM_METRICS)


@dataclass(frozen=True)
class RenderedSweep:
    markdown: str
    html: str
    charts: dict[str, str]  # file name -> SVG document


def chart_name(key: str) -> str:
    """``unified.duplicate_window`` -> ``sweep-unified-duplicate-window.svg``."""
    return "sweep-" + re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-") + ".svg"


def tradeoff_chart(result: SweepResult, key: str) -> str:
    """Guarantee 3, as an inline ``<svg>`` element (reports.charts.to_svg)."""
    import matplotlib.pyplot as plt

    from reports import to_svg

    plt.rcParams["svg.hashsalt"] = HASH_SALT
    plt.rcParams["svg.fonttype"] = "none"
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["font.size"] = 9
    rows = result.rows
    values = list(dict.fromkeys(str(v) for v in rows[key].tolist()))
    x = np.arange(len(values))
    fig, axes = plt.subplots(figsize=(7.5, 3.4))
    for column, label, tint in TRADEOFF:
        groups = [rows.loc[rows[key] == value, column].to_numpy(dtype=float) for value in values]
        mean = np.array([g.mean() for g in groups])
        axes.fill_between(
            x, [g.min() for g in groups], [g.max() for g in groups], color=tint, alpha=0.15, lw=0
        )
        axes.plot(x, mean, marker="o", color=tint, lw=1.8, label=label)
    resends = [
        rows.loc[rows[key] == value, f"{CANDIDATE}.resends_processed"].to_numpy(dtype=float)
        for value in values
    ]
    axes.plot(
        x,
        [g.mean() for g in resends],
        marker=".",
        color="#1f5fa8",
        lw=1.2,
        ls="--",
        label="of which resends (unified)",
    )
    legacy = rows[f"{BASELINE}.duplicate_processing"].to_numpy(dtype=float).mean()
    axes.axhline(legacy, color="#1f5fa8", lw=1.0, ls=":", label="duplicates processed (legacy)")
    best = result.combos[result.ranking[0]][result.keys.index(key)]
    axes.axvline(values.index(best), color="#495057", lw=1.0, ls="--")
    axes.text(
        values.index(best),
        1.0,
        " best",
        transform=axes.get_xaxis_transform(),
        va="top",
        fontsize=8,
        color="#495057",
    )
    axes.set_xticks(x, values)
    axes.set_xlabel(key)
    axes.set_ylabel(f"messages per replay\n(mean of {result.seeds} seeds; band: min-max)")
    axes.set_ylim(bottom=0)
    axes.grid(True, color="#dde1e6", lw=0.6)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return to_svg(fig)


def _spread(result: SweepResult, index: int, column: str) -> dict[str, str]:
    row = result.summary.iloc[index]
    mean, low, high = (float(row[f"{column}_{s}"]) for s in ("mean", "min", "max"))
    shown = format_metric(column, mean)
    spread = "" if low == high else f"{format_metric(column, low)}-{format_metric(column, high)}"
    return {"mean": shown, "spread": spread}


def context(result: SweepResult) -> dict[str, Any]:
    """What both renderings show (so the Markdown and the HTML never disagree)."""
    best = result.ranking[0]
    rank_of = {index: place + 1 for place, index in enumerate(result.ranking)}
    kinds = [
        column
        for column in result.rows.columns
        if str(column).startswith("kind.") and int(result.rows[column].sum()) > 0
    ]

    def table(columns: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
        return [
            {
                "combo": list(combo),
                "rank": rank_of[index],
                "best": index == best,
                "cells": [_spread(result, index, c) for c in columns],
            }
            for index, combo in enumerate(result.combos)
        ]

    return {
        "title": result.input.text,
        "sentence": result.sentence,
        "command": result.command(),
        "seeds": result.seeds,
        "keys": result.keys,
        "objective": result.objective.describe(),
        "objective_text": result.objective.text,
        "messages": f"{float(result.summary.iloc[best]['messages_mean']):,.0f}",
        "summary_heads": [metric_words(c) for c in SUMMARY_COLUMNS],
        "summary": table(SUMMARY_COLUMNS),
        "baseline_heads": [metric_words(c) for c in BASELINE_COLUMNS],
        "baseline": table(BASELINE_COLUMNS),
        "kind_heads": [c.removeprefix("kind.") for c in kinds],
        "kinds": table(kinds),
        "charts": [
            {"key": key, "file": chart_name(key), "svg": tradeoff_chart(result, key)}
            for key in result.keys
        ],
    }


MARKDOWN = """\
# Shadow sweep: {{ title }}

{{ sentence }}

Reproduce: `{{ command }}`

Each combination was replayed with environment seeds 1..{{ seeds }} (arms legacy and unified;
about {{ messages }} messages per replay). Cells are seed means; the range below is min-max
across seeds. Rank follows the objective: {{ objective }} (`{{ objective_text }}`).

## Unified against legacy, per value

{% macro grid(heads, rows) -%}
| rank | {% for k in keys %}{{ k | cell }} | {% endfor %}{% for h in heads %}{{ h | cell }} | {% endfor %}

|---:|{% for k in keys %}---|{% endfor %}{% for h in heads %}---:|{% endfor %}

{% for r in rows %}| {{ r.rank }}{{ " (best)" if r.best }} | {% for v in r.combo %}{{ v | cell }} | {% endfor %}{% for c in r.cells %}{{ c.mean }}{% if c.spread %} ({{ c.spread }}){% endif %} | {% endfor %}

{% endfor %}
{%- endmacro %}
{{ grid(summary_heads, summary) }}
## Legacy baseline in the same replays

{{ grid(baseline_heads, baseline) }}
{% if kind_heads %}
## Divergences by kind (messages)

{{ grid(kind_heads, kinds) }}
{% endif %}
## Trade-off charts

{% for c in charts %}
![trade-off of {{ c.key }}]({{ c.file }})
{% endfor %}
"""  # noqa: E501 (template lines are table rows)

HTML = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Shadow sweep: {{ title }}</title>
<style>
{{ css }}
</style>
</head>
<body>
<main>
<h1>Shadow sweep</h1>
<p class="sub">{{ title }} · seeds 1..{{ seeds }} · about {{ messages }} messages per replay</p>
<p><strong>{{ sentence }}</strong></p>
<pre>{{ command }}</pre>
<p class="intro">Cells are seed means with the min-max range across seeds. Rank follows the objective: {{ objective }} (<code>{{ objective_text }}</code>).</p>
{% macro grid(heads, rows) %}
<table>
<tr><th class="num">rank</th>{% for k in keys %}<th>{{ k }}</th>{% endfor %}{% for h in heads %}<th class="num">{{ h }}</th>{% endfor %}</tr>
{% for r in rows %}
<tr{% if r.best %} class="best"{% endif %}><td class="num">{{ r.rank }}</td>{% for v in r.combo %}<td>{{ v }}{% if r.best %} <span class="badge s-improvement">best</span>{% endif %}</td>{% endfor %}{% for c in r.cells %}<td class="num">{{ c.mean }}{% if c.spread %}<br><span class="muted small">{{ c.spread }}</span>{% endif %}</td>{% endfor %}</tr>
{% endfor %}
</table>
{% endmacro %}
<h2>Trade-off</h2>
{% for c in charts %}
<h3>{{ c.key }}</h3>
<div class="chart">{{ c.svg | safe }}</div>
{% endfor %}
<h2>Unified against legacy, per value</h2>
{{ grid(summary_heads, summary) }}
<h2>Legacy baseline in the same replays</h2>
{{ grid(baseline_heads, baseline) }}
{% if kind_heads %}
<h2>Divergences by kind (messages)</h2>
{{ grid(kind_heads, kinds) }}
{% endif %}
</main>
</body>
</html>
"""  # noqa: E501 (template lines are table rows)


def _environment(autoescape: bool) -> Environment:
    env = Environment(
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = cell
    return env


def render_sweep(result: SweepResult) -> RenderedSweep:
    """The Markdown, the HTML page and the chart files of a sweep (guarantees 1-3)."""
    data = context(result)
    markdown = _environment(False).from_string(MARKDOWN).render(**data)
    lines: list[str] = []
    for line in markdown.splitlines():
        if line.strip() or (lines and lines[-1].strip()):
            lines.append(line.rstrip())
    css = files("reports").joinpath("templates", "report.css").read_text(encoding="utf-8")
    html = _environment(True).from_string(HTML).render(css=css.strip(), **data)
    prolog = '<?xml version="1.0" encoding="utf-8" standalone="no"?>\n'
    charts = {c["file"]: prolog + c["svg"].strip() + "\n" for c in data["charts"]}
    return RenderedSweep("\n".join(lines).strip() + "\n", html, charts)


__all__ = ["RenderedSweep", "chart_name", "render_sweep", "tradeoff_chart"]
