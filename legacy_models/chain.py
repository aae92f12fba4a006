"""The legacy chain (production today): webhook -> orchestrator -> coordinator -> agent -> RM.

``Orchestrator.processMessage(contact, msg, p1)`` with ``p1 = Coordinator.enqueueMessage(
contact, msg, p2)`` and ``p2(batch)`` = the agent call on the batch, then
``ResponseManager.sendResponse(contact, reply)``. Nothing is shared between the layers; what
each sees of the next is the settle table of docs/models.md (``Coordinator.enqueue``'s event).

Guarantees:

1. Each layer behaves exactly as alone (its own rows and switches); the chain only wires them.
2. Conflict #1: ``chain.lock_disagreement`` counts contacts where exactly one of the
   orchestrator lock and the coordinator loop is held, evaluated at the end of each instant
   (kernel guarantee 11: a hand-over inside one instant is no disagreement);
   ``lock_disagreement_s`` in ``stats()`` is the contact-seconds spent so (open intervals
   counted up to now).
3. Conflict #3: ``wait_orchestrator`` (arrival to the orchestrator's processor call),
   ``wait_coordinator`` (enqueue to the batch's agent call) and ``wait_response_manager``
   (``sendResponse`` to the last attempt) are recorded per message.
"""

from __future__ import annotations

from mypy_extensions import mypyc_attr

from legacy_models.coordinator import Coordinator
from legacy_models.orchestrator import Orchestrator
from legacy_models.response_manager import ResponseManager
from legacy_models.settings import LegacySettings
from legacy_models.steps import AgentSteps
from shadow.kernel import GaugeSource, Group, Kernel, Recorder
from shadow.world import Environment


@mypyc_attr(allow_interpreted_subclasses=True)
class LegacyChain:
    """The ``legacy`` arm: the three layers in sequence."""

    def __init__(
        self,
        kernel: Kernel,
        env: Environment,
        rec: Recorder,
        gauges: GaugeSource,
        group: Group,
        settings: LegacySettings = LegacySettings(),
    ) -> None:
        self.kernel = kernel
        self.group = group
        self._dirty: dict[str, None] = {}
        self._disagree_since: dict[str, int] = {}
        self._disagreement_us = 0
        self.g_disagreement = gauges.gauge("chain.lock_disagreement")
        self.g_disagreement.set(0)
        self._evaluate_now = self._evaluate  # bound once: registered twice per message
        self.response_manager = ResponseManager(
            kernel, env, rec, gauges, group, settings.response_manager
        )
        # ``p2(batch)``: the agent call on the batch, then ``await sendResponse``
        self.steps = AgentSteps(
            kernel, env, rec, group, "coordinator", self.response_manager.respond
        )
        self.coordinator = Coordinator(
            kernel, rec, gauges, group, settings.coordinator, self.steps.call, self._lock_changed
        )
        self.orchestrator = Orchestrator(
            kernel,
            rec,
            gauges,
            group,
            settings.orchestrator,
            self.coordinator.enqueue,
            self._lock_changed,
        )
        self.on_message = self.orchestrator.on_message

    def stats(self) -> dict[str, int | float]:
        now = self.kernel.now
        open_us = sum(now - since for since in self._disagree_since.values())
        stats = self.orchestrator.stats()
        stats.update(self.coordinator.stats())
        stats.update(self.response_manager.stats())
        stats["lock_disagreement_s"] = (self._disagreement_us + open_us) / 1_000_000
        return stats

    # -- Conflict #1 --------------------------------------------------------------------------
    def _lock_changed(self, contact: str) -> None:
        dirty = self._dirty
        if not dirty:
            self.kernel.at_instant_end(self._evaluate_now, self.group)
        dirty[contact] = None

    def _evaluate(self) -> None:
        now = self.kernel.now
        locks = self.orchestrator.locks
        loops = self.coordinator.loops
        since = self._disagree_since
        for contact in self._dirty:
            disagree = (contact in locks) != (contact in loops)
            if disagree:
                if contact not in since:
                    since[contact] = now
            elif contact in since:
                self._disagreement_us += now - since.pop(contact)
        self._dirty.clear()
        if len(since) != self.g_disagreement.value:
            self.g_disagreement.set(len(since))
