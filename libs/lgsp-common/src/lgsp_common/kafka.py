"""aiokafka helpers: the platform's producer and consumer defaults, start-up retry, a probe."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaConnectionError, KafkaError

from lgsp_common.envelope import KafkaRecord
from lgsp_common.settings import KafkaSettings

log = logging.getLogger(__name__)


def create_producer(kafka: KafkaSettings, client_id: str, **overrides: Any) -> AIOKafkaProducer:
    """Build the platform's producer: idempotent, acks=all, so an ack means replicated."""
    options: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap_servers,
        "client_id": client_id,
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 5,
        "compression_type": None,
        "request_timeout_ms": kafka.request_timeout_ms,
        "max_batch_size": 256 * 1024,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def create_consumer(
    kafka: KafkaSettings, client_id: str, group_id: str | None, *topics: str, **overrides: Any
) -> AIOKafkaConsumer:
    """Build a consumer that reads only committed data and commits offsets explicitly."""
    options: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap_servers,
        "client_id": client_id,
        "group_id": group_id,
        "isolation_level": "read_committed",
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "request_timeout_ms": max(kafka.request_timeout_ms, 40_000),
        "metadata_max_age_ms": 30_000,
    }
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)


async def start_with_retry(
    start: Callable[[], Awaitable[Any]], timeout_s: float, what: str
) -> None:
    """Run a start-up step, retrying while the cluster is unreachable, up to `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    delay = 0.2
    while True:
        try:
            await start()
            return
        except KafkaConnectionError as exc:
            if time.monotonic() + delay > deadline:
                raise RuntimeError(f"{what}: Kafka unreachable for {timeout_s:.0f}s") from exc
            log.warning("%s: Kafka not reachable yet (%s); retrying", what, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def send_record(producer: AIOKafkaProducer, topic: str, record: KafkaRecord) -> Any:
    """Produce one record and wait for the broker's acknowledgement; returns RecordMetadata."""
    return await producer.send_and_wait(
        topic, value=record.value, key=record.key, headers=record.headers
    )


class KafkaProbe:
    """Answers 'is the cluster reachable now?' with a metadata round trip, for /readyz."""

    def __init__(self, kafka: KafkaSettings, client_id: str, timeout_s: float) -> None:
        self._kafka = kafka
        self._client_id = client_id
        self._timeout_s = timeout_s
        self._client: AIOKafkaClient | None = None

    async def check(self) -> tuple[bool, str]:
        """Return (reachable, detail) within the probe's timeout."""
        try:
            return await asyncio.wait_for(self._round_trip(), self._timeout_s)
        except (TimeoutError, KafkaError, OSError) as exc:
            return False, f"kafka unreachable: {type(exc).__name__}"

    async def _round_trip(self) -> tuple[bool, str]:
        if self._client is None:
            client = AIOKafkaClient(
                bootstrap_servers=self._kafka.bootstrap_servers,
                client_id=f"{self._client_id}-probe",
                request_timeout_ms=int(self._timeout_s * 1000),
            )
            try:
                await client.bootstrap()
            except BaseException:
                await client.close()
                raise
            self._client = client
        metadata = await self._client.fetch_all_metadata()
        return True, f"{len(metadata.brokers())} broker(s)"

    async def close(self) -> None:
        """Close the probe's connections."""
        if self._client is not None:
            await self._client.close()
            self._client = None
