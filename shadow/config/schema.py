"""The configuration tree as pydantic models: every key of docs/models.md and docs/reference.md.

Guarantees:

1. Every default is read from the frozen settings dataclasses (``LegacySettings``,
   ``UnifiedSettings``, ``EnvironmentSettings``) or, outside the models, from docs/reference.md's
   table: the seed's figures have one home, and tests/unit/test_config.py checks the builders
   give back exactly the dataclass defaults.
2. Unknown keys are refused at every level (``extra="forbid"``), scalars are strict (``yes`` is
   not a number, ``1`` is not a boolean), every switch is a ``Literal``.
3. Each field's ``description`` is its documentation: docs/config.md is generated from it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from shadow.config.model_sections import (
    BatchingConfig,
    CoordinatorConfig,
    OrchestratorConfig,
    ResponseManagerConfig,
    UnifiedConfig,
)
from shadow.config.readings import READING_KEYS
from shadow.config.sections import (
    S,
    Section,
)
from shadow.config.values import (
    ConfigValueError,
    Duration,
    PositiveDuration,
    SeverityMap,
    SeverityRule,
)
from shadow.config.world_sections import (
    AgentConfig,
    EnvironmentConfig,
    OutageConfig,
    RestartConfig,
    ScriptEntryConfig,
    SenderConfig,
)
from shadow.rollout import ALGORITHMS


class RunConfig(Section):
    drain: Duration = Field(120 * S, description="virtual time run after the last message")
    gauge_interval: PositiveDuration = Field(10 * S, description="state gauge sampling period")
    readings: Literal["all", "none"] | list[str] = Field(
        "all",
        description="with --stage: the open readings whose alternatives are replayed for the "
        "gate (docs/gate.md, Open readings): all, none, or a list of their keys; a reading "
        "not replayed leaves a stage inconclusive unless the policy pins it",
    )

    @model_validator(mode="after")
    def _known_readings(self) -> RunConfig:
        if isinstance(self.readings, list):
            unknown = [key for key in self.readings if key not in READING_KEYS]
            if unknown:
                raise ConfigValueError(
                    f"{unknown[0]} is not an open reading (one of {', '.join(READING_KEYS)})",
                    ("readings",),
                )
        return self


class RolloutConfig(Section):
    provider: Literal["unleash", "launchdarkly", "flagd"] = Field(
        "unleash", description="the flag service whose bucketing is reproduced"
    )
    flag: Annotated[str, Field(min_length=1)] = Field(
        "USE_UNIFIED_COORDINATOR", description="the feature flag name"
    )
    group_id: str | None = Field(None, description="Unleash group id; null = the flag name")
    salt: str | None = Field(None, description="LaunchDarkly salt")
    stickiness: Literal["contact_id"] = Field(
        "contact_id", description="the field a contact is bucketed by"
    )
    algorithm: str | None = Field(
        None,
        description="unleash: murmur3; launchdarkly: sha1; flagd: v2 or v1; "
        "null = the provider's first",
    )
    flip_mode: Literal["restart", "hot"] = Field(
        "restart",
        description="--flip-at: the flag is an environment variable, so the flip restarts the "
        "process (in-flight work and caches lost, webhooks redelivered), or hot [A19]",
    )
    flip_downtime: Duration = Field(
        30 * S, description="--flip-mode restart: how long the process is down at the flip"
    )

    @model_validator(mode="after")
    def _resolve(self) -> RolloutConfig:
        allowed = ALGORITHMS[self.provider]
        if self.algorithm is not None and self.algorithm not in allowed:
            raise ConfigValueError(
                f"{self.algorithm!r} is not one of {', '.join(allowed)} (provider {self.provider})",
                ("algorithm",),
            )
        # resolved here so config show, run.json and the fingerprint name what is used
        object.__setattr__(self, "algorithm", self.algorithm or allowed[0])
        object.__setattr__(self, "group_id", self.group_id or self.flag)
        return self


class CompareConfig(Section):
    latency_abs: Duration = Field(2 * S, description="slower/faster needs |c - b| above it")
    latency_rel: Annotated[float, Field(ge=0.0)] = Field(
        0.5, description="... and above this share of the baseline latency"
    )
    repeat_horizon: Duration = Field(
        60 * S, description="an equal text this recent is a repeat (repeat_of)"
    )
    severity: SeverityMap = Field(
        default_factory=dict,
        description="kind -> severity, or kind -> {repeat_kind: severity}; "
        "{} = the docs/reference.md table",
    )


Delivery = Literal["ignore", "deliver"]


class CaptureConfig(Section):
    """How what is not a new customer message reaches the models (docs/capture.md)."""

    edit: Delivery = Field(
        "ignore",
        description="a customer's edit: ignored, or delivered as a new message with the edited "
        "content, linked to the original's message id",
    )
    revoke: Delivery = Field(
        "ignore",
        description="a customer's deletion: ignored, or delivered as an unsupported message "
        "linked to the deleted one",
    )
    system: Delivery = Field(
        "ignore",
        description="a system notice (changed number, security code, call): ignored, or "
        "delivered as an unsupported message",
    )
    error: Delivery = Field(
        "ignore",
        description="an error-only payload or placeholder: ignored, or delivered as an "
        "unsupported message",
    )
    unknown_type: Delivery = Field(
        "ignore",
        description="a type no documentation names: ignored, or delivered as an unsupported "
        "message",
    )

    def delivered(self) -> frozenset[str]:
        """The event kinds delivered to the models as messages."""
        return frozenset(kind for kind, value in self.model_dump().items() if value == "deliver")


class ShadowConfig(Section):
    """The root: one section per model, the environment, the run, the rollout, the comparison,
    and how capture events reach the models."""

    orchestrator: OrchestratorConfig = Field(default_factory=OrchestratorConfig)
    coordinator: CoordinatorConfig = Field(default_factory=CoordinatorConfig)
    response_manager: ResponseManagerConfig = Field(default_factory=ResponseManagerConfig)
    unified: UnifiedConfig = Field(default_factory=UnifiedConfig)
    environment: EnvironmentConfig = Field(default_factory=EnvironmentConfig)
    run: RunConfig = Field(default_factory=RunConfig)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    compare: CompareConfig = Field(default_factory=CompareConfig)
    capture: CaptureConfig = Field(default_factory=CaptureConfig)


__all__ = [
    "ALGORITHMS",
    "AgentConfig",
    "BatchingConfig",
    "CaptureConfig",
    "CompareConfig",
    "CoordinatorConfig",
    "EnvironmentConfig",
    "OrchestratorConfig",
    "OutageConfig",
    "ResponseManagerConfig",
    "RestartConfig",
    "RolloutConfig",
    "RunConfig",
    "ScriptEntryConfig",
    "Section",
    "SenderConfig",
    "SeverityRule",
    "ShadowConfig",
    "UnifiedConfig",
]
