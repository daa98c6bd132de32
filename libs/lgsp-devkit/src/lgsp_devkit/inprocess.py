"""The whole platform in one process, over real HTTP and a real Kafka, for end-to-end tests.

Registry, population upstream and adapter, gateway and collector are each served on a loopback
port (`lgsp_devkit.testing.serve`), from nothing: a fresh registry database, fresh platform topics
of their own, and the data topics (whose names the contracts fix) emptied first, so the
collector sees exactly this run's events. The service packages are imported here, lazily:
the `lgsp` command itself never needs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI

from lgsp_common.settings import KafkaSettings, repo_root
from lgsp_common.topics import TopicSpec, contract_topics, ensure_topics
from lgsp_devkit.kafka_local import free_port
from lgsp_devkit.testing import serve

OPERATOR_TOKEN = "in-process-operator-token-0123456789"  # noqa: S105 - a test platform's token
GATEWAY_TOKEN = "in-process-gateway-to-adapter-token"  # noqa: S105
RESOURCE = "population.citizen.v1"
POPULATION_SOURCE = "/sources/cat-xac-thuc-dan-cu"


@dataclass
class InProcessPlatform:
    """Where each service listens, its app (for tracer providers) and the topics it uses."""

    urls: dict[str, str] = field(default_factory=dict)
    apps: dict[str, FastAPI] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)
    token: str = OPERATOR_TOKEN
    # The collector's settings, so a test can start another replica of the same group.
    collector_settings: Any = None


async def recreate_data_topics(kafka: KafkaSettings, topics: list[str]) -> None:
    """Delete the data topics and create them again, empty (the broker is shared by tests)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        present = [t for t in topics if t in set(await admin.list_topics())]
        if present:
            await admin.delete_topics(present)
        for _ in range(200):
            if not set(topics) & set(await admin.list_topics()):
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    for _ in range(50):
        try:
            await ensure_topics(kafka, [TopicSpec(t, kafka.default_partitions) for t in topics])
            return
        except Exception:  # "marked for deletion" lingers a moment after a delete
            await asyncio.sleep(0.2)
    raise RuntimeError(f"could not recreate {topics}")


def _names() -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return {name: f"{name}.e2e-{suffix}" for name in ("registry", "dlq", "audit", "kpi")}


def _build_apps(
    kafka: KafkaSettings, workdir: Path, topics: dict[str, str], collector: dict[str, Any]
) -> dict[str, Any]:
    from ioc_collector.main import create_app as collector_app  # noqa: PLC0415
    from ioc_collector.settings import CollectorSettings  # noqa: PLC0415
    from lgsp_registry.main import create_app as registry_app  # noqa: PLC0415
    from lgsp_registry.settings import RegistrySettings  # noqa: PLC0415

    registry = registry_app(RegistrySettings(
        kafka=kafka, data_dir=workdir / "registry", operator_token=OPERATOR_TOKEN,
        registry_topic=topics["registry"], publish_interval_s=0.1,
    ))  # fmt: skip
    settings = CollectorSettings(
        kafka=kafka, group_id=f"ioc-{topics['kpi']}", store_path=workdir / "collector.sqlite3",
        registry_topic=topics["registry"], dlq_topic=topics["dlq"], kpi_topic=topics["kpi"],
        tick_interval_s=0.25, **collector,
    )  # fmt: skip
    return {"registry": registry, "collector": collector_app(settings), "settings": settings}


def _population_apps(
    kafka: KafkaSettings, workdir: Path, topics: dict[str, str], citizens: int, upstream_url: str
) -> dict[str, Any]:
    from lgsp_simulators.national_population.app import create_upstream_app  # noqa: PLC0415
    from lgsp_simulators.national_population.settings import UpstreamSettings  # noqa: PLC0415
    from population_adapter.main import create_app as adapter_app  # noqa: PLC0415
    from population_adapter.settings import AdapterSettings  # noqa: PLC0415

    upstream = create_upstream_app(
        UpstreamSettings(db_path=workdir / "citizens.sqlite", count=citizens, seed=6)
    )
    adapter = adapter_app(AdapterSettings(
        kafka=kafka, upstream_url=upstream_url, registry_topic=topics["registry"],
        audit_topic=topics["audit"], gateway_token=GATEWAY_TOKEN, consumer_resource=RESOURCE,
        event_source=POPULATION_SOURCE,
    ))  # fmt: skip
    return {"upstream": upstream, "adapter": adapter}


