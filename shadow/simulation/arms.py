"""The registry of arms: the only module that names the model classes.

An arm is a name (``legacy``, ``unified``, ``orchestrator``, ``coordinator``,
``response_manager``, ``legacy~N``, ``rollout@P``, ``recorded``) that the runner turns into a
model factory and an environment. ``recorded`` is not simulated: it is read from the capture.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial

from legacy_models import (
    CoordinatorArm,
    LegacyChain,
    LegacySettings,
    OrchestratorArm,
    ResponseManagerArm,
)
from shadow.common import UsageError
from shadow.world import EnvironmentSettings, Message, ModelFactory, Router
from unified import UnifiedCoordinator, UnifiedSettings

SIMPLE_ARMS = ("legacy", "unified", "orchestrator", "coordinator", "response_manager")
_NOISE = re.compile(r"^legacy~(\d+)$")
_ROLLOUT = re.compile(r"^rollout@(\d+)$")


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """Everything an arm needs to build its coordinators and its world."""

    legacy: LegacySettings
    unified: UnifiedSettings
    environment: EnvironmentSettings


@dataclass(frozen=True, slots=True)
class ArmSpec:
    """A parsed arm name."""

    name: str
    family: str  # the name without @P or ~N: what signatures use
    stage: int | None = None
    noise_seed: int | None = None

    @property
    def simulated(self) -> bool:
        return self.family != "recorded"


def parse_arm(name: str) -> ArmSpec:
    """Parse one arm name; raises ``UsageError`` listing the allowed forms."""
    name = name.strip()
    if name in SIMPLE_ARMS or name == "recorded":
        return ArmSpec(name, name)
    if match := _NOISE.match(name):
        return ArmSpec(name, "legacy", noise_seed=int(match.group(1)))
    if match := _ROLLOUT.match(name):
        stage = int(match.group(1))
        if not 0 <= stage <= 100:
            raise UsageError(f"arm {name!r}: a stage is a percentage from 0 to 100")
        return ArmSpec(name, "rollout", stage=stage)
    allowed = ", ".join((*SIMPLE_ARMS, "recorded", "legacy~N", "rollout@P"))
    raise UsageError(f"unknown arm {name!r}; arms are {allowed}")


def parse_arms(names: Sequence[str]) -> list[ArmSpec]:
    specs = [parse_arm(name) for name in names]
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise UsageError(f"arm {spec.name!r} is listed twice")
        seen.add(spec.name)
    return specs


def environment_for(spec: ArmSpec, settings: ModelSettings) -> EnvironmentSettings:
    """The arm's world: the shared one, or for ``legacy~N`` the same one with seed N."""
    if spec.noise_seed is not None:
        return replace(settings.environment, seed=spec.noise_seed)
    return settings.environment


class _CohortRoute:
    """A rollout arm's route: ``unified`` for the cohort, else ``legacy`` (picklable)."""

    def __init__(self, in_cohort: Callable[[Message], bool]) -> None:
        self.in_cohort = in_cohort

    def __call__(self, message: Message) -> str:
        return "unified" if self.in_cohort(message) else "legacy"


def factory_for(
    spec: ArmSpec,
    settings: ModelSettings,
    in_cohort: Callable[[Message], bool] | None = None,
) -> ModelFactory | Router:
    """The model factory (or router of two, for ``rollout@P``) that simulates ``spec``."""
    legacy = settings.legacy
    if spec.family == "legacy":
        return partial(LegacyChain, settings=legacy)
    if spec.family == "unified":
        return partial(UnifiedCoordinator, settings=settings.unified)
    if spec.family == "orchestrator":
        return partial(OrchestratorArm, settings=legacy.orchestrator)
    if spec.family == "coordinator":
        return partial(CoordinatorArm, settings=legacy.coordinator)
    if spec.family == "response_manager":
        return partial(ResponseManagerArm, settings=legacy.response_manager)
    if spec.family == "rollout":
        if in_cohort is None:
            raise ValueError("a rollout arm needs its cohort")
        return Router(
            {
                "legacy": partial(LegacyChain, settings=legacy),
                "unified": partial(UnifiedCoordinator, settings=settings.unified),
            },
            _CohortRoute(in_cohort),
        )
    raise ValueError(f"arm {spec.name} is not simulated")


def default_arms(stages: Sequence[int], has_outbound: bool) -> list[str]:
    """``legacy,unified``, a ``rollout@P`` per stage, and ``recorded`` when replies exist."""
    arms = ["legacy", "unified", *(f"rollout@{stage}" for stage in stages)]
    if has_outbound:
        arms.append("recorded")
    return arms


def default_pairs(specs: Sequence[ArmSpec]) -> list[tuple[str, str]]:
    """``legacy`` against every other simulated arm; each stage also against the previous."""
    names = [spec.name for spec in specs]
    pairs: list[tuple[str, str]] = []
    baseline = "legacy" if "legacy" in names else (names[0] if names else "")
    previous_stage: str | None = None
    for spec in specs:
        if spec.name == baseline or not spec.simulated:
            continue
        if spec.family == "rollout":
            if previous_stage is not None:
                pairs.append((previous_stage, spec.name))
            previous_stage = spec.name
        pairs.append((baseline, spec.name))
    return pairs
