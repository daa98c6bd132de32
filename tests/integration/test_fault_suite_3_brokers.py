"""The 3-broker fault suite: publishing through the gateway survives broker and collector faults.

On its own three-node cluster (not the session broker, so the rest of the suite is undisturbed),
a client publishes distinct events through the real gateway at a steady rate while the suite
(a) SIGKILLs the leader of the busiest partition, then restarts it; (b) pauses a broker with
SIGSTOP for `LGSP_FAULT_PAUSE_S` seconds (30 by default), then SIGCONT: by default the node that
is the active KRaft controller (the worst case of a combined broker+controller node: the quorum
must elect a new controller before the frozen broker can be fenced; it leads partitions too, as
the survivors of (a) took over the killed node's), `LGSP_FAULT_PAUSE_VICTIM=leader` pauses the
busiest partition's leader instead; (c) SIGKILLs the
collector twice, restarting it each time. Afterwards, counted by ce_id: no acknowledged event is
missing from the topic, the collector's figures equal what the topic holds (a client retry of a
503 may write an event twice: counted, not failed on), no 5xx but 503 with Retry-After. The time
until 202s resume after each fault is printed and written to test-artifacts/fault-suite.json,
every answer (time, status, problem type) to test-artifacts/fault-suite-answers.csv.

`LGSP_FAULT_KAFKA_DEFAULTS=1` runs the cluster with Kafka's default failover settings instead of
`FAST_FAILOVER`, to measure what those settings buy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fault_env import (
    Collector,
    Load,
    Topics,
    busiest_partition,
    fully_replicated,
    gateway,
    read_ids,
    stall_figures,
    write_timeline,
)

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.kafka_control import partition_leaders
from lgsp_devkit.kafka_local import LocalKafka

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
PAUSE_S = float(os.environ.get("LGSP_FAULT_PAUSE_S", "30"))
PAUSE_VICTIM = os.environ.get("LGSP_FAULT_PAUSE_VICTIM", "controller")  # or "leader"
DOWN_S = 5.0  # how long the killed leader stays down under load before its restart
# The longest a partition may go without a 202 during a fault (`stall_s`). Kafka's defaults
# stalled 9.6-22 s here; FAST_FAILOVER with 1 s resends measured 1.1-2.4 s at load 7-10 on a
# 2-core box (the frozen controller the slowest), up to 3.5 s at load 16: raise the bound
# with LGSP_FAULT_MAX_STALL_S on a box that busy.
MAX_STALL_S = float(os.environ.get("LGSP_FAULT_MAX_STALL_S", "3"))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalKafka]:
    """Start the suite's own three-node cluster in tmp_path."""
    fast = os.environ.get("LGSP_FAULT_KAFKA_DEFAULTS") != "1"
    kafka = LocalKafka(tmp_path / "kafka", brokers=3, heap="384m", fast_failover=fast)
    kafka.start(timeout_s=120)
    try:
        yield kafka
    finally:
        kafka.stop()


FAULTS = ("kill_leader", "pause_broker")


def all_topics(topics: Topics) -> list[str]:
    """Return every topic whose replicas must be back in sync before the next fault."""
    names = [topics.data, topics.registry, topics.dlq, topics.audit, topics.kpi]
    return names  # the collector keeps its positions in its store, not __consumer_offsets


async def leader_of_busiest(kafka: KafkaSettings, topic: str) -> tuple[int, int]:
    """Return (busiest partition, node id leading it)."""
    partition = await busiest_partition(kafka, topic)
    return partition, (await partition_leaders(kafka.bootstrap_servers, topic))[partition]


