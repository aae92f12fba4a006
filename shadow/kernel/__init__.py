"""The deterministic virtual-time kernel (standard library only). See ``core`` for the rules."""

from shadow.kernel.core import Event, Group, Kernel, Process, ProcessGenerator
from shadow.kernel.gauges import Gauge, Gauges, GaugeSource, ScopedGauges
from shadow.kernel.rand import KeyedRandom, normal_quantile
from shadow.kernel.record import FATES, LAYERS, DecisionEvent, Recorder
from shadow.kernel.taken import OutcomeTaken

__all__ = [
    "FATES",
    "LAYERS",
    "DecisionEvent",
    "Event",
    "Gauge",
    "GaugeSource",
    "Gauges",
    "Group",
    "Kernel",
    "KeyedRandom",
    "OutcomeTaken",
    "Process",
    "ProcessGenerator",
    "Recorder",
    "ScopedGauges",
    "normal_quantile",
]
