"""Tests own their data: against a cluster they did not start, they never delete, empty or write
into a topic they did not create, and the guard says so.

"A cluster the tests did not start" is the session's own broker under another spelling of its
address (`localhost:<port>` instead of `127.0.0.1:<port>`): the janitor recognises a cluster by
the exact bootstrap string the session started, so that spelling is foreign, as the province's
cluster named by KAFKA_BOOTSTRAP_SERVERS would be.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics
from lgsp_devkit.inprocess import in_process_platform, read_topic
from lgsp_devkit.topic_guard import ForeignTopicError, TopicJanitor, started_here

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(120)]
CONTRACT_TOPIC = "tthc.dossier.v1"


def foreign(kafka: KafkaSettings) -> KafkaSettings:
    """The same broker, named as a cluster this session did not start."""
    if not started_here(kafka.bootstrap_servers):
        pytest.skip("writes into a contract topic: only on the broker the session started")
    host, _, port = kafka.bootstrap_servers.partition(",")[0].rpartition(":")
    assert host == "127.0.0.1"
    return KafkaSettings(bootstrap_servers=f"localhost:{port}")


async def put_record(kafka: KafkaSettings, topic: str, marker: bytes) -> None:
    await ensure_topics(kafka, [TopicSpec(topic, kafka.default_partitions)])
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, marker, key=marker)
    finally:
        await producer.stop()


async def test_the_platform_leaves_a_clusters_contract_topic_and_its_record_intact(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    other = foreign(kafka_settings)
    marker = f"province-data-{uuid.uuid4().hex}".encode()
    await put_record(kafka_settings, CONTRACT_TOPIC, marker)
    with pytest.raises(ForeignTopicError, match=CONTRACT_TOPIC) as refused:
        async with in_process_platform(other, tmp_path, citizens=50):
            pass  # pragma: no cover - the set-up refuses
    assert "did not create" in str(refused.value)
    assert "KAFKA_BOOTSTRAP_SERVERS" in str(refused.value)
    assert marker in [r.value for r in await read_topic(kafka_settings, CONTRACT_TOPIC)]


async def test_the_guard_refuses_to_delete_or_recreate_a_topic_the_run_did_not_create(
    kafka_settings: KafkaSettings,
) -> None:
    janitor = TopicJanitor(kafka_settings, owns_cluster=False)
    theirs = f"someone-else.{uuid.uuid4().hex[:8]}"
    marker = b"not-yours"
    await put_record(kafka_settings, theirs, marker)
    with pytest.raises(ForeignTopicError, match=theirs):
        await janitor.delete([theirs])
    with pytest.raises(ForeignTopicError, match="recreate"):
        await janitor.recreate([TopicSpec(theirs)])
    mine = janitor.name("mine")
    assert mine.startswith(f"lgsp-test-{janitor.run_id}.")
    assert await janitor.create([TopicSpec(mine, 1)]) == [mine]
    with pytest.raises(ForeignTopicError):  # one foreign topic refuses the whole call
        await janitor.delete([mine, theirs])
    await janitor.cleanup()
    topics = await janitor.existing()
    assert mine not in topics and theirs in topics
    assert [r.value for r in await read_topic(kafka_settings, theirs)] == [marker]


async def test_on_a_foreign_cluster_the_platform_deletes_exactly_what_it_created(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    other = foreign(kafka_settings)
    janitor = TopicJanitor.for_cluster(other)
    assert not janitor.owns_cluster
    data = [f"e2e-data-{uuid.uuid4().hex[:8]}"]
    before = await janitor.existing()
    async with in_process_platform(
        other, tmp_path, citizens=50, janitor=janitor, data_topics=data
    ) as platform:
        created = set(janitor.owned)
        assert set(data) | set(platform.topics.values()) <= created
        assert all(t.startswith(janitor.prefix) for t in platform.topics.values())
        assert not created & before
    after = await janitor.existing()
    assert not created & after  # what it created is gone
    assert before <= after  # nothing else is
