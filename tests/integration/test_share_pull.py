"""Pull reads on the real broker: approved fields only, refusals, commit and resume, audit."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions
from share_env import (
    AUDIT_KEY,
    CURSOR_KEY,
    SECRET_ID,
    Share,
    consumer_changes,
    payload,
    projected,
    publish,
    read_topic,
    share_setup,
)
from typer.testing import CliRunner

from lgsp_cli.main import app
from lgsp_common.audit import verify_chain
from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.problems import PROBLEM_MEDIA_TYPE
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import TopicFactory, publish_registry_changes, serve
from lgsp_gateway.main import create_app
from lgsp_gateway.settings import GatewaySettings

pytestmark = pytest.mark.kafka
Gateway = tuple[Share, httpx.AsyncClient]


@pytest.fixture(params=[True, False], ids=["fast-lane", "fastapi-route"])
async def gateway(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, request: pytest.FixtureRequest
) -> AsyncIterator[Gateway]:
    """Start a gateway over real HTTP on per-test topics, consumers and keys (both read paths)."""
    share = await share_setup(kafka_settings, topic_factory)
    settings = GatewaySettings(
        kafka=kafka_settings,
        registry_topic=share.registry,
        audit_topic=share.audit,
        audit_key=AUDIT_KEY,
        cursor_key=CURSOR_KEY,
        fast_lane=request.param,
    )
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        yield share, http


async def read(
    http: httpx.AsyncClient, share: Share, key: str, topic: str | None = None, **query: Any
) -> httpx.Response:
    """GET the records of the share's topic (or another) with a consumer key."""
    return await http.get(
        f"/v1/topics/{topic or share.topic}/records",
        params=query,
        headers={"x-api-key": key},
        timeout=40,
    )


async def read_all(
    http: httpx.AsyncClient, share: Share, key: str, count: int, position: str = "earliest"
) -> tuple[list[dict[str, Any]], str]:
    """Follow cursors until `count` records were read; return them and the last cursor."""
    records: list[dict[str, Any]] = []
    async with asyncio.timeout(30):
        while len(records) < count:
            answer = await read(http, share, key, position=position, wait_ms=2000)
            assert answer.status_code == 200, answer.text
            records += answer.json()["records"]
            position = answer.json()["next"]
            following = httpx.URL(answer.links["next"]["url"])  # the Link header names it too
            assert following.params["position"] == position
    return records, position


