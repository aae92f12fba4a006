"""Charts as inline SVG (matplotlib, Agg backend), byte-identical for the same data.

Guarantees:

1. The SVG carries no date and a fixed hash salt (``svg.hashsalt``), text stays text
   (``svg.fonttype: none``): the same data gives the same bytes, and the page needs no font.
2. Charts receive aggregated data only (quantile curves, time bins): a chart's size does not
   grow with the run.
3. Each arm keeps one colour in every chart (its position in the run's arm list).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

HASH_SALT = "coordinator-shadow"
PALETTE = ("#1f5fa8", "#d9480f", "#2b8a3e", "#7048e8", "#868e96", "#c2255c", "#0b7285")


def colour(arms: Sequence[str], arm: str) -> str:
    index = list(arms).index(arm) if arm in arms else len(arms)
    return PALETTE[index % len(PALETTE)]


def to_svg(fig: Figure) -> str:
    """The figure as an ``<svg>`` element without XML prolog (guarantee 1)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    # the RDF metadata block only names matplotlib and licence URLs: not needed inline
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.DOTALL)
    # matplotlib writes fixed pixel sizes; a viewBox-only SVG scales with the page
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", text, count=1)
    return text.replace("<svg", '<svg role="img" style="max-width:100%;height:auto"', 1)


def _style() -> None:
    """Fixed rc settings before every figure (guarantee 1), whatever the caller changed."""
    plt.rcParams["svg.hashsalt"] = HASH_SALT
    plt.rcParams["svg.fonttype"] = "none"
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["font.size"] = 9
    plt.rcParams["axes.spines.top"] = False
    plt.rcParams["axes.spines.right"] = False
    plt.rcParams["axes.grid"] = True
    plt.rcParams["grid.color"] = "#dde1e6"
    plt.rcParams["grid.linewidth"] = 0.6
    plt.rcParams["legend.frameon"] = False


def _figure(width: float = 7.5, height: float = 3.0) -> tuple[Figure, Axes]:
    _style()
    fig, axes = plt.subplots(figsize=(width, height))
    return fig, axes


COINCIDE_NOTE = "these curves coincide"


