"""Webhooks, acceptance: a flaky receiver gets every event, in order per key, signed; a worker
process SIGKILLed mid-run loses nothing (duplicates only of its unacknowledged tail).

The receiver is down (nothing listens) while events keep coming, then answers 500 four times,
then 429 with `Retry-After: 1` twice, then 200. Counting is by `webhook-id`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

import pytest
from webhook_env import (
    Receiver,
    WorkerProcess,
    consumer,
    idle,
    make_topics,
    new_secret,
    publish,
    put,
    sealed,
    serving,
    subscription,
    until,
    worker_env,
)

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.inprocess import read_topic
from lgsp_devkit.kafka_local import free_port
from lgsp_devkit.testing import TopicFactory

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
EVENTS = 90


def flaky(n: int) -> tuple[int, dict[str, str]]:
    """500 four times, then 429 with Retry-After twice, then 200."""
    if n < 4:
        return 500, {}
    if n < 6:
        return 429, {"retry-after": "1"}
    return 200, {}


def tail_only(before: list[tuple[int, int]], again: set[tuple[int, int]]) -> bool:
    """Tell whether the places delivered twice are, per partition, a tail of those before."""
    by_partition: dict[int, list[int]] = defaultdict(list)
    for partition, offset in before:
        by_partition[partition].append(offset)
    for partition, offsets in by_partition.items():
        repeated = sorted(o for p, o in again if p == partition)
        if repeated and repeated != [o for o in sorted(set(offsets)) if o >= repeated[0]]:
            return False
    return True


async def test_flaky_receiver_and_a_killed_worker_lose_nothing(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    topics = await make_topics(topic_factory)
    data_topic = await topic_factory("finance.wh", 3)
    secret = new_secret()
    port = free_port()
    receiver = Receiver([secret], flaky)
    url = f"http://127.0.0.1:{port}/hook"
    reg = topics["registry"]
    await put(kafka_settings, reg, "consumer", consumer("thong-ke", data_topic), "thong-ke")
    sub = subscription("wh-a", "thong-ke", data_topic, url, secrets=[sealed(secret)])
    await put(kafka_settings, reg, "webhook_subscription", sub, "wh-a")
    env = worker_env(
        kafka_settings,
        topics,
        max_attempts="60",
        backoff_base_s="0.05",
        backoff_max_s="0.2",
        max_batch="10",
    )
    first = WorkerProcess(env, tmp_path / "worker-1.log")
    second = WorkerProcess(env, tmp_path / "worker-2.log")
    first.start()
    try:
        await first.ready()
        producing = asyncio.create_task(publish(kafka_settings, data_topic, EVENTS, pace_s=0.02))
        await asyncio.sleep(1.5)  # the receiver is down: attempts fail to connect
        async with serving(receiver, port) as server:
            await until(
                lambda: len({r.webhook_id for r in receiver.acked()}) >= 30, 60, "30 deliveries"
            )
            first.kill()
            # What the dead worker sent may still wait in the receiver's sockets: let it land.
            await until(lambda: idle(server), 30, "the dead worker's requests handled")
            killed_at = len(receiver.got)
            second.start()
            await second.ready()
            expected = await producing
            await until(
                lambda: {r.webhook_id for r in receiver.acked()} >= set(expected), 90, "every event"
            )
    finally:
        first.kill()
        second.terminate()
    acked = receiver.acked()
    assert {r.webhook_id for r in acked} == set(expected)
    assert all(r.verified and r.signatures == 1 for r in receiver.got)
    assert [r.status for r in receiver.got[:6]] == [500] * 4 + [429] * 2
    # Retry-After honoured: after the 429s, only requests already in flight, then a quiet second.
    held = receiver.got[5].at
    assert not [r for r in receiver.got if held + 0.3 < r.at < held + 0.9]
    assert [r for r in receiver.got if r.at >= held + 0.9]
    # In order per key: the first delivery of each event follows its key's sequence.
    seen: set[str] = set()
    per_key: dict[str, list[int]] = defaultdict(list)
    for r in acked:
        if r.webhook_id not in seen:
            seen.add(r.webhook_id)
            per_key[r.event["data"]["key"]].append(r.event["data"]["seq"])
    assert all(seqs == sorted(seqs) for seqs in per_key.values())
    # Only the approved fields, with the envelope and the record's place.
    assert set(acked[0].event["data"]) == {"district", "amount_vnd", "seq", "key"}
    assert {"id", "source", "type", "kafkapartition", "kafkaoffset"} <= set(acked[0].event)
    # Duplicates: only what the killed worker delivered but had not committed.
    place = lambda r: (r.event["kafkapartition"], r.event["kafkaoffset"])  # noqa: E731
    before = [place(r) for r in receiver.got[:killed_at] if 200 <= r.status < 300]
    counts: dict[str, int] = defaultdict(int)
    for r in acked:
        counts[r.webhook_id] += 1
    again = {place(r) for r in acked if counts[r.webhook_id] > 1}
    assert again <= set(before) and tail_only(before, again)
    # Every delivered batch audited: consumer, purpose, offsets and field names, no values.
    audit = [r.value for r in await read_topic(kafka_settings, topics["audit"])]
    assert audit and all(b"Nguy" not in v and b"taxpayer" not in v for v in audit)
    assert b'"webhook.deliver"' in audit[0] and b'"statistics"' in audit[0]
