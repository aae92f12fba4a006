"""May the flag flip? Policies, statistics, waivers and checks over a run folder -> a verdict.

The verdict (``verdict.evaluate``) is a pure function of its input; ``files`` reads them.
"""

from shadow.gate.files import load_gate_input, load_policy, read_previous
from shadow.gate.verdict import GateOptions, GateVerdict, evaluate, result_line

__all__ = [
    "GateOptions",
    "GateVerdict",
    "evaluate",
    "load_gate_input",
    "load_policy",
    "read_previous",
    "result_line",
]
