"""The topic guard refuses, before any call to the cluster, to delete what the run did not make."""

from __future__ import annotations

import pytest

from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec
from lgsp_devkit.topic_guard import ForeignTopicError, TopicJanitor, mark_started, started_here

NOWHERE = KafkaSettings(bootstrap_servers="127.0.0.1:9")  # nothing listens: no call may be made


async def test_deleting_or_recreating_a_foreign_topic_is_refused_with_a_clear_message() -> None:
    janitor = TopicJanitor(NOWHERE, owns_cluster=False)
    with pytest.raises(ForeignTopicError) as refused:
        await janitor.delete(["tthc.dossier.v1"])
    message = str(refused.value)
    assert "refusing to delete 'tthc.dossier.v1' on 127.0.0.1:9" in message
    assert "did not create it" in message and "KAFKA_BOOTSTRAP_SERVERS" in message
    with pytest.raises(ForeignTopicError, match="refusing to recreate"):
        await janitor.recreate([TopicSpec("lgsp.audit"), TopicSpec("lgsp.dlq")])


async def test_cleanup_on_a_foreign_cluster_with_nothing_created_touches_nothing() -> None:
    await TopicJanitor(NOWHERE, owns_cluster=False).cleanup()  # would fail if it connected


def test_names_carry_the_run_prefix_only_on_a_foreign_cluster() -> None:
    foreign = TopicJanitor(NOWHERE, owns_cluster=False, run_id="abc123")
    assert foreign.name("registry.e2e-1") == "lgsp-test-abc123.registry.e2e-1"
    assert TopicJanitor(NOWHERE, owns_cluster=True).name("registry.e2e-1") == "registry.e2e-1"


def test_only_a_cluster_this_process_started_is_owned() -> None:
    assert not started_here("10.9.8.7:9092")
    assert not TopicJanitor.for_cluster(
        KafkaSettings(bootstrap_servers="10.9.8.7:9092")
    ).owns_cluster
    mark_started("10.9.8.7:9092")
    assert TopicJanitor.for_cluster(KafkaSettings(bootstrap_servers="10.9.8.7:9092")).owns_cluster
    assert not started_here("10.9.8.7:9092,10.9.8.8:9092")  # another spelling: foreign
