"""Audit records appended without holding up the answer.

`AuditTrail.record` takes the chain position under a lock and then waits for the broker's ack.
The gateway must answer 503 quickly when Kafka is down, so it starts each record as a task: tasks
take the lock in creation order, so the chain keeps the order of the calls, and a record Kafka
finally refuses is counted and logged (the verifier then reports the gap).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from prometheus_client import Counter

from lgsp_common.audit import AuditTrail

log = logging.getLogger(__name__)


class BackgroundAudit:
    """Starts audit records in call order; `drain()` waits for the ones still in flight."""

    def __init__(self, trail: AuditTrail, failures: Counter) -> None:
        self._trail = trail
        self._failures = failures
        self._pending: set[asyncio.Task[Any]] = set()

    async def record(self, **fields: Any) -> None:
        """Queue one record; returns at once."""
        task = asyncio.create_task(self._trail.record(**fields))
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._failures.labels("audit").inc()
            log.error("audit record not delivered", extra={"error": repr(task.exception())})

    async def drain(self, timeout_s: float) -> None:
        """Wait (bounded) for records still in flight, at shutdown."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=timeout_s)
