"""The registry copy fails closed: any error restarts its follower, and it is not ready meanwhile.

A fake consumer stands in for Kafka (the integration test `tests/integration/test_fail_closed.py`
runs the same story on a real broker).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import TopicPartition

from lgsp_common.api_keys import hash_api_key
from lgsp_common.registry_copy import RegistryCopy
from lgsp_common.settings import KafkaSettings

TOPIC = "lgsp.registry.unit"
TP = TopicPartition(TOPIC, 0)
KEY = "lgsp_3f9a1c2b_" + "s" * 43


@dataclass
class Record:
    offset: int
    key: bytes
    value: bytes | None


@dataclass
class Log:
    """One partition of the topic, shared by every consumer the copy opens."""

    records: list[Record] = field(default_factory=list)
    grew: asyncio.Event = field(default_factory=asyncio.Event)
    starts: list[tuple[bool, bool]] = field(default_factory=list)  # (caught_up, following)
    copy: RegistryCopy | None = None

    def append(self, kind: str, entity_id: str, version: int, data: dict[str, Any]) -> None:
        change = {"kind": kind, "id": entity_id, "op": "upsert", "version": version, "data": data}
        key = f"{kind}:{entity_id}".encode()
        self.records.append(Record(len(self.records), key, orjson.dumps(change)))
        self.grew.set()


class FakeClient:
    async def force_metadata_update(self) -> None:
        return None


class FakeConsumer:
    """The part of AIOKafkaConsumer the copy uses, over a `Log`."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.pos = 0
        self._client = FakeClient()
        self._assigned: set[TopicPartition] = set()

    async def start(self) -> None:
        copy_ = self.log.copy
        if copy_ is not None:
            self.log.starts.append((copy_.caught_up, copy_.following))

    async def stop(self) -> None:
        return None

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0} if topic == TOPIC else set()

    def assign(self, partitions: list[TopicPartition]) -> None:
        self._assigned = set(partitions)

    def assignment(self) -> set[TopicPartition]:
        return self._assigned

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.pos = offset

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.pos = 0

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: len(self.log.records) for tp in partitions}

    async def position(self, tp: TopicPartition) -> int:
        return self.pos

    async def getmany(self, timeout_ms: int = 0) -> dict[TopicPartition, list[Record]]:
        if self.pos >= len(self.log.records):
            self.log.grew.clear()
            try:
                await asyncio.wait_for(self.log.grew.wait(), timeout_ms / 1000)
            except TimeoutError:
                return {}
        found = self.log.records[self.pos :]
        self.pos = len(self.log.records)
        return {TP: found}


def new_copy(log: Log) -> RegistryCopy:
    copy_ = RegistryCopy(
        KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        topic=TOPIC,
        client_id="unit",
        heartbeat_s=0.05,
        backoff_s=(0.05, 0.5),
        consumer_factory=lambda: FakeConsumer(log),  # type: ignore[arg-type,return-value]
    )
    log.copy = copy_
    return copy_


def seeded() -> Log:
    log = Log()
    log.append("source", "s", 1, {"id": "s", "topic": "t", "status": "active"})
    log.append("api_key", "k_3f9a1c2b", 1, {"id": "k_3f9a1c2b", "source_id": "s",
                                            "key_hash": hash_api_key(KEY)})  # fmt: skip
    return log


async def until(condition: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_non_kafka_error_restarts_the_follower_and_a_later_revocation_applies() -> None:
    log = seeded()
    copy_ = new_copy(log)
    await copy_.start(5)
    try:
        assert copy_.caught_up and copy_.following
        assert copy_.source_for_key(KEY) is not None
        real_apply, failed = copy_.apply, []

        def flaky(key: bytes | None, value: bytes | None) -> bool:
            if not failed:
                failed.append(key)
                raise ValueError("a bug in a record handler")
            return real_apply(key, value)

        copy_.apply = flaky  # type: ignore[method-assign]
        log.append("source", "s", 2, {"id": "s", "topic": "t", "status": "active", "n": 2})
        await until(lambda: copy_.restarts == 1)
        revoked = {"id": "k_3f9a1c2b", "source_id": "s", "key_hash": hash_api_key(KEY),
                   "revoked_at": "2026-01-01T00:00:00Z"}  # fmt: skip
        log.append("api_key", "k_3f9a1c2b", 2, revoked)
        await until(lambda: copy_.source_for_key(KEY) is None)
        await until(lambda: copy_.caught_up)
        # While the follower was down (the moment it reopened its consumer) it was not ready.
        assert log.starts[-1] == (False, False)
        # The record that failed was not skipped: it was applied after the restart.
        assert copy_.get("source", "s") == {"id": "s", "topic": "t", "status": "active", "n": 2}
        assert copy_.restarts == 1
    finally:
        await copy_.stop()


async def test_age_stays_small_on_a_quiet_registry_and_grows_when_the_follower_is_down() -> None:
    log = seeded()
    copy_ = new_copy(log)
    assert copy_.age_s is None and not copy_.stale(0.01)  # never started: nothing to be stale to
    await copy_.start(5)
    try:
        await asyncio.sleep(0.3)  # quiet: no record arrives, yet the copy keeps confirming
        age = copy_.age_s
        assert age is not None and age < 0.2 and not copy_.stale(0.2)

        def broken(key: bytes | None, value: bytes | None) -> bool:
            raise RuntimeError("always")

        copy_.apply = broken  # type: ignore[method-assign]
        log.append("source", "s", 3, {"id": "s"})
        await until(lambda: copy_.restarts >= 2)
        assert not copy_.caught_up and not copy_.following
        await until(lambda: copy_.stale(0.2))
    finally:
        await copy_.stop()
    assert not copy_.caught_up
