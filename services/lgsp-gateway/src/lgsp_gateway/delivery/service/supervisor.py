"""Follow the registry copy: run a `SubscriptionRunner` for every deliverable subscription.

A change of a subscription or of a consumer on `lgsp.registry` wakes the supervisor, which
stops the runners whose subscription was paused or deleted, or whose consumer was rejected,
revoked or deleted (within about a second of the change reaching the copy), starts the missing
ones, and restarts a runner when a new replay is asked for (its partitions are then re-assigned
and the replay applied) or when its loop ended with an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

from lgsp_gateway.delivery.domain.plan import KIND, Plan, plan_of
from lgsp_gateway.delivery.metrics import DeliveryMetrics

log = logging.getLogger(__name__)
RECHECK_S = 1.0


class RegistryLike(Protocol):
    """The registry copy, as the supervisor reads it."""

    def get(self, kind: str, entity_id: str) -> dict[str, Any] | None: ...

    def items(self, kind: str) -> list[dict[str, Any]]: ...

    def subscribe(self, callback: Callable[[str, str, dict[str, Any] | None], None]) -> None: ...


class Runner(Protocol):
    """What the supervisor needs of a runner."""

    plan: Plan

    @property
    def failed(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


RunnerFactory = Callable[[Plan, Callable[[], Plan | None]], Runner]


class Supervisor:
    """Keeps the set of running subscriptions equal to the deliverable ones."""

    def __init__(
        self, registry: RegistryLike, make_runner: RunnerFactory, metrics: DeliveryMetrics
    ) -> None:
        self._registry = registry
        self._make_runner = make_runner
        self._metrics = metrics
        self._runners: dict[str, Runner] = {}
        self._plans: dict[str, tuple[object, object, Plan | None]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        registry.subscribe(self._changed)

    def _changed(self, kind: str, entity_id: str, data: dict[str, Any] | None) -> None:
        if kind in (KIND, "consumer"):
            self._wake.set()

    def current(self, subscription_id: str) -> Plan | None:
        """Return a subscription's plan as the copy has it now (None: do not deliver)."""
        sub = self._registry.get(KIND, subscription_id)
        if sub is None:
            return None
        found = self._registry.get("consumer", str(sub.get("consumer_id")))
        # The copy replaces an entity's dict on every change: same objects, same plan.
        cached = self._plans.get(subscription_id)
        if cached is not None and cached[0] is sub and cached[1] is found:
            return cached[2]
        plan = plan_of(sub, found)
        self._plans[subscription_id] = (sub, found, plan)
        return plan

    def _follower(self, subscription_id: str) -> Callable[[], Plan | None]:
        return lambda: self.current(subscription_id)

    def desired(self) -> dict[str, Plan]:
        """Return the plans of every deliverable subscription."""
        plans = (self.current(str(sub.get("id"))) for sub in self._registry.items(KIND))
        return {plan.id: plan for plan in plans if plan is not None}

    @property
    def running(self) -> list[str]:
        """Return the ids of the subscriptions being delivered."""
        return sorted(self._runners)

    async def reconcile(self) -> None:
        """Stop, start and restart runners to match the copy."""
        wanted = self.desired()
        for sub_id, runner in list(self._runners.items()):
            plan = wanted.get(sub_id)
            if plan is None or plan.replay_id != runner.plan.replay_id or runner.failed:
                del self._runners[sub_id]
                await runner.stop()
                log.info("webhook subscription %s stopped", sub_id)
        for sub_id, plan in wanted.items():
            if sub_id not in self._runners:
                runner = self._make_runner(plan, self._follower(sub_id))
                await runner.start()
                self._runners[sub_id] = runner
                log.info("webhook subscription %s delivering %s", sub_id, plan.topic)
        self._metrics.running.set(len(self._runners))

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):  # not wait_for: it can lose a cancel
                async with asyncio.timeout(RECHECK_S):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.reconcile()
            except Exception:  # keep supervising; the next pass tries again
                log.exception("webhook supervisor pass failed")

    async def start(self) -> None:
        """Start the runners the copy asks for, then follow its changes."""
        await self.reconcile()
        self._task = asyncio.create_task(self._run(), name="webhook supervisor")

    async def stop(self) -> None:
        """Stop following, then stop every runner (committing what each settled)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.gather(*(r.stop() for r in self._runners.values()), return_exceptions=True)
        self._runners.clear()
