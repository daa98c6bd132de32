"""Tests own their data: a test run deletes or recreates only the topics it created itself.

A cluster the test session started (`lgsp_devkit.testing` starts one unless
`KAFKA_BOOTSTRAP_SERVERS` is set) holds nothing but the run's own topics, so the run may empty
any of them. On any other cluster (`KAFKA_BOOTSTRAP_SERVERS` names one the tests did not start,
perhaps the province's) the run creates its topics under a unique per-run prefix, records each one
it created, deletes only those at the end, and `TopicJanitor` refuses, with `ForeignTopicError`,
to delete or recreate any other topic. A cluster is recognised by its bootstrap string exactly as
the session was given it: another spelling of the same cluster counts as foreign (fail closed).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient

from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics

log = logging.getLogger(__name__)
_STARTED: set[str] = set()


class ForeignTopicError(RuntimeError):
    """A test run was about to delete, recreate or write into a topic it did not create."""


def mark_started(bootstrap_servers: str) -> None:
    """Record that this process started the cluster at `bootstrap_servers` (for tests only)."""
    _STARTED.add(bootstrap_servers)


def started_here(bootstrap_servers: str) -> bool:
    """Tell whether this process started the cluster (so every topic on it is the run's own)."""
    return bootstrap_servers in _STARTED


@dataclass
class TopicJanitor:
    """Creates the run's topics, remembers them, and deletes only those."""

    kafka: KafkaSettings
    owns_cluster: bool
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    owned: set[str] = field(default_factory=set)

    @classmethod
    def for_cluster(cls, kafka: KafkaSettings) -> TopicJanitor:
        """Return a janitor that owns the cluster only if this process started it."""
        return cls(kafka, started_here(kafka.bootstrap_servers))

    @property
    def prefix(self) -> str:
        """The per-run prefix of every topic the run creates on a cluster it does not own."""
        return f"lgsp-test-{self.run_id}"

    def name(self, base: str) -> str:
        """Return the run's name for a topic: as is on its own cluster, else under the prefix."""
        return base if self.owns_cluster else f"{self.prefix}.{base}"

    async def existing(self) -> set[str]:
        """Return the topics on the cluster."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka.bootstrap_servers)
        await admin.start()
        try:
            return set(await admin.list_topics())
        finally:
            await admin.close()

    async def create(self, specs: list[TopicSpec]) -> list[str]:
        """Create the missing topics and record them as the run's own; returns those created."""
        created = await ensure_topics(self.kafka, specs)
        self.owned.update(created)
        return created

    def refuse_foreign(self, topics: Iterable[str], action: str = "delete") -> None:
        """Raise ForeignTopicError unless every topic may be deleted by this run."""
        foreign = sorted(t for t in topics if not (self.owns_cluster or t in self.owned))
        if foreign:
            raise ForeignTopicError(
                f"refusing to {action} {', '.join(map(repr, foreign))} on "
                f"{self.kafka.bootstrap_servers}: this test run did not create "
                f"{'them' if len(foreign) > 1 else 'it'} (the cluster was not started by the "
                f"tests). Tests only delete topics they created; point KAFKA_BOOTSTRAP_SERVERS at "
                f"a throwaway cluster, or unset it to let the tests start their own broker."
            )

    async def delete(self, topics: Iterable[str]) -> None:
        """Delete topics the run created (all of them must be), and wait until they are gone."""
        wanted = set(topics)
        self.refuse_foreign(wanted)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka.bootstrap_servers)
        await admin.start()
        try:
            present = sorted(wanted & set(await admin.list_topics()))
            if present:
                await admin.delete_topics(present)
            for _ in range(200):
                if not wanted & set(await admin.list_topics()):
                    break
                await asyncio.sleep(0.1)
        finally:
            await admin.close()
        self.owned -= wanted

    async def recreate(self, specs: list[TopicSpec]) -> None:
        """Delete the topics and create them again, empty (refused for topics not the run's)."""
        self.refuse_foreign([s.name for s in specs], "recreate")
        await self.delete([s.name for s in specs])
        for _ in range(50):
            try:
                await self.create(specs)
                return
            except Exception:  # "marked for deletion" lingers a moment after a delete
                await asyncio.sleep(0.2)
        raise RuntimeError(f"could not recreate {[s.name for s in specs]}")

    async def cleanup(self) -> None:
        """On a cluster the run does not own, delete the topics it created (and nothing else)."""
        if self.owns_cluster or not self.owned:
            return
        mine = sorted(self.owned)
        try:
            await self.delete(mine)
        except Exception:
            log.warning("could not delete this run's topics %s", mine, exc_info=True)
