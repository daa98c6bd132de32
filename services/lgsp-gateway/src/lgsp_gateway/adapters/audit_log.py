"""Audit records acknowledged before the answer: bounded, tracked, and waited for at shutdown.

`AuditTrail.record` takes the chain position and hands the record to the producer under a lock,
then waits for the broker's ack outside it. The gateway's audit producer is its own idempotent
producer with a short linger (`settings.audit_linger_ms`), and aiokafka keeps one request in
flight per broker: the records of concurrent calls that arrive while one request travels leave
together in the next, so the wait costs about one round trip per call, not one per record.

`AckedAudit.record` returns once Kafka has acknowledged the record and raises
`AuditUnavailableError` otherwise: when more than `max_pending` records already wait for their
acks (refused at once, nothing queued), when the ack does not come within `timeout_s`, when the
producer fails the record, or once shutdown began. A record whose caller stopped waiting is not
cancelled: it stays pending (and counted against the bound) until the producer settles it, and a
failure is counted and logged. `close` refuses new records, waits for the pending ones, and
counts and logs (then cancels) whatever is still pending when its wait runs out.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)


class Trail(Protocol):
    """The signed chain (`lgsp_common.audit.AuditTrail`): appends and waits for the ack."""

    async def record(self, **fields: Any) -> Any: ...


class AuditUnavailableError(Exception):
    """The record was not acknowledged: `reason` is overloaded, timeout, refused or closing."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class AuditSeries:
    """The audit's Prometheus series (see `metrics.GatewayMetrics`)."""

    pending: Gauge
    unavailable: Counter
    abandoned: Counter
    failures: Counter


class AckedAudit:
    """Appends records and waits for their acks; bounded, and nothing is dropped unseen.

    Each record runs as its own task (a caller that stops waiting does not cancel it); the
    caller waits on a plain future that the task's completion, or the one shared deadline
    timer, settles. That costs a fraction of `wait_for(shield(task))` per call.
    """

    def __init__(
        self, trail: Trail, series: AuditSeries, *, timeout_s: float, max_pending: int
    ) -> None:
        self._trail = trail
        self._series = series
        self._timeout_s = timeout_s
        self._max_pending = max_pending
        self._pending: dict[
            asyncio.Future[Any], tuple[dict[str, Any], asyncio.Future[Any] | None]
        ] = {}
        self._deadlines: deque[tuple[float, asyncio.Future[Any]]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._closing = False
        series.pending.set_function(lambda: len(self._pending))

    @property
    def pending(self) -> int:
        """Return how many records wait for their ack."""
        return len(self._pending)

    async def record(self, **fields: Any) -> Any:
        """Append one record; return once Kafka acknowledged it, else AuditUnavailableError."""
        if self._closing:
            raise self._refuse("closing", "the gateway is shutting down")
        if len(self._pending) >= self._max_pending:
            raise self._refuse("overloaded", f"{self._max_pending} audit records await their ack")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        self._start(loop, fields, waiter)
        self._deadline(loop, waiter)
        try:
            return await waiter
        except (AuditUnavailableError, asyncio.CancelledError):
            raise  # a caller that goes away leaves the record going on, tracked
        except Exception as exc:
            raise self._refuse("refused", type(exc).__name__) from exc

    def begin(self, **fields: Any) -> bool:
        """Start a record without waiting for its ack (for answers that must not wait, the
        platform's own 5xx); it is tracked like the others. False if refused at once."""
        if self._closing or len(self._pending) >= self._max_pending:
            self._series.unavailable.labels("closing" if self._closing else "overloaded").inc()
            return False
        self._start(asyncio.get_running_loop(), fields, None)
        return True

    def _start(
        self,
        loop: asyncio.AbstractEventLoop,
        fields: dict[str, Any],
        waiter: asyncio.Future[Any] | None,
    ) -> None:
        submit = getattr(self._trail, "submit", None)
        # A grouping trail hands back the future of the covering record: no task per call.
        task = (
            submit(**fields)
            if submit is not None
            else loop.create_task(self._trail.record(**fields))
        )
        self._pending[task] = (fields, waiter)
        task.add_done_callback(self._settled)

    def _deadline(self, loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[Any]) -> None:
        deadlines = self._deadlines
        while deadlines and deadlines[0][1].done():
            deadlines.popleft()
        deadlines.append((loop.time() + self._timeout_s, waiter))
        if self._timer is None:
            self._timer = loop.call_at(deadlines[0][0], self._expire)

    def _expire(self) -> None:
        """Fail the waiters whose deadline passed (their records go on); re-arm for the next."""
        self._timer = None
        loop = asyncio.get_running_loop()
        deadlines, now = self._deadlines, loop.time()
        while deadlines and (deadlines[0][0] <= now or deadlines[0][1].done()):
            _, waiter = deadlines.popleft()
            if not waiter.done():
                waiter.set_exception(self._refuse("timeout", f"no ack within {self._timeout_s:g}s"))
        if deadlines:
            self._timer = loop.call_at(deadlines[0][0], self._expire)

    def _refuse(self, reason: str, detail: str) -> AuditUnavailableError:
        self._series.unavailable.labels(reason).inc()
        return AuditUnavailableError(reason, detail)

    def _settled(self, task: asyncio.Future[Any]) -> None:
        fields, waiter = self._pending.pop(task)
        if task.cancelled():
            if waiter is not None and not waiter.done():
                waiter.set_exception(self._refuse("closing", "abandoned at shutdown, no ack"))
            return
        error = task.exception()
        if error is not None:
            self._series.failures.labels("audit").inc()
            log.error(
                "audit record not acknowledged",
                extra={"error": repr(error), **_summary(fields)},
            )
        if waiter is None or waiter.done():
            return
        if error is not None:
            waiter.set_exception(error)
        else:
            waiter.set_result(task.result())

    async def close(self, timeout_s: float) -> int:
        """Refuse new records, wait up to `timeout_s` for the pending ones; return how many
        were abandoned (counted, logged, then cancelled)."""
        self._closing = True
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=timeout_s)
        abandoned = dict(self._pending)
        for task, (fields, _) in abandoned.items():
            self._series.abandoned.inc()
            log.error(
                "audit record abandoned at shutdown (no ack yet; it may still have been written)",
                extra=_summary(fields),
            )
            task.cancel()
        if abandoned:
            await asyncio.gather(*abandoned, return_exceptions=True)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return len(abandoned)


def _summary(fields: dict[str, Any]) -> dict[str, Any]:
    """What a log line may say about a record: action, result, status, event ids."""
    return {
        "audit_action": fields.get("action"),
        "audit_result": fields.get("result"),
        "audit_status": fields.get("status_code"),
        "event_ids": list(fields.get("event_ids") or [])[:20],
    }
