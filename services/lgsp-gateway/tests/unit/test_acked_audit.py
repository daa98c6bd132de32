"""AckedAudit: a record returns only after its ack; pending records are bounded; shutdown waits,
and what it abandons is counted and logged (issue 13, finding 2)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from lgsp_gateway.adapters.audit_log import AckedAudit, AuditUnavailableError
from lgsp_gateway.metrics import GatewayMetrics


class HeldTrail:
    """A trail whose acks the test releases (or fails) one by one, in call order."""

    def __init__(self) -> None:
        self.acks: list[asyncio.Future[dict[str, Any]]] = []
        self.fields: list[dict[str, Any]] = []

    async def record(self, **fields: Any) -> dict[str, Any]:
        self.fields.append(fields)
        ack: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.acks.append(ack)
        return await ack

    def ack(self, index: int) -> None:
        self.acks[index].set_result(self.fields[index])


def new_audit(
    timeout_s: float = 5.0, max_pending: int = 100
) -> tuple[AckedAudit, HeldTrail, CollectorRegistry]:
    registry = CollectorRegistry()
    trail = HeldTrail()
    series = GatewayMetrics.create(registry).audit
    return AckedAudit(trail, series, timeout_s=timeout_s, max_pending=max_pending), trail, registry


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def until(condition: Any) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.002)
    raise AssertionError("condition not reached")


async def test_a_record_returns_only_once_acknowledged() -> None:
    audit, trail, registry = new_audit()
    call = asyncio.create_task(audit.record(action="event.publish", event_ids=["e1"]))
    await until(lambda: len(trail.acks) == 1)
    await asyncio.sleep(0.02)
    assert not call.done()  # no ack, no return: the answer cannot leave
    assert value(registry, "gateway_audit_pending_records") == 1
    trail.ack(0)
    assert (await call)["event_ids"] == ["e1"]
    assert audit.pending == 0
    assert value(registry, "gateway_audit_pending_records") == 0


async def test_concurrent_records_are_all_in_flight_together() -> None:
    audit, trail, _ = new_audit()
    calls = [asyncio.create_task(audit.record(action="a", seq_hint=i)) for i in range(50)]
    await until(lambda: len(trail.acks) == 50)  # none waits for another's ack
    assert [f["seq_hint"] for f in trail.fields] == list(range(50))  # call order kept
    for i in range(50):
        trail.ack(i)
    assert len(await asyncio.gather(*calls)) == 50


async def test_beyond_the_bound_a_record_is_refused_at_once_not_queued() -> None:
    audit, trail, registry = new_audit(max_pending=2)
    held = [asyncio.create_task(audit.record(action="a")) for _ in range(2)]
    await until(lambda: len(trail.acks) == 2)
    with pytest.raises(AuditUnavailableError) as refused:
        await audit.record(action="a")
    assert refused.value.reason == "overloaded"
    assert len(trail.fields) == 2  # the refused record was never started
    assert value(registry, "gateway_audit_unavailable_total", reason="overloaded") == 1
    trail.ack(0)
    await held[0]
    third = asyncio.create_task(audit.record(action="a"))  # room again
    await until(lambda: len(trail.acks) == 3)
    trail.ack(1)
    trail.ack(2)
    await asyncio.gather(held[1], third)


async def test_a_timeout_answers_the_caller_but_the_record_goes_on_counted() -> None:
    audit, trail, registry = new_audit(timeout_s=0.05, max_pending=1)
    with pytest.raises(AuditUnavailableError) as late:
        await audit.record(action="a")
    assert late.value.reason == "timeout"
    assert not trail.acks[0].cancelled()  # not cancelled: it may still be written
    assert audit.pending == 1  # and still counts against the bound
    with pytest.raises(AuditUnavailableError, match="overloaded"):
        await audit.record(action="b")
    trail.ack(0)
    await until(lambda: audit.pending == 0)
    assert value(registry, "gateway_audit_unavailable_total", reason="timeout") == 1
    assert value(registry, "gateway_side_records_failed_total", kind="audit") == 0


async def test_a_refused_record_raises_and_is_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    audit, trail, registry = new_audit()
    call = asyncio.create_task(audit.record(action="event.publish", event_ids=["e9"]))
    await until(lambda: len(trail.acks) == 1)
    trail.acks[0].set_exception(RuntimeError("MessageSizeTooLargeError"))
    with caplog.at_level(logging.ERROR), pytest.raises(AuditUnavailableError) as refused:
        await call
    assert refused.value.reason == "refused"
    assert value(registry, "gateway_side_records_failed_total", kind="audit") == 1
    assert value(registry, "gateway_audit_unavailable_total", reason="refused") == 1
    assert any("not acknowledged" in r.getMessage() for r in caplog.records)


async def test_close_waits_for_records_in_flight_then_refuses_new_ones() -> None:
    audit, trail, registry = new_audit()
    calls = [asyncio.create_task(audit.record(action="a")) for _ in range(3)]
    await until(lambda: len(trail.acks) == 3)
    closing = asyncio.create_task(audit.close(5.0))
    await asyncio.sleep(0.02)
    assert not closing.done()  # waits for the three acks
    with pytest.raises(AuditUnavailableError, match="closing"):
        await audit.record(action="late")
    for i in range(3):
        trail.ack(i)
    assert await closing == 0
    assert len(await asyncio.gather(*calls)) == 3
    assert value(registry, "gateway_audit_records_abandoned_total") == 0


async def test_close_counts_and_logs_what_it_abandons(caplog: pytest.LogCaptureFixture) -> None:
    audit, trail, registry = new_audit()
    calls = [
        asyncio.create_task(audit.record(action="event.publish", event_ids=[f"e{i}"]))
        for i in range(2)
    ]
    await until(lambda: len(trail.acks) == 2)
    trail.ack(0)
    with caplog.at_level(logging.ERROR):
        assert await audit.close(0.05) == 1
    assert value(registry, "gateway_audit_records_abandoned_total") == 1
    [line] = [r for r in caplog.records if "abandoned" in r.getMessage()]
    assert line.__dict__["event_ids"] == ["e1"]
    assert audit.pending == 0
    assert value(registry, "gateway_audit_pending_records") == 0
    await calls[0]
    with pytest.raises(AuditUnavailableError, match="abandoned"):
        await calls[1]  # its caller is told, not cancelled


async def test_begin_starts_a_record_that_is_tracked_without_waiting() -> None:
    audit, trail, registry = new_audit(max_pending=1)
    assert audit.begin(action="event.publish", result="error") is True
    await until(lambda: len(trail.acks) == 1)
    assert audit.pending == 1
    assert audit.begin(action="b") is False  # the bound holds for these too
    assert value(registry, "gateway_audit_unavailable_total", reason="overloaded") == 1
    closing = asyncio.create_task(audit.close(5.0))
    await asyncio.sleep(0.02)
    assert not closing.done()  # shutdown waits for it as for any other
    trail.ack(0)
    assert await closing == 0
