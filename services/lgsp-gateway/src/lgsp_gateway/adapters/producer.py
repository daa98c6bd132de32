"""The Kafka producer as the gateway uses it (`lgsp_common.kafka.ResilientProducer`, or a fake).

`send` enqueues one record and returns the future of the broker's acknowledgement; awaiting that
future is what "acknowledged" means everywhere in the gateway.
"""

from __future__ import annotations

from typing import Any, Protocol


class Producer(Protocol):
    """Start, stop, and enqueue records whose acks arrive as futures."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any: ...