def _grid(count: int, width: float = 7.5, row_height: float = 2.1) -> tuple[Figure, list[Axes]]:
    """Small multiples: up to three panels a row, one per arm pair, sharing nothing but style."""
    _style()
    columns = min(3, count)
    rows = -(-count // columns)
    fig, grid = plt.subplots(rows, columns, figsize=(width, row_height * rows), squeeze=False)
    panels = [axes for row in grid for axes in row]
    for spare in panels[count:]:
        spare.set_visible(False)
    return fig, panels[:count]


def _label_end(axes: Axes, x: float, y: float, text: str, tint: str, below: bool = False) -> None:
    """A series named where it ends (direct labelling, no legend)."""
    axes.annotate(
        text,
        (x, y),
        xytext=(2, -8 if below else 2),
        textcoords="offset points",
        color=tint,
        fontsize=7,
        ha="right" if below else "left",
    )


def _coincide(first: np.ndarray, second: np.ndarray) -> bool:
    """Two series a reader could not tell apart at this size: within 5% of the first's total
    absolute value (one would hide the other)."""
    a = np.nan_to_num(np.asarray(first, dtype=float))
    b = np.nan_to_num(np.asarray(second, dtype=float))
    return bool(np.abs(a - b).sum() <= 0.05 * max(np.abs(a).sum(), 1e-9))


def split_pair(pair: str) -> tuple[str, str]:
    baseline, _, candidate = pair.partition(" vs ")
    return baseline, candidate


def latency_cdf(
    curves: Mapping[str, np.ndarray], arms: Sequence[str], pairs: Sequence[str] = ()
) -> str | None:
    """Per arm pair, one panel: the share of answered messages (y) replied within x seconds for
    the baseline and the candidate. Curves that coincide are drawn solid and dashed with markers
    and the panel says so."""
    shown = [p for p in pairs if all(arm in curves for arm in split_pair(p))]
    if not shown:
        return None
    fig, panels = _grid(len(shown))
    shares = np.linspace(0.0, 1.0, len(next(iter(curves.values()))))
    for axes, pair in zip(panels, shown, strict=True):
        baseline, candidate = split_pair(pair)
        same = _coincide(curves[baseline], curves[candidate])
        for index, arm in enumerate((baseline, candidate)):
            values = np.maximum(curves[arm], 0.01)
            tint = colour(arms, arm)
            dashed = same and index == 1
            axes.step(
                values,
                shares,
                where="post",
                color=tint,
                lw=1.4,
                ls="--" if dashed else "-",
                marker="o" if dashed else None,
                markevery=max(1, len(values) // 8),
                markersize=3,
            )
            at = min(0.9, 0.3 + 0.3 * index)
            _label_end(axes, float(np.quantile(values, at)), at, arm, tint, below=index == 1)
        axes.set_xscale("log")
        axes.set_ylim(0, 1.02)
        axes.axhline(0.95, color="#868e96", lw=0.8, ls=":")
        axes.set_title(pair + (f"\n({COINCIDE_NOTE})" if same else ""), fontsize=8)
        axes.tick_params(labelsize=7)
    panels[0].set_ylabel("share answered")
    fig.supxlabel("reply latency (seconds, log scale)", fontsize=8)
    fig.tight_layout()
    return to_svg(fig)


def divergences_timeline(
    edges: np.ndarray, series: Mapping[str, Mapping[str, np.ndarray]]
) -> str | None:
    """Per arm pair, one panel: divergences per time bin, all severities (solid) and
    regressions (dashed), each named at its end. When the two coincide (every divergence a
    regression) the panel says so and the regressions carry markers."""
    if not series or not any(int(s["all"].sum()) for s in series.values()):
        return None
    pairs = [pair for pair in series if int(series[pair]["all"].sum())]
    fig, panels = _grid(len(pairs))
    minutes = edges / 60.0
    for index, (axes, pair) in enumerate(zip(panels, pairs, strict=True)):
        tint = PALETTE[index % len(PALETTE)]
        every, regressions = series[pair]["all"], series[pair]["regression"]
        same = _coincide(every, regressions)
        axes.stairs(every, minutes, color=tint, lw=1.4)
        axes.stairs(regressions, minutes, color="#c92a2a", lw=1.2, ls="--")
        if same:
            centres = (minutes[:-1] + minutes[1:]) / 2
            axes.plot(centres, regressions, ls="none", marker="o", ms=2.5, color="#c92a2a")
        end = float(minutes[-1])
        _label_end(axes, end, float(every[-1]), "all", tint)
        _label_end(axes, end, float(regressions[-1]), "regressions", "#c92a2a", below=True)
        axes.set_title(pair + (f"\n({COINCIDE_NOTE})" if same else ""), fontsize=8)
        axes.set_ylim(bottom=0)
        axes.tick_params(labelsize=7)
    panels[0].set_ylabel(f"divergences per {_bin_label(edges)}", fontsize=8)
    fig.supxlabel("virtual time since the first message (minutes)", fontsize=8)
    fig.tight_layout()
    return to_svg(fig)


def _bin_label(edges: np.ndarray) -> str:
    width = float(edges[1] - edges[0]) if len(edges) > 1 else 0.0
    if width >= 120:
        return f"{width / 60:.0f}-minute bin"
    return f"{width:.0f}-second bin"


def gauge_totals(
    totals: Mapping[str, tuple[np.ndarray, np.ndarray]],
    arms: Sequence[str],
    seed_total: int,
) -> str | None:
    """Entries held per arm over time against the seed's worst-case estimate."""
    if not totals:
        return None
    fig, axes = _figure()
    peak = 0.0
    for arm in arms:
        if arm in totals:
            times, values = totals[arm]
            axes.step(
                times / 60.0, values, where="post", color=colour(arms, arm), lw=1.4, label=arm
            )
            peak = max(peak, float(values.max()))
    axes.axhline(seed_total, color="#c92a2a", lw=1.0, ls="--")
    axes.text(
        0,
        seed_total,
        f" seed's worst case ~{seed_total:,} entries",
        color="#c92a2a",
        va="bottom",
        fontsize=8,
    )
    axes.set_yscale("symlog", linthresh=10)
    axes.set_ylim(0, max(peak, seed_total) * 3)
    axes.set_xlabel("virtual time since the first message (minutes)")
    axes.set_ylabel("entries in all structures (log)")
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return to_svg(fig)
