"""The three legacy coordination layers and the chain they form in production (docs/models.md).

Arms (each built as ``functools.partial(Class, settings=...)`` and driven by
``shadow.simulate.simulate``): ``LegacyChain`` (the ``legacy`` arm), and each layer alone:
``OrchestratorArm``, ``CoordinatorArm``, ``ResponseManagerArm``.
"""

from legacy_models.chain import LegacyChain
from legacy_models.coordinator import Coordinator, CoordinatorArm
from legacy_models.orchestrator import Orchestrator, OrchestratorArm
from legacy_models.response_manager import ResponseManager, ResponseManagerArm
from legacy_models.settings import (
    CoordinatorSettings,
    LegacySettings,
    OrchestratorSettings,
    ResponseManagerSettings,
)

__all__ = [
    "Coordinator",
    "CoordinatorArm",
    "CoordinatorSettings",
    "LegacyChain",
    "LegacySettings",
    "Orchestrator",
    "OrchestratorArm",
    "OrchestratorSettings",
    "ResponseManager",
    "ResponseManagerArm",
    "ResponseManagerSettings",
]
