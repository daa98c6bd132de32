"""aiokafka helpers: the platform's producer and consumer defaults, start-up retry, a probe."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import (
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    KafkaError,
    KafkaTimeoutError,
    OutOfOrderSequenceNumber,
    UnknownProducerId,
)

from lgsp_common.envelope import KafkaRecord
from lgsp_common.settings import KafkaSettings

log = logging.getLogger(__name__)
# A produce request unanswered this long is sent again (same producer id and sequence numbers,
# so the broker keeps one copy; acks=all, so an answer still means replicated). A frozen leader
# keeps its connections open: the producer learns its partitions moved only at a resend, so
# this bounds how long after the controller moved them (0.5-2 s) publishing resumes. 2 s made
# a frozen active controller cost 4 s; under 1 s, acks slowed by load are asked for again and
# again. Also the broker's wait for the in-sync replicas (aiokafka sends one value for both).
PRODUCE_REQUEST_TIMEOUT_MS = 1_000
# A consumer outside any group (the registry copy, readers, probes) waits no longer on a frozen
# broker: with Kafka's 40 s a copy stuck on a paused leader went stale (30 s) and the gateway
# refused every call. A group member keeps 40 s (a join may wait out a rebalance).
READ_REQUEST_TIMEOUT_MS = 5_000


def producer_options(kafka: KafkaSettings, client_id: str, **overrides: Any) -> dict[str, Any]:
    """Return the platform's producer configuration: idempotent, acks=all (an ack means
    replicated), 256 KiB batches, no compression. Services and the benches' raw baselines
    both build their producers from it, so a baseline is never handicapped by defaults.
    """
    options: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap_servers,
        "client_id": client_id,
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": kafka.linger_ms,
        "compression_type": None,
        "request_timeout_ms": min(kafka.request_timeout_ms, PRODUCE_REQUEST_TIMEOUT_MS),
        "retry_backoff_ms": 100,
        "max_batch_size": 256 * 1024,
    }
    options.update(overrides)
    return options


def consumer_options(
    kafka: KafkaSettings, client_id: str, group_id: str | None, **overrides: Any
) -> dict[str, Any]:
    """Return the platform's consumer configuration: committed data only, explicit commits.

    Fetch sizes are aiokafka's unless a service overrides them; a bench's plain consumer takes
    the same dictionary as the service it is compared with.
    """
    options: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap_servers,
        "client_id": client_id,
        "group_id": group_id,
        "isolation_level": "read_committed",
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "request_timeout_ms": max(kafka.request_timeout_ms, 40_000)
        if group_id
        else min(kafka.request_timeout_ms, READ_REQUEST_TIMEOUT_MS),
        "metadata_max_age_ms": 30_000,
    }
    options.update(overrides)
    return options


def create_producer(kafka: KafkaSettings, client_id: str, **overrides: Any) -> AIOKafkaProducer:
    """Build the platform's producer (`producer_options`)."""
    return AIOKafkaProducer(**producer_options(kafka, client_id, **overrides))


def create_consumer(
    kafka: KafkaSettings, client_id: str, group_id: str | None, *topics: str, **overrides: Any
) -> AIOKafkaConsumer:
    """Build a consumer that reads only committed data and commits offsets explicitly."""
    return AIOKafkaConsumer(*topics, **consumer_options(kafka, client_id, group_id, **overrides))


async def start_with_retry(
    start: Callable[[], Awaitable[Any]], timeout_s: float, what: str
) -> None:
    """Run a start-up step, retrying while the cluster is unreachable or not ready (any
    retriable Kafka error or a client timeout: a broker down, restarting or mid-election), up
    to `timeout_s`. A non-retriable error (authorisation, bad configuration) is raised at once.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.2
    while True:
        try:
            await start()
            return
        except KafkaError as exc:
            if not (exc.retriable or isinstance(exc, KafkaTimeoutError)):
                raise
            if time.monotonic() + delay > deadline:
                raise RuntimeError(f"{what}: Kafka unreachable for {timeout_s:.0f}s") from exc
            log.warning("%s: Kafka not reachable yet (%s); retrying", what, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


# After these, aiokafka's idempotent producer cannot go on (its sequence numbers no longer match
# the broker's): like the Java client (KIP-360), start a new producer session.
FATAL_PRODUCER_ERRORS = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
)


class ResilientProducer:
    """An idempotent producer that replaces itself when its session becomes unusable.

    Seen in the durability test: records that expire while the broker is down leave a gap in the
    producer's sequence numbers, and every later send fails with OutOfOrderSequenceNumber. Those
    records were never acknowledged (their callers got an error), so a fresh session loses
    nothing that was promised.
    """

    def __init__(self, kafka: KafkaSettings, client_id: str, **overrides: Any) -> None:
        self._kafka = kafka
        self._client_id = client_id
        self._overrides = overrides
        self._producer: AIOKafkaProducer = self._new()
        self._timeout_s: float = kafka.request_timeout_ms / 1000
        self._resetting: asyncio.Task[None] | None = None
        self._retired: set[asyncio.Task[None]] = set()
        self.resets = 0

    def _new(self) -> AIOKafkaProducer:
        return create_producer(self._kafka, self._client_id, **self._overrides)

    async def start(self) -> None:
        """Start the current session."""
        await self._producer.start()

    async def stop(self) -> None:
        """Flush and stop."""
        if self._resetting is not None:
            await asyncio.gather(self._resetting, return_exceptions=True)
        await asyncio.gather(*self._retired, return_exceptions=True)
        await self._producer.stop()

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any:
        """Enqueue a record; returns the future of its acknowledgement."""
        if self._resetting is not None:
            await asyncio.shield(self._resetting)
        future = await self._producer.send(
            topic, value, key=key, partition=partition, timestamp_ms=timestamp_ms, headers=headers
        )
        future.add_done_callback(self._check)
        return future

    async def send_and_wait(self, topic: str, value: bytes | None = None, **kwargs: Any) -> Any:
        """Produce one record and wait for its acknowledgement."""
        return await (await self.send(topic, value, **kwargs))

    def _check(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or not isinstance(future.exception(), FATAL_PRODUCER_ERRORS):
            return
        if self._resetting is None:
            log.warning(
                "producer session unusable (%s); starting a new one",
                type(future.exception()).__name__,
            )
            self._resetting = asyncio.create_task(self._reset())

    async def _reset(self) -> None:
        old, fresh = self._producer, self._new()
        try:
            await start_with_retry(fresh.start, max(self._timeout_s, 30.0), "producer reset")
            self._producer = fresh
            self.resets += 1
        finally:
            self._resetting = None
        retire = asyncio.create_task(old.stop())
        self._retired.add(retire)
        retire.add_done_callback(self._retired.discard)


async def send_record(
    producer: AIOKafkaProducer | ResilientProducer, topic: str, record: KafkaRecord
) -> Any:
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