def _gateway_app(kafka: KafkaSettings, topics: dict[str, str], adapter_url: str) -> Any:
    from lgsp_gateway.main import create_app as gateway_app  # noqa: PLC0415
    from lgsp_gateway.settings import GatewaySettings  # noqa: PLC0415

    return gateway_app(GatewaySettings(
        kafka=kafka, registry_topic=topics["registry"], dlq_topic=topics["dlq"],
        audit_topic=topics["audit"], population_adapter_url=adapter_url,
        population_adapter_token=GATEWAY_TOKEN, population_resource=RESOURCE,
    ))  # fmt: skip


@contextlib.asynccontextmanager
async def in_process_platform(
    kafka: KafkaSettings, workdir: Path, *, citizens: int = 3000, **collector: Any
) -> AsyncIterator[InProcessPlatform]:
    """Serve the whole platform in this process; `collector` overrides collector settings."""
    from lgsp_simulators.national_population.store import build_database  # noqa: PLC0415

    platform = InProcessPlatform(topics=_names())
    await recreate_data_topics(kafka, contract_topics(repo_root() / "contracts"))
    names = platform.topics
    await ensure_topics(kafka, [
        TopicSpec(names["registry"], 1, config={"cleanup.policy": "compact"}),
        TopicSpec(names["dlq"], kafka.default_partitions),
        TopicSpec(names["audit"], kafka.default_partitions),
    ])  # fmt: skip
    await asyncio.to_thread(build_database, workdir / "citizens.sqlite", citizens, 6)
    apps = _build_apps(kafka, workdir, platform.topics, collector)
    platform.collector_settings = apps.pop("settings")
    async with contextlib.AsyncExitStack() as stack:
        platform.urls["registry"] = await stack.enter_async_context(serve(apps["registry"]))
        upstream_port = free_port()
        population = _population_apps(kafka, workdir, platform.topics, citizens,
                                      f"http://127.0.0.1:{upstream_port}")  # fmt: skip
        apps |= population
        platform.urls["upstream"] = await stack.enter_async_context(
            serve(population["upstream"], upstream_port)
        )
        platform.urls["adapter"] = await stack.enter_async_context(serve(population["adapter"]))
        apps["gateway"] = _gateway_app(kafka, platform.topics, platform.urls["adapter"])
        platform.urls["gateway"] = await stack.enter_async_context(serve(apps["gateway"]))
        platform.urls["collector"] = await stack.enter_async_context(serve(apps["collector"]))
        platform.apps = apps
        yield platform


async def read_topic(kafka: KafkaSettings, topic: str, timeout_s: float = 20.0) -> list[Any]:
    """Return every record of a topic, from the beginning up to its end when called."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=None,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        for _ in range(200):  # without a group, every partition gets assigned after start
            if consumer.assignment():
                break
            await asyncio.sleep(0.05)
        partitions = sorted(consumer.assignment())
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[Any] = []
        deadline = asyncio.get_running_loop().time() + timeout_s
        while [p for p in partitions if await consumer.position(p) < ends[p]]:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{topic}: not read to its end in {timeout_s:.0f}s")
            batches = await consumer.getmany(timeout_ms=300)
            found += [record for records in batches.values() for record in records]
        return found
    finally:
        await consumer.stop()


async def wait_consumed(
    http: httpx.AsyncClient, expected: dict[str, int], timeout_s: float = 60.0
) -> dict[str, int]:
    """Wait until the collector has consumed `expected` events per topic; return its counts."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    counts: dict[str, int] = {}
    while asyncio.get_running_loop().time() < deadline:
        counts = {}
        for row in (await http.get("/v1/streams/counts")).json()["sources"]:
            counts[row["topic"]] = counts.get(row["topic"], 0) + row["events"]
        if all(counts.get(topic, 0) >= count for topic, count in expected.items()):
            return counts
        await asyncio.sleep(0.25)
    raise TimeoutError(f"the collector consumed {counts}, expected {expected}")