async def kill_leader(
    cluster: LocalKafka, kafka: KafkaSettings, topics: Topics, load: Load, out: dict[str, Any]
) -> None:
    """(a) SIGKILL the busiest partition's leader, keep it down DOWN_S, restart it."""
    partition, victim = await leader_of_busiest(kafka, topics.data)
    controller = cluster.active_controller()
    start = time.monotonic()
    out["steady"] = stall_figures(load.answers, start - 10, start)  # the 10 s before any fault
    cluster.control("kill", victim)
    resumed = await load.wait_for_202_after(start)
    await asyncio.sleep(max(0.0, start + DOWN_S - time.monotonic()))  # down, under load
    await asyncio.to_thread(cluster.control, "restart", victim)
    back = time.monotonic()
    out["kill_leader"] = {
        "fault": f"SIGKILL node {victim}, leader of {topics.data}[{partition}]; restarted",
        "victim_was_active_controller": controller == victim,
        "at_s": round(start - load.began, 3),
        "load_average": os.getloadavg()[0],
        "first_202_sent_after_fault_s": round(resumed - start, 3),
        "during": stall_figures(load.answers, start, back),
    }
    await fully_replicated(kafka, all_topics(topics), 90)
    out["kill_leader"]["after_restart"] = stall_figures(load.answers, back, time.monotonic())


async def pause_victim(cluster: LocalKafka, kafka: KafkaSettings, topic: str) -> tuple[int, str]:
    """Return the node to pause (PAUSE_VICTIM) and why it was chosen."""
    if PAUSE_VICTIM == "leader":
        partition, victim = await leader_of_busiest(kafka, topic)
        return victim, f"leader of {topic}[{partition}]"
    controller = cluster.active_controller()
    assert controller is not None, "no node has logged becoming the active controller"
    return controller, "the active controller"


async def pause_broker(
    cluster: LocalKafka, kafka: KafkaSettings, topics: Topics, load: Load, out: dict[str, Any]
) -> None:
    """(b) SIGSTOP the active controller (or the busiest leader) for PAUSE_S s, then SIGCONT."""
    victim, why = await pause_victim(cluster, kafka, topics.data)
    leads = [
        p
        for p, n in (await partition_leaders(kafka.bootstrap_servers, topics.data)).items()
        if n == victim
    ]
    controller = cluster.active_controller()
    start = time.monotonic()
    cluster.control("pause", victim)
    resumed = await load.wait_for_202_after(start)
    await asyncio.sleep(max(0.0, start + PAUSE_S - time.monotonic()))  # paused, under load
    cluster.control("resume", victim)
    back = time.monotonic()
    out["pause_broker"] = {
        "fault": f"SIGSTOP node {victim}, {why}, {PAUSE_S:.0f}s",
        "victim_was_active_controller": controller == victim,
        "victim_led_partitions": leads,
        "at_s": round(start - load.began, 3),
        "load_average": os.getloadavg()[0],
        "first_202_sent_after_fault_s": round(resumed - start, 3),
        "during": stall_figures(load.answers, start, back),
    }
    await load.wait_for_202_after(back)
    await fully_replicated(kafka, all_topics(topics), 90)
    out["pause_broker"]["after_resume"] = stall_figures(load.answers, back, time.monotonic())


async def wait_consuming(http: httpx.AsyncClient, collector: Collector) -> None:
    """Wait (60 s at most) until the collector's count of events moves."""
    first = (await collector.figures(http)).get("events", 0)
    deadline = time.monotonic() + 60
    while (await collector.figures(http)).get("events", 0) <= first:
        assert collector.process.poll() is None, collector.log.read_text()[-3000:]
        assert time.monotonic() < deadline, "no progress: " + collector.log.read_text()[-4000:]
        await asyncio.sleep(0.2)


async def kill_collector_twice(
    kafka: KafkaSettings, topics: Topics, folder: Path, started: list[Collector]
) -> Any:
    """(c) Twice: wait until the collector makes progress, SIGKILL it, start a new one."""
    async with httpx.AsyncClient(timeout=3) as http:
        for n in (1, 2):
            await wait_consuming(http, started[-1])
            started[-1].kill()
            started.append(Collector(kafka, topics, folder, f"c{n}"))
    return {"fault": "collector SIGKILLed twice, restarted each time"}


async def wait_for_figures(collector: Collector, wanted: dict[str, int]) -> dict[str, Any]:
    """Poll the collector until its figures equal `wanted` (90 s); return the last seen."""
    found: dict[str, Any] = {}
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(timeout=3) as http:
        while time.monotonic() < deadline:
            found = await collector.figures(http)
            if found == wanted:
                break
            assert collector.process.poll() is None, collector.log.read_text()[-3000:]
            await asyncio.sleep(0.5)
    return found