def assert_problem(answer: httpx.Response, status: int, type_end: str) -> None:
    """Check an RFC 9457 answer with its status and problem type."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert answer.json()["type"].endswith(type_end), answer.json()


async def test_approved_consumer_reads_exactly_its_fields_and_every_read_is_audited(
    gateway: Gateway,
) -> None:
    share, http = gateway
    await publish(http, share, 0, 6)
    records, cursor = await read_all(http, share, share.keys["ok"], 6)
    assert len(records) == 6
    assert sorted(r["data"]["case_id"] for r in records) == [f"HS-{i:04d}" for i in range(6)]
    for record in records:
        i = int(record["data"]["case_id"][3:])
        assert record["data"] == projected(i)
        assert record["specversion"] == "1.0" and record["source"] == "/sources/src-a"
        assert record["type"] == "vn.gov.lgsp.share.case" and record["id"] and record["time"]
        assert record["dataschema"] and record["subject"] == record["data"]["case_id"]
        assert isinstance(record["kafkapartition"], int) and isinstance(record["kafkaoffset"], int)
    keys = {(r["kafkapartition"], r["kafkaoffset"]) for r in records}
    assert len(keys) == 6  # no duplicate
    peer = await read(http, share, share.keys["peer"], position="earliest", max_records=1000)
    assert {tuple(r["data"]) for r in peer.json()["records"]} == {("district",)}
    empty = await read(http, share, share.keys["ok"], position=cursor)
    assert empty.status_code == 200 and empty.json()["records"] == []

    def all_reads(found: list[dict[str, Any]]) -> bool:
        reads = [r for r in found if r["action"] == "event.read"]
        mine = [r for r in reads if r["actor"]["id"] == "c-ok"]
        peers = [r for r in reads if r["actor"]["id"] == "c-peer"]
        empty = [r for r in mine if r["record_count"] == 0]
        return sum(r["record_count"] for r in mine) >= 6 and bool(peers) and bool(empty)

    audit = await read_topic(share.kafka, share.audit, all_reads)
    assert verify_chain(audit, {"gateway-local": AUDIT_KEY.encode()}) == []
    reads = [r for r in audit if r["action"] == "event.read"]
    ok_reads = [r for r in reads if r["actor"]["id"] == "c-ok"]
    assert sum(r["record_count"] for r in ok_reads) == 6
    assert all(r["purpose"] == "statistics_reporting" for r in reads)
    assert {f for r in ok_reads for f in r["disclosed_fields"]} == {
        "/case_id",
        "/citizen/name",
        "/result/files/*/name",
    }
    ranges = [
        (o["partition"], o["first_offset"], o["last_offset"])
        for r in ok_reads
        for o in r["offsets"]
    ]
    assert sum(last - first + 1 for _, first, last in ranges) == 6
    assert all(SECRET_ID not in str(r) and "Nguyễn" not in str(r) for r in audit)


async def test_following_the_link_header_reads_every_record_once(gateway: Gateway) -> None:
    share, http = gateway
    await publish(http, share, 0, 5)
    url = f"/v1/topics/{share.topic}/records?position=earliest&max_records=2&wait_ms=2000"
    found: list[dict[str, Any]] = []
    async with asyncio.timeout(30):
        while len(found) < 5:
            answer = await http.get(url, headers={"x-api-key": share.keys["ok"]})
            assert answer.status_code == 200, answer.text
            assert len(answer.json()["records"]) <= 2
            found += answer.json()["records"]
            url = answer.links["next"]["url"]
            assert httpx.URL(url).path == f"/v1/topics/{share.topic}/records"
            assert httpx.URL(url).params["max_records"] == "2"
    assert sorted(r["data"]["case_id"] for r in found) == [f"HS-{i:04d}" for i in range(5)]


async def test_refusals_are_problems_with_the_right_status(gateway: Gateway) -> None:
    share, http = gateway
    await publish(http, share, 0, 1)
    for name in ("pending", "rejected", "elsewhere"):
        assert_problem(
            await read(http, share, share.keys[name], position="earliest"), 403, "forbidden"
        )
    assert_problem(await read(http, share, share.keys["revoked"]), 401, "unauthenticated")
    assert_problem(await read(http, share, "lgsp_nokey_x"), 401, "unauthenticated")
    wrong_topic = await read(http, share, share.keys["ok"], topic=share.other_topic)
    assert_problem(wrong_topic, 403, "forbidden")
    mine = (await read(http, share, share.keys["ok"], position="earliest")).json()["next"]
    payload, mac = mine.split(".")
    tampered = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + mac
    for bad in (tampered, "garbage", mine + "x", "a.b.c"):
        assert_problem(
            await read(http, share, share.keys["ok"], position=bad), 400, "invalid-cursor"
        )
    assert_problem(
        await read(http, share, share.keys["peer"], position=mine), 400, "foreign-cursor"
    )
    for query in ({"max_records": 1001}, {"max_records": 0}, {"wait_ms": 30_001}):
        assert_problem(await read(http, share, share.keys["ok"], **query), 422, "invalid-request")
    commit = await http.put(
        f"/v1/topics/{share.topic}/records/committed",
        json={"cursor": mine},
        headers={"x-api-key": share.keys["peer"]},
    )
    assert_problem(commit, 400, "foreign-cursor")


async def test_commit_then_committed_resumes_there_and_shows_as_group_offsets(
    gateway: Gateway,
) -> None:
    share, http = gateway
    await publish(http, share, 0, 5)
    key = share.keys["ok"]
    first, _ = await read_all(http, share, key, 5, position="committed")  # none yet: earliest
    assert len(first) == 5
    two = await read(http, share, key, position="earliest", max_records=2)
    assert len(two.json()["records"]) == 2
    committed = await http.put(
        f"/v1/topics/{share.topic}/records/committed",
        json={"cursor": two.json()["next"]},
        headers={"authorization": f"Bearer {key}"},
    )
    assert committed.status_code == 200, committed.text
    assert committed.json()["group"] == "lgsp.consumer.c-ok"
    rest, _ = await read_all(http, share, key, 3, position="committed")
    seen = {(r["kafkapartition"], r["kafkaoffset"]) for r in two.json()["records"] + rest}
    assert seen == {(r["kafkapartition"], r["kafkaoffset"]) for r in first}
    admin = AIOKafkaAdminClient(bootstrap_servers=share.kafka.bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets("lgsp.consumer.c-ok")
    finally:
        await admin.close()
    stored = {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == share.topic}
    assert {str(p): o for p, o in stored.items()} == committed.json()["positions"]


async def waiting_polls(http: httpx.AsyncClient) -> float:
    """Return how many long polls wait on this gateway (its own metric)."""
    text = (await http.get("/metrics")).text
    lines = [
        line for line in text.splitlines() if line.startswith("gateway_read_long_polls_waiting{")
    ]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


async def long_poll_started(http: httpx.AsyncClient, task: asyncio.Task[Any]) -> None:
    """Wait until a long poll is waiting on the gateway."""
    async with asyncio.timeout(15):
        while await waiting_polls(http) < 1:
            assert not task.done(), task.result().text
            await asyncio.sleep(0.02)


async def test_revocation_and_narrowing_take_effect_mid_long_poll(gateway: Gateway) -> None:
    share, http = gateway
    await publish(http, share, 0, 1)
    _, cursor = await read_all(http, share, share.keys["ok"], 1)
    narrowed = consumer_changes("c-ok", share.topic, "approved", share.keys["ok"], ["/case_id"])
    poll = asyncio.create_task(read(http, share, share.keys["ok"], position=cursor, wait_ms=20_000))
    await long_poll_started(http, poll)
    await publish_registry_changes(share.kafka, share.registry, narrowed)
    await asyncio.sleep(0)  # let the registry copy see the change before the event is produced
    async with asyncio.timeout(10):
        while True:  # the approval is narrowed in the copy when a fresh read shows it
            fresh = await read(http, share, share.keys["ok"], position="earliest", max_records=1)
            if set(fresh.json()["records"][0]["data"]) == {"case_id"}:
                break
    await publish(http, share, 1, 1)
    answer = await poll
    assert answer.status_code == 200
    assert [r["data"] for r in answer.json()["records"]] == [{"case_id": "HS-0001"}]

    poll = asyncio.create_task(
        read(http, share, share.keys["ok"], position=answer.json()["next"], wait_ms=25_000)
    )
    await long_poll_started(http, poll)
    revoked = consumer_changes("c-ok", share.topic, "rejected", share.keys["ok"], ["/case_id"])
    await publish_registry_changes(share.kafka, share.registry, revoked)
    revoked_at = time.monotonic()
    answer = await poll
    took = time.monotonic() - revoked_at
    assert_problem(answer, 403, "forbidden")
    assert took < 2.0, f"revocation took {took:.2f} s mid-long-poll"


async def test_a_partition_added_to_the_topic_is_read_from_its_start(gateway: Gateway) -> None:
    share, http = gateway
    await publish(http, share, 0, 3)
    _, cursor = await read_all(http, share, share.keys["ok"], 3)
    admin = AIOKafkaAdminClient(bootstrap_servers=share.kafka.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_partitions({share.topic: NewPartitions(total_count=4)})
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=share.kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        event = CloudEvent(source="/sources/src-a", type="t.case", data=payload(9))
        record = to_kafka(event, "HS-0009")
        await producer.send_and_wait(
            share.topic, record.value, key=record.key, headers=record.headers, partition=3
        )
    finally:
        await producer.stop()
    found: list[dict[str, Any]] = []
    async with asyncio.timeout(30):
        while not found:
            answer = await read(http, share, share.keys["ok"], position=cursor, wait_ms=3000)
            found += answer.json()["records"]
            cursor = answer.json()["next"]
    assert [(r["kafkapartition"], r["kafkaoffset"]) for r in found] == [(3, 0)]
    assert found[0]["data"] == projected(9)


async def test_lgsp_consume_prints_records_and_keeps_its_cursor(
    gateway: Gateway, tmp_path: Path
) -> None:
    share, http = gateway
    await publish(http, share, 0, 4)
    runner = CliRunner()
    cursor = tmp_path / "cursor"
    args = ["consume", share.topic, "--key", share.keys["ok"], "--gateway", str(http.base_url)]
    args += ["--cursor-file", str(cursor), "--commit"]

    async def run(*extra: str) -> list[dict[str, Any]]:
        result = await asyncio.to_thread(runner.invoke, app, [*args, *extra])
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.stdout.splitlines()]

    first = await run("--from", "earliest")
    assert sorted(r["data"]["case_id"] for r in first) == [f"HS-{i:04d}" for i in range(4)]
    assert all(r["data"] == projected(int(r["data"]["case_id"][3:])) for r in first)
    assert cursor.exists() and await run() == []  # continues from the saved cursor
    await publish(http, share, 4, 2)
    assert sorted(r["data"]["case_id"] for r in await run("--max", "5")) == ["HS-0004", "HS-0005"]
    cursor.unlink()
    assert await run("--from", "committed") == []  # every page was committed
    refused = await asyncio.to_thread(
        runner.invoke,
        app,
        [
            "consume",
            share.topic,
            "--key",
            share.keys["pending"],
            "--gateway",
            str(http.base_url),
            "--cursor-file",
            str(cursor),
        ],
    )
    assert refused.exit_code == 1 and "403" in refused.output
