"""Topic administration: create topics idempotently with partitions, replication and config."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from lgsp_common.settings import KafkaSettings

log = logging.getLogger(__name__)

REGISTRY_TOPIC = "lgsp.registry"
DLQ_TOPIC = "lgsp.dlq"
AUDIT_TOPIC = "lgsp.audit"
AUDIT_CHECKPOINTS_TOPIC = "lgsp.audit.checkpoints"
WEBHOOKS_DLQ_TOPIC = "lgsp.webhooks.dlq"


@dataclass(frozen=True)
class TopicSpec:
    """A topic the platform needs, and how it must be configured."""

    name: str
    partitions: int = 3
    replication: int | None = None
    config: dict[str, str] = field(default_factory=dict)


def platform_topics() -> list[TopicSpec]:
    """Return the platform's own topics (registry copy, dead letters, audit trail)."""
    return [
        TopicSpec(REGISTRY_TOPIC, 1, config={"cleanup.policy": "compact"}),
        # Dead letters are bounded: a week or 1 GiB per partition, whichever comes first.
        TopicSpec(
            DLQ_TOPIC,
            3,
            config={"retention.ms": str(7 * 24 * 3600 * 1000), "retention.bytes": str(1 << 30)},
        ),
        TopicSpec(AUDIT_TOPIC, 3, config={"retention.ms": "-1"}),
        # Signed checkpoints of the audit chains: the newest per chain survives compaction.
        TopicSpec(AUDIT_CHECKPOINTS_TOPIC, 3, config={"cleanup.policy": "compact"}),
        # Webhook dead letters name the subscription and the position, never payload values.
        TopicSpec(WEBHOOKS_DLQ_TOPIC, 3, config={"retention.ms": str(14 * 24 * 3600 * 1000)}),
    ]


def contract_topics(contracts_dir: Path) -> list[str]:
    """Return the data topics that have a contract in `contracts/topics/`."""
    topics_dir = contracts_dir / "topics"
    if not topics_dir.is_dir():
        return []
    return sorted(p.name for p in topics_dir.iterdir() if any(p.glob("v*.schema.json")))


def load_contract(contracts_dir: Path, topic: str) -> dict[str, object] | None:
    """Return the latest contract version of a topic from the contracts folder, if any."""
    files = sorted(
        (contracts_dir / "topics" / topic).glob("v*.schema.json"),
        key=lambda p: int(p.name[1:].split(".")[0]),
    )
    if not files:
        return None
    loaded: dict[str, object] = json.loads(files[-1].read_text(encoding="utf-8"))
    return loaded


async def ensure_topics(kafka: KafkaSettings, specs: list[TopicSpec]) -> list[str]:
    """Create the missing topics; existing ones are left as they are. Returns those created."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=kafka.bootstrap_servers, client_id="lgsp-topic-admin"
    )
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        wanted = [s for s in specs if s.name not in existing]
        created: list[str] = []
        for spec in wanted:
            topic = NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                replication_factor=spec.replication or kafka.replication_factor,
                topic_configs=spec.config,
            )
            response = await admin.create_topics([topic])
            for name, code, *rest in response.topic_errors:
                if code == 0:
                    created.append(name)
                elif code != TopicAlreadyExistsError.errno:  # a concurrent creator is fine
                    message = rest[0] if rest else ""
                    raise for_code(code)(f"cannot create topic {name}: {message}")
        if created:
            log.info("created topics", extra={"topics": created})
        return created
    finally:
        await admin.close()


async def ensure_platform_topics(kafka: KafkaSettings, contracts_dir: Path) -> list[str]:
    """Create the platform topics and one topic per contract, if they are missing."""
    specs = platform_topics() + [
        TopicSpec(topic, kafka.default_partitions) for topic in contract_topics(contracts_dir)
    ]
    return await ensure_topics(kafka, specs)
