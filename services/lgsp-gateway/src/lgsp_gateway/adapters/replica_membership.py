"""How many gateway replicas are live: learnt from a Kafka consumer group that every one joins.

Every replica is one member of a consumer group of its own (`REPLICA_GROUP`, by default
`lgsp-gateway-replicas.<REGISTRY_TOPIC>`), subscribed to a topic of its own (`REPLICA_TOPIC`,
one partition, created if missing; nothing is ever written to it or read from it). Whenever the
membership changes the group coordinator (a broker) runs a rebalance, and the member it elects
leader runs `CountingAssignor.assign` over the whole member list: every member gets an empty
assignment whose user data is the number of members of this generation, which its own
`on_assignment` reads. So each replica learns the same count at every rebalance: when a
replica joins, when one stops (it leaves the group on the way out, and the others rebalance at
their next heartbeat, `HEARTBEAT_MS`), and when one crashes or is cut off (its session expires
after `SESSION_TIMEOUT_MS`).

Fail safe: a count is only ever replaced by another count from the group. While the group
cannot be reached (brokers down, a replica cut off) the last one stays, and before the first,
the configured fallback; the limit is never lifted. A replica cut off from the brokers cannot
produce either, so its stale share lets nothing more in.

One replica is one member, however many worker processes it runs (`WORKERS`): the workers
compete for an exclusive `flock` on a file in the run's folder, the holder joins the group and
writes the count where every worker's buckets read it (`SharedBuckets.resize`); the others
retry the lock each second and take over when its holder dies (the kernel drops its lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import struct
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)

from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics
from lgsp_gateway.domain.ratelimit import ReplicaCount

log = logging.getLogger(__name__)

GROUP_PREFIX = "lgsp-gateway-replicas"
HEARTBEAT_MS = 1_000  # a rebalance reaches every member within about this
SESSION_TIMEOUT_MS = 10_000  # a crashed or cut-off replica stops counting after this
REBALANCE_TIMEOUT_MS = 10_000
RETRY_S = 2.0  # between attempts to reach the group, and to take the workers' lock
COUNT = struct.Struct(">I")  # the members of the generation, in every member's assignment


def group_name(group: str, registry_topic: str) -> str:
    """Return the membership group: the one configured, else one per registry topic.

    Replicas reading one registry enforce one set of limits; another deployment on the same
    cluster (its own registry topic) counts its own replicas.
    """
    return group or f"{GROUP_PREFIX}.{registry_topic}"


class CountingAssignor:
    """An assignor that tells every member how many members the group has in this generation.

    It assigns no partition (there is nothing to read); aiokafka calls `assign` on the leader
    and `on_assignment` on every member, the leader included.
    """

    name = "lgsp-replica-count"
    version = 0

    def __init__(self, on_count: Callable[[int], None]) -> None:
        self._on_count = on_count

    def metadata(self, topics: Iterable[str]) -> Any:
        """Return what this member sends with its JoinGroup: its subscription, no user data."""
        return ConsumerProtocolMemberMetadata(self.version, sorted(topics), b"")

    def assign(self, cluster: Any, members: Mapping[str, Any]) -> dict[str, Any]:
        """Give every member an empty assignment that carries the number of members."""
        count = COUNT.pack(len(members))
        return {
            member: ConsumerProtocolMemberAssignment(self.version, [], count) for member in members
        }

    def on_assignment(self, assignment: Any) -> None:
        """Read the member count from this member's assignment (anything else is ignored)."""
        data = assignment.user_data or b""
        if len(data) != COUNT.size:
            log.warning("replica membership: an assignment without a member count, ignored")
            return
        self._on_count(COUNT.unpack(data)[0])


class ReplicaMembership:
    """This replica's seat in the membership group; `count` holds the live replica count.

    `apply` is called with the count in force whenever it changes. `lock` (with several
    workers) names the file whose holder is the replica's member; `written` then says whether
    the member has written a count yet, which the other workers wait for at start-up.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        group: str,
        topic: str,
        client_id: str,
        count: ReplicaCount,
        apply: Callable[[int], None],
        lock: Path | None = None,
        written: Callable[[], bool] | None = None,
    ) -> None:
        self._kafka, self._group, self._topic, self._client_id = kafka, group, topic, client_id
        self.count = count
        self._apply = apply
        self._lock_path, self._written = lock, written
        self._lock_fd: int | None = None
        self._consumer: Any = None
        self._task: asyncio.Task[None] | None = None
        self._counted = asyncio.Event()

    @property
    def member(self) -> bool:
        """Whether this process is the replica's member of the group (holds the lock)."""
        return self._lock_path is None or self._lock_fd is not None

    async def start(self, wait_s: float) -> None:
        """Join in the background; wait up to `wait_s` for a first count (else the fallback)."""
        self._task = asyncio.create_task(self._run(), name="gateway-replica-membership")
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and not self._known():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._counted.wait(), min(0.1, wait_s))
        if not self._known():
            log.warning(
                "replica membership: no count from group %s within %.0f s; limits divided by %d",
                self._group,
                wait_s,
                self.count.value,
            )

    def _known(self) -> bool:
        if self._counted.is_set():
            return True
        return not self.member and self._written is not None and self._written()

    def _on_count(self, members: int) -> None:
        before = self.count.value
        if self.count.observe(members):
            self._apply(self.count.value)
            log.info(
                "replica count changed from %d to %d: each replica enforces 1/%d of every limit",
                before,
                self.count.value,
                self.count.value,
                extra={"group": self._group, "replicas": self.count.value},
            )
        elif not self._counted.is_set():
            self._apply(self.count.value)  # the first count, the same as the fallback
        self._counted.set()

    async def _run(self) -> None:
        """Take the workers' lock if any, then stay in the group, rejoining after failures."""
        while True:  # a flock has no event to wait on: poll it while another worker holds it
            if self._take_lock():
                break
            await asyncio.sleep(RETRY_S)
        while True:
            try:
                await self._join()
                while True:  # keeps the member polling (max.poll.interval); nothing arrives
                    await self._consumer.getmany(timeout_ms=1_000)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: keep the count, retry
                log.warning(
                    "replica membership: group %s unreachable (%s); keeping %d replicas",
                    self._group,
                    exc,
                    self.count.value,
                )
                await self._leave()
                await asyncio.sleep(RETRY_S)

    async def _join(self) -> None:
        with contextlib.suppress(Exception):  # without the right to create it, join anyway
            await ensure_topics(self._kafka, [TopicSpec(self._topic, 1)])
        self._consumer = AIOKafkaConsumer(
            self._topic,
            bootstrap_servers=self._kafka.bootstrap_servers,
            client_id=self._client_id,
            group_id=self._group,
            enable_auto_commit=False,
            partition_assignment_strategy=(CountingAssignor(self._on_count),),
            heartbeat_interval_ms=HEARTBEAT_MS,
            session_timeout_ms=SESSION_TIMEOUT_MS,
            rebalance_timeout_ms=REBALANCE_TIMEOUT_MS,
        )
        await self._consumer.start()

    async def _leave(self) -> None:
        """Stop the consumer, which leaves the group (a best effort, bounded)."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await consumer.stop()

    def _take_lock(self) -> bool:
        """Hold the workers' lock (True at once without workers); False while another does."""
        if self._lock_path is None or self._lock_fd is not None:
            return True
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    async def stop(self) -> None:
        """Leave the group at once (the others rebalance and take a bigger share)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._leave()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock for another worker
            self._lock_fd = None
