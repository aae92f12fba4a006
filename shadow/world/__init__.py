"""The simulated world every arm shares: messages, the agent, the sender, restarts, and the
arm loop that feeds them to one model.

The models import it beside the kernel; it imports only the kernel. Draws are keyed by what
they are about, so two arms meet the same world.
"""

from shadow.world.arm_loop import ArmRun, ArmSession, ModelFactory, Router, simulate
from shadow.world.environment import (
    REDELIVERY,
    AgentCall,
    AgentError,
    AgentSettings,
    Environment,
    EnvironmentSettings,
    Latency,
    Message,
    Outage,
    Restart,
    RetrySchedule,
    ScriptEntry,
    SenderSettings,
    message_block,
    normalize_text,
    text_token,
)

__all__ = [
    "REDELIVERY",
    "AgentCall",
    "AgentError",
    "AgentSettings",
    "ArmRun",
    "ArmSession",
    "Environment",
    "EnvironmentSettings",
    "Latency",
    "Message",
    "ModelFactory",
    "Outage",
    "Restart",
    "RetrySchedule",
    "Router",
    "ScriptEntry",
    "SenderSettings",
    "message_block",
    "normalize_text",
    "simulate",
    "text_token",
]
