"""The simulated world's configuration sections: agent, sender, outages, restarts, users."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from shadow.common import format_duration
from shadow.config.sections import (
    _E,
    Rate,
    Section,
    Threshold,
    _switch,
)
from shadow.config.values import (
    AgentLatency,
    ConfigValueError,
    Duration,
    Outcome,
    PositiveDuration,
    SenderLatency,
    _string_keys,
)


class ScriptEntryConfig(Section):
    latency: Duration | None = Field(None, description="forced agent latency")
    outcome: Outcome | None = Field(None, description="forced outcome: ok, error or hang")
    reply: str | None = Field(None, description="forced reply text")


class AgentConfig(Section):
    latency: AgentLatency = Field(
        _E.agent.latency,
        description="a duration, {median, p95} (lognormal), {uniform: [a, b]} or recorded",
    )
    error_rate: Rate = Field(_E.agent.error_rate, description="share of calls that throw")
    hang_rate: Rate = Field(_E.agent.hang_rate, description="share of calls that never answer")
    client_timeout: Duration | None = Field(
        _E.agent.client_timeout, description="a hang becomes an error after it; null = never"
    )
    same_input_same_reply: bool = Field(
        _E.agent.same_input_same_reply,
        description="the reply is a function of the normalized input and topic",
    )
    replies: Annotated[dict[str, str], BeforeValidator(_string_keys)] = Field(
        default_factory=dict, description="topic or normalized text -> fixed reply text"
    )
    script: Annotated[dict[str, ScriptEntryConfig], BeforeValidator(_string_keys)] = Field(
        default_factory=dict, description="message_id -> {latency, outcome, reply} forced"
    )

    @model_validator(mode="after")
    def _rates(self) -> AgentConfig:
        if self.error_rate + self.hang_rate > 1.0:
            raise ConfigValueError("error_rate + hang_rate exceeds 1", ("hang_rate",))
        return self


class OutageConfig(Section):
    model_config = ConfigDict(populate_by_name=False)

    start: Duration = Field(alias="from", description="from the stream start")
    end: Duration = Field(alias="to", description="from the stream start")
    failure_rate: Rate

    @model_validator(mode="after")
    def _window(self) -> OutageConfig:
        if self.end <= self.start:
            raise ConfigValueError("must be after from", ("to",))
        return self


class SenderConfig(Section):
    latency: SenderLatency = Field(
        _E.sender.latency, description="per attempt: a duration, {median, p95} or {uniform}"
    )
    failure_rate: Rate = Field(_E.sender.failure_rate, description="share of attempts that fail")
    outages: list[OutageConfig] = Field(
        default_factory=list, description="[{from, to, failure_rate}] raising the failure rate"
    )


class RestartConfig(Section):
    at: Duration
    downtime: Duration


class EnvironmentConfig(Section):
    seed: Threshold = Field(_E.seed, description="the seed of every draw")
    agent: AgentConfig = Field(default_factory=AgentConfig)
    sender: SenderConfig = Field(default_factory=SenderConfig)
    restarts: list[RestartConfig] = Field(
        default_factory=list,
        description="[{at, downtime}] from the stream start, in order, not overlapping",
    )
    users: Literal["open", "reactive"] = Field(
        _switch(_E.users),
        description="open: every message as given; reactive: each arm's users react to its "
        "replies: answered resends are not sent, later messages keep their delay after "
        "this arm's reply (docs/models.md, Users); default reactive for scenarios",
    )
    pacing_max: PositiveDuration = Field(
        _E.pacing_max,
        description="reactive users: a message sent at most this long after the reply to "
        "the contact's previous message keeps its delay after each arm's reply; a later one "
        "starts a new conversation and keeps its time; also the longest a user waits for a "
        "reply before writing anyway",
    )
    redelivery: Literal["cloud_api", "evolution", "burst", "none"] = Field(
        _switch(_E.redelivery),
        description="webhooks reaching a bot that is down: the gateway's retry schedule "
        "(docs/models.md, Restart redelivery), all at once when it is back (burst), or lost (none)",
    )

    @model_validator(mode="after")
    def _restarts_in_order(self) -> EnvironmentConfig:
        for index in range(1, len(self.restarts)):
            before, restart = self.restarts[index - 1], self.restarts[index]
            if restart.at < before.at + before.downtime:
                raise ConfigValueError(
                    f"{format_duration(restart.at)} is before the previous restart ends "
                    f"({format_duration(before.at + before.downtime)})",
                    ("restarts", index, "at"),
                )
        return self
