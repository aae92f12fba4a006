"""What every configuration section shares: the strict base model, switches, value types and
the models' own defaults the sections read."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from legacy_models import CoordinatorSettings, OrchestratorSettings, ResponseManagerSettings
from shadow.world import EnvironmentSettings
from unified import UnifiedSettings

_O = OrchestratorSettings()


_C = CoordinatorSettings()


_R = ResponseManagerSettings()


_U = UnifiedSettings()


_E = EnvironmentSettings()


S = 1_000_000


Rate = Annotated[float, Field(ge=0.0, le=1.0)]


Count = Annotated[int, Field(ge=1)]


Threshold = Annotated[int, Field(ge=0)]


HashText = Literal["exact", "normalized"]


def _switch(default: object) -> Any:
    """A switch's default from a dataclass typed ``str``; the tests validate every default."""
    return default


class Section(BaseModel):
    """Strict, closed, immutable: the base of every node of the tree."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
