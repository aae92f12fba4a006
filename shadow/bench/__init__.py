"""``shadow bench`` and the kernel benchmark: throughput and memory, measured, never asserted."""

from shadow.bench.throughput import run_bench

__all__ = ["run_bench"]