async def test_publishing_survives_broker_and_collector_faults(
    cluster: LocalKafka, tmp_path: Path
) -> None:
    began = time.monotonic()
    kafka = KafkaSettings(bootstrap_servers=cluster.bootstrap_servers, replication_factor=3)
    topics = Topics()
    await topics.create(kafka)
    folder, started = tmp_path / "collector", list[Collector]()
    load: Load | None = None
    figures: dict[str, Any] = {
        "pause_s": PAUSE_S,
        "fast_failover": cluster.fast_failover,
        "load_average": os.getloadavg()[0],
    }
    try:
        async with gateway(kafka, topics) as (url, key):
            started.append(Collector(kafka, topics, folder, "c0"))
            load = Load(url, key, topics.data)
            running = asyncio.create_task(load.run())
            try:
                await load.wait_for_202_after(time.monotonic(), 30)
                async with httpx.AsyncClient(timeout=3) as http:  # started before any fault
                    await wait_consuming(http, started[0])
                await kill_leader(cluster, kafka, topics, load, figures)
                await pause_broker(cluster, kafka, topics, load, figures)
                figures["collector"] = await kill_collector_twice(kafka, topics, folder, started)
                await asyncio.sleep(2)
            finally:
                load.stop()
                await running
        await check_outcome(kafka, topics, load, started[-1], figures)
    finally:
        for collector in started:
            collector.stop()
        figures["suite_s"] = round(time.monotonic() - began, 1)
        figures["load_average_after"] = os.getloadavg()[0]
        report(figures, load)


async def check_outcome(
    kafka: KafkaSettings, topics: Topics, load: Load, collector: Collector, figures: Any
) -> None:
    """Counted by ce_id: nothing acknowledged lost, collector equal to the topic, no bad 5xx."""
    ids = await read_ids(kafka, topics.data)
    on_topic = set(ids)
    bad = [a for a in load.answers if a.status >= 500 and not (a.status == 503 and a.retry_after)]
    wanted = {"events": len(ids), "dossiers": len(on_topic), "duplicates": len(ids) - len(on_topic)}
    found = await wait_for_figures(collector, wanted)
    figures["outcome"] = {
        "events_attempted": len(load.attempted),
        "acknowledged": len(load.acked),
        "acknowledged_lost": len(load.acked - on_topic),
        "written_never_acknowledged": len(on_topic - load.acked),
        "records_on_topic": len(ids),
        "duplicates_on_topic": wanted["duplicates"],
        "answers": {str(s): sum(a.status == s for a in load.answers) for s in statuses(load)},
        "bad_5xx": len(bad),
        "collector": found,
    }
    assert not load.acked - on_topic, "acknowledged events missing from the topic"
    assert on_topic == load.acked, "the topic holds events nobody was told were accepted"
    assert load.acked == load.attempted, "some events were never acknowledged"
    assert not bad, f"5xx other than 503 with Retry-After: {bad[:5]}"
    assert not any(400 <= a.status < 500 for a in load.answers)
    assert found == wanted, f"collector figures {found} differ from the topic's {wanted}"
    stalls = {  # during each fault and after its end (restart, resume)
        f"{k} {window}": figures[k][window]["stall_s"]
        for k in FAULTS
        for window in ("during", "after_restart", "after_resume")
        if window in figures[k]
    }
    if figures["fast_failover"]:
        assert max(stalls.values()) < MAX_STALL_S, f"publishing stalled too long: {stalls}"


def statuses(load: Load) -> list[int]:
    """Return the distinct statuses answered (0: no answer)."""
    return sorted({a.status for a in load.answers})


def report(figures: dict[str, Any], load: Load | None) -> None:
    """Print the figures and write them (and every answer) under test-artifacts/."""
    text = json.dumps(figures, indent=2, ensure_ascii=False)
    print(f"\n3-broker fault suite:\n{text}")
    with contextlib.suppress(OSError):
        ARTIFACTS.mkdir(exist_ok=True)
        name = "fault-suite" + ("" if figures["fast_failover"] else "-kafka-defaults")
        (ARTIFACTS / f"{name}.json").write_text(text + "\n", encoding="utf-8")
        if load is not None:
            write_timeline(load.answers, load.began, ARTIFACTS / f"{name}-answers.csv")
