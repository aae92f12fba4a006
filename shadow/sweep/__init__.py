"""``shadow sweep``: replay a grid of settings and seeds, rank them, write the sweep files."""

from shadow.sweep.run import run_sweep
from shadow.sweep.spec import ARM_METRICS, format_metric, metric_words, parse_vary

__all__ = ["ARM_METRICS", "format_metric", "metric_words", "parse_vary", "run_sweep"]
