"""An in-memory audit trail, for tests and benchmarks: real records and checkpoints, no broker."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from lgsp_common.audit import AuditTrail


@dataclass
class MemorySender:
    """Acknowledges every send at once and keeps (topic, key, value) in order."""

    sent: list[tuple[str, bytes, bytes]] = field(default_factory=list)
    _new: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[None]:
        """Keep the record; return an acknowledged future."""
        self.sent.append((topic, key or b"", value or b""))
        self._new.set()
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ack.set_result(None)
        return ack

    async def wait_for(self, topic: str, count: int = 1, timeout_s: float = 5.0) -> None:
        """Wait until `count` values were sent to a topic."""
        async with asyncio.timeout(timeout_s):
            while len(self.on(topic)) < count:
                self._new.clear()
                await self._new.wait()

    def on(self, topic: str) -> list[dict[str, Any]]:
        """Return the decoded values sent to one topic."""
        return [json.loads(value) for sent_to, _, value in self.sent if sent_to == topic]


async def write_chain(
    count: int,
    key: bytes,
    *,
    key_id: str = "k1",
    writer: str = "svc/test",
    checkpoint_every: int = 1000,
    final_checkpoint: bool = True,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Write `count` records with a real AuditTrail; return (records, checkpoints).

    A checkpoint is taken after every `checkpoint_every` records, and one at the end unless
    `final_checkpoint` is False.
    """
    sender = MemorySender()
    trail = AuditTrail(sender, "lgsp.audit", writer, key_id, key)
    for i in range(count):
        await trail.record(
            actor={"kind": "source", "id": "dvc"},
            action="event.publish",
            topic="tthc.dossier.v1",
            result="success",
            status_code=202,
            event_ids=[f"e-{i}"],
        )
        if (i + 1) % checkpoint_every == 0:
            await trail.checkpoint()
    if final_checkpoint:
        await trail.checkpoint()
    return sender.on("lgsp.audit"), sender.on("lgsp.audit.checkpoints")
