"""The registry's own audit trail, written through the database (issue 13).

`AuditTrail` signs and chains each record and hands it to a `RecordSender`; here the sender is
the `audit_outbox` table: inside a write transaction the record joins the change it audits, so
both commit or neither does, and the registry keeps accepting changes while Kafka is down (the
publisher drains the table to `lgsp.audit` in order). Checkpoints, sent from the trail's
background task, get a transaction of their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from contextvars import ContextVar
from typing import Any

from lgsp_common.audit import AuditTrail
from lgsp_registry.adapters.store import AuditNote, Store, Tx

_TX: ContextVar[Tx | None] = ContextVar("registry_audit_tx", default=None)


def _done() -> Awaitable[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)  # "acknowledged" = written in the transaction
    return future


class OutboxSender:
    """A `RecordSender` that appends to `audit_outbox` (the open transaction's, or its own)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Awaitable[Any]:
        """Append the record; the returned future is already done."""
        tx = _TX.get()
        if tx is not None:
            await tx.append_audit(topic, key, value)
        else:
            async with self._store.write() as own:
                await own.append_audit(topic, key, value)
        return _done()


def install(store: Store, trail: AuditTrail) -> None:
    """Have every write transaction of `store` append its audit records through `trail`."""

    async def record(tx: Tx, notes: list[AuditNote]) -> None:
        token = _TX.set(tx)
        try:
            for note in notes:
                await trail.record(**note.fields())
        finally:
            _TX.reset(token)

    store.audit_with(record)
