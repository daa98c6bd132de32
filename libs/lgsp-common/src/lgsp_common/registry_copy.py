"""A live, read-only copy of the registry, rebuilt from the compacted topic `lgsp.registry`.

Every service keeps one so that its hot path (authenticating a caller, finding a contract) never
calls the registry over HTTP. Records are keyed `{kind}:{id}`; the value is a change event
(`kind`, `id`, `op`, `version`, `changed_at`, `data`) or null (a tombstone after a delete). A
change whose `version` is not above the one held is ignored, so replays and duplicates are
harmless.

API keys handed to callers look like `lgsp_<prefix>_<secret>`; the registry stores and publishes
only `sha256:<hex>` of that whole string, under the id `k_<prefix>`. `lgsp_common.api_keys`
is the one implementation of that rule, shared by the registry and its readers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from lgsp_common.api_keys import key_is_usable, parse_api_key
from lgsp_common.kafka import create_consumer
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import REGISTRY_TOPIC

log = logging.getLogger(__name__)
Entity = dict[str, Any]
Listener = Callable[[str, str, Entity | None], None]


class RegistryCopy:
    """Follows `lgsp.registry` and answers lookups from memory.

    The follower fails closed: any error (Kafka or not) stops it, `following` and `caught_up`
    turn false, and it restarts with exponential backoff from the first record it had not yet
    applied (`restarts` counts those restarts). Every `heartbeat_s` it asks the broker for the
    log end; `confirmed_at` is the last time (monotonic) the copy was known to have read up to
    it, so `age_s` grows only when the copy falls behind or cannot reach the broker, never on a
    quiet registry.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        topic: str = REGISTRY_TOPIC,
        client_id: str,
        heartbeat_s: float = 1.0,
        backoff_s: tuple[float, float] = (0.2, 10.0),
        consumer_factory: Callable[[], AIOKafkaConsumer] | None = None,
    ) -> None:
        self._kafka = kafka
        self._topic = topic
        self._client_id = client_id
        self._heartbeat_s = heartbeat_s
        self._backoff_s = backoff_s
        self._new_consumer = consumer_factory or (
            lambda: create_consumer(self._kafka, self._client_id, None)
        )
        self._entities: dict[str, dict[str, Entity]] = {}
        self._versions: dict[tuple[str, str], int] = {}
        self._subjects: dict[str, dict[int, str]] = {}
        self._listeners: list[Listener] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._caught_up = False
        self._following = False
        self._next: dict[TopicPartition, int] = {}  # the first offset not yet applied
        self._failures = 0
        self.restarts = 0
        # Monotonic time the copy last confirmed it had read up to the log end; None until a
        # follower has started (a copy fed by hand, in tests, is never stale).
        self.confirmed_at: float | None = None

    @property
    def caught_up(self) -> bool:
        """Tell whether the copy has read the whole topic once and is following it now."""
        return self._caught_up and self._following

    @property
    def following(self) -> bool:
        """Tell whether the follower is running and has reached the log end since (re)starting."""
        return self._following

    @property
    def age_s(self) -> float | None:
        """Seconds since the copy last confirmed it was at the log end (None: never started)."""
        if self.confirmed_at is None:
            return None
        return time.monotonic() - self.confirmed_at

    def stale(self, max_age_s: float) -> bool:
        """Tell whether a started copy has not confirmed reaching the log end for `max_age_s`."""
        age = self.age_s
        return age is not None and age > max_age_s

    def subscribe(self, callback: Listener) -> None:
        """Call `callback(kind, id, data_or_None)` after each applied change."""
        self._listeners.append(callback)

    async def start(self, timeout_s: float = 30) -> None:
        """Read the topic from the beginning until caught up, then follow it in the background."""
        self.confirmed_at = float("-inf")  # started: stale until the first confirmation
        try:
            consumer = await asyncio.wait_for(self._open(timeout_s), timeout_s)
            checked = time.monotonic()
            ends = await consumer.end_offsets(list(consumer.assignment()))
            await asyncio.wait_for(self._catch_up(consumer, ends), timeout_s)
        except BaseException:
            await self.stop()
            raise
        self.confirmed_at = checked
        self._caught_up = self._following = True
        self._task = asyncio.create_task(self._supervise(), name=f"{self._topic} copy")

    async def _open(self, timeout_s: float) -> AIOKafkaConsumer:
        """Start a consumer positioned at the first record not yet applied."""
        consumer = self._new_consumer()
        self._consumer = consumer
        await consumer.start()
        partitions = await self._partitions(consumer, timeout_s)
        consumer.assign(partitions)
        for tp in partitions:
            if tp in self._next:
                consumer.seek(tp, self._next[tp])
            else:
                await consumer.seek_to_beginning(tp)
        return consumer

    async def _partitions(self, consumer: AIOKafkaConsumer, timeout_s: float) -> list[Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            # `topics()` fetches fresh metadata but does not store it in the client's cluster,
            # which `partitions_for_topic` reads; force that refresh (no public API for it).
            await consumer._client.force_metadata_update()
            found = consumer.partitions_for_topic(self._topic)
            if found:
                return [TopicPartition(self._topic, p) for p in sorted(found)]
            if time.monotonic() > deadline:
                raise RuntimeError(f"topic {self._topic!r} does not exist")
            await asyncio.sleep(0.2)

    async def _catch_up(self, consumer: AIOKafkaConsumer, ends: dict[Any, int]) -> None:
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            await self._read(consumer, 500)

    async def _read(self, consumer: AIOKafkaConsumer, timeout_ms: int) -> None:
        batches = await consumer.getmany(timeout_ms=timeout_ms)
        for tp, records in batches.items():
            for record in records:
                self.apply(record.key, record.value)
                self._next[tp] = record.offset + 1

    async def _supervise(self) -> None:
        """Follow the topic; on any error, restart with backoff from the first unapplied record."""
        while True:
            try:
                consumer = self._consumer or await self._open(self._heartbeat_s * 30)
                await self._follow(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._failed(exc)

    async def _failed(self, exc: Exception) -> None:
        self._following = False
        self._failures += 1
        self.restarts += 1
        base, most = self._backoff_s
        delay = min(most, base * 2 ** (self._failures - 1))
        log.warning(
            "registry copy: follower failed (%s: %s); restart %d in %.1fs",
            type(exc).__name__,
            exc,
            self.restarts,
            delay,
            exc_info=not isinstance(exc, KafkaError),
        )
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()
        await asyncio.sleep(delay)

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        """Apply new records; every heartbeat, confirm the copy is at the log end it asked for."""
        target: tuple[float, dict[Any, int]] | None = None
        while True:
            if target is None:
                target = (time.monotonic(), await consumer.end_offsets(list(consumer.assignment())))
            checked, ends = target
            if all([await consumer.position(tp) >= end for tp, end in ends.items()]):
                self.confirmed_at, target = checked, None
                self._following, self._failures = True, 0
            await self._read(consumer, int(self._heartbeat_s * 1000))

    async def stop(self) -> None:
        """Stop following the topic."""
        self._following = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    def apply(self, key: bytes | None, value: bytes | None) -> bool:
        """Apply one record of the topic; returns whether it changed the copy."""
        if key is None:
            return False
        kind, _, entity_id = key.decode("utf-8", "replace").partition(":")
        if value is None:
            return self._forget(kind, entity_id)
        try:
            event = orjson.loads(value)
            version = int(event["version"])
            data = event.get("data") if event.get("op") == "upsert" else None
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("registry copy: skipping a malformed record under %s", kind)
            return False
        if version <= self._versions.get((kind, entity_id), 0):
            return False
        self._versions[(kind, entity_id)] = version
        if isinstance(data, dict):
            self._store(kind, entity_id, data)
        else:
            self._remove(kind, entity_id)
        self._notify(kind, entity_id, data if isinstance(data, dict) else None)
        return True

    def _forget(self, kind: str, entity_id: str) -> bool:
        existed = entity_id in self._entities.get(kind, {})
        self._versions.pop((kind, entity_id), None)
        self._remove(kind, entity_id)
        if existed:
            self._notify(kind, entity_id, None)
        return existed

    def _store(self, kind: str, entity_id: str, data: Entity) -> None:
        self._entities.setdefault(kind, {})[entity_id] = data
        if kind == "contract":
            subject, version = data.get("subject"), data.get("version")
            if isinstance(subject, str) and isinstance(version, int):
                self._subjects.setdefault(subject, {})[version] = entity_id

    def _remove(self, kind: str, entity_id: str) -> None:
        data = self._entities.get(kind, {}).pop(entity_id, None)
        if kind == "contract" and data is not None:
            versions = self._subjects.get(str(data.get("subject")), {})
            versions.pop(int(data.get("version") or 0), None)

    def _notify(self, kind: str, entity_id: str, data: Entity | None) -> None:
        for listener in self._listeners:
            try:
                listener(kind, entity_id, data)
            except Exception:  # a faulty listener must not stop the copy
                log.exception("registry copy listener failed")

    def get(self, kind: str, entity_id: str) -> Entity | None:
        """Return one entity's current data, or None."""
        return self._entities.get(kind, {}).get(entity_id)

    def items(self, kind: str) -> list[Entity]:
        """Return every entity of a kind."""
        return list(self._entities.get(kind, {}).values())

    def _key_owner(self, api_key: str, field: str) -> Entity | None:
        key_id = parse_api_key(api_key)
        record = self.get("api_key", key_id) if key_id else None
        if record is None or not key_is_usable(record, api_key):
            return None
        owner = record.get(field)
        return self.get(field.removesuffix("_id"), owner) if isinstance(owner, str) else None

    def source_for_key(self, api_key: str) -> Entity | None:
        """Return the source a usable API key belongs to (its `status` is the caller's concern)."""
        return self._key_owner(api_key, "source_id")

    def consumer_for_key(self, api_key: str) -> Entity | None:
        """Return the consumer a usable API key belongs to (check `status` == approved)."""
        return self._key_owner(api_key, "consumer_id")

    def contract(self, subject: str, version: int) -> Entity | None:
        """Return one version of a subject's contract."""
        contract_id = self._subjects.get(subject, {}).get(version)
        return self.get("contract", contract_id) if contract_id else None

    def latest_contract(self, subject: str) -> Entity | None:
        """Return the newest version of a subject's contract."""
        versions = self._subjects.get(subject)
        return self.contract(subject, max(versions)) if versions else None

    def contract_by_id(self, contract_id: str) -> Entity | None:
        """Return a contract by its schema id."""
        return self.get("contract", contract_id)
