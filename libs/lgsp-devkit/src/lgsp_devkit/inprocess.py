"""The whole platform in one process, over real HTTP and a real Kafka, for end-to-end tests.

Registry, population upstream and adapter, gateway, collector and a webhook delivery worker
(loopback receivers allowed) are each served on a loopback port (`lgsp_devkit.testing.serve`),
from nothing: a fresh registry database, fresh platform topics
of their own, and the data topics (whose names the contracts fix) empty, so the collector sees
exactly this run's events. Every topic goes through a `TopicJanitor` (`topic_guard`), and the
services are given creators that create nothing of their own: on the broker the test session
started, the data topics are emptied (deleted and created again); on any other cluster
(`KAFKA_BOOTSTRAP_SERVERS`) the run never deletes, empties or writes into a topic it did not
create: it refuses with `ForeignTopicError` if a contract topic already exists there, else creates
them, puts its own topics under a per-run prefix, and deletes exactly what it created at the end.
The service packages are imported here, lazily: the `lgsp` command itself never needs them.
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
from fastapi import FastAPI

from lgsp_common.audit import checkpoint_topic_for
from lgsp_common.settings import KafkaSettings, repo_root
from lgsp_common.topics import TopicSpec, contract_topics
from lgsp_devkit.kafka_local import free_port
from lgsp_devkit.testing import serve
from lgsp_devkit.topic_guard import TopicJanitor
from lgsp_devkit.viewers import issue_viewer_token

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
    # What created this run's topics (and, on a cluster the tests did not start, deletes them).
    janitor: TopicJanitor | None = None
    # A viewer's access token the registry issued at start (the collector needs a viewer).
    viewer_token: str = ""

    @property
    def viewer_headers(self) -> dict[str, str]:
        """Return the headers that sign a request to the collector in as the viewer."""
        return {"Authorization": f"Bearer {self.viewer_token}"}


async def recreate_data_topics(
    kafka: KafkaSettings, topics: list[str], janitor: TopicJanitor | None = None
) -> None:
    """Empty the data topics (delete, create again); refused for topics the run did not create."""
    janitor = janitor or TopicJanitor.for_cluster(kafka)
    await janitor.recreate([TopicSpec(t, kafka.default_partitions) for t in topics])


async def prepare_data_topics(janitor: TopicJanitor, topics: list[str]) -> None:
    """Make the data topics exist and be empty, touching no topic the run did not create."""
    specs = [TopicSpec(t, janitor.kafka.default_partitions) for t in topics]
    if janitor.owns_cluster:
        await janitor.recreate(specs)
        return
    # Someone else's data topics: neither emptied nor written into (nor read as this run's).
    janitor.refuse_foreign(sorted(set(topics) & await janitor.existing()), "use")
    await janitor.create(specs)


def _names(janitor: TopicJanitor) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    names = ("registry", "dlq", "audit", "kpi", "webhooks_dlq")
    return {n: janitor.name(f"{n}.e2e-{suffix}") for n in names}


async def _platform_topics(janitor: TopicJanitor, names: dict[str, str]) -> None:
    partitions, compact = janitor.kafka.default_partitions, {"cleanup.policy": "compact"}
    await janitor.create([
        TopicSpec(names["registry"], 1, config=compact),
        TopicSpec(names["dlq"], partitions),
        TopicSpec(names["audit"], partitions),
        TopicSpec(names["kpi"], partitions, config=compact),
        TopicSpec(names["webhooks_dlq"], partitions),
        TopicSpec(checkpoint_topic_for(names["audit"]), 1, config=compact),
    ])  # fmt: skip


async def _create_nothing() -> None:
    """The services' own topic creation: everything they need was created by the janitor."""


def _build_apps(
    janitor: TopicJanitor, workdir: Path, topics: dict[str, str], collector: dict[str, Any]
) -> dict[str, Any]:
    from ioc_collector.main import create_app as collector_app  # noqa: PLC0415
    from ioc_collector.settings import CollectorSettings  # noqa: PLC0415
    from lgsp_registry.main import create_app as registry_app  # noqa: PLC0415
    from lgsp_registry.settings import RegistrySettings  # noqa: PLC0415

    kafka = janitor.kafka

    async def provision(_: Any, data_topics: Any) -> None:
        await janitor.create([TopicSpec(t, kafka.default_partitions) for t in data_topics])

    registry = registry_app(RegistrySettings(
        kafka=kafka, data_dir=workdir / "registry", operator_token=OPERATOR_TOKEN,
        registry_topic=topics["registry"], publish_interval_s=0.1, webhooks_allow_loopback=True,
        audit_topic=topics["audit"], audit_checkpoints_topic=checkpoint_topic_for(topics["audit"]),
    ))  # fmt: skip
    settings = CollectorSettings(
        kafka=kafka, group_id=f"ioc-{topics['kpi']}", store_path=workdir / "collector.sqlite3",
        registry_topic=topics["registry"], dlq_topic=topics["dlq"], kpi_topic=topics["kpi"],
        tick_interval_s=0.25, **collector,
    )  # fmt: skip
    app = collector_app(settings, provision_topics=provision)
    return {"registry": registry, "collector": app, "settings": settings}


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
    ), create_topics=_create_nothing)  # fmt: skip
    return {"upstream": upstream, "adapter": adapter}


def _gateway_app(kafka: KafkaSettings, topics: dict[str, str], adapter_url: str) -> Any:
    from lgsp_gateway.main import create_app as gateway_app  # noqa: PLC0415
    from lgsp_gateway.settings import GatewaySettings  # noqa: PLC0415

    return gateway_app(GatewaySettings(
        kafka=kafka, registry_topic=topics["registry"], dlq_topic=topics["dlq"],
        audit_topic=topics["audit"], population_adapter_url=adapter_url,
        population_adapter_token=GATEWAY_TOKEN, population_resource=RESOURCE,
    ), create_topics=_create_nothing)  # fmt: skip


def _webhooks_app(kafka: KafkaSettings, topics: dict[str, str]) -> Any:
    from lgsp_gateway.delivery.main import create_app as webhooks_app  # noqa: PLC0415
    from lgsp_gateway.delivery.settings import WebhookSettings  # noqa: PLC0415

    return webhooks_app(WebhookSettings(
        kafka=kafka, registry_topic=topics["registry"], audit_topic=topics["audit"],
        dlq_topic=topics["webhooks_dlq"], allow_loopback=True, backoff_base_s=0.2,
    ), create_topics=_create_nothing)  # fmt: skip


@contextlib.asynccontextmanager
async def in_process_platform(
    kafka: KafkaSettings,
    workdir: Path,
    *,
    citizens: int = 3000,
    janitor: TopicJanitor | None = None,
    data_topics: list[str] | None = None,
    **collector: Any,
) -> AsyncIterator[InProcessPlatform]:
    """Serve the whole platform in this process; `collector` overrides collector settings.

    `data_topics` defaults to every contract's topic; `janitor` to one that owns the cluster
    only if this test session started it.
    """
    from lgsp_simulators.national_population.store import build_database  # noqa: PLC0415

    janitor = janitor or TopicJanitor.for_cluster(kafka)
    topics = contract_topics(repo_root() / "contracts") if data_topics is None else data_topics
    await prepare_data_topics(janitor, topics)
    platform = InProcessPlatform(topics=_names(janitor), janitor=janitor)
    try:
        await _platform_topics(janitor, platform.topics)
        await asyncio.to_thread(build_database, workdir / "citizens.sqlite", citizens, 6)
        apps = _build_apps(janitor, workdir, platform.topics, collector)
        platform.collector_settings = apps.pop("settings")
        async with _serve_all(kafka, workdir, platform, apps, citizens):
            platform.viewer_token = await _viewer_token(platform)
            yield platform
    finally:
        await janitor.cleanup()


@contextlib.asynccontextmanager
async def _serve_all(
    kafka: KafkaSettings,
    workdir: Path,
    platform: InProcessPlatform,
    apps: dict[str, Any],
    citizens: int,
) -> AsyncIterator[None]:
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
        apps["webhooks"] = _webhooks_app(kafka, platform.topics)
        platform.urls["webhooks"] = await stack.enter_async_context(serve(apps["webhooks"]))
        platform.apps = apps
        yield


async def _viewer_token(platform: InProcessPlatform, timeout_s: float = 60.0) -> str:
    """Have the registry issue a viewer token; return it once the collector lets it in."""
    token = str((await issue_viewer_token(platform.urls["registry"], platform.token))["token"])
    headers = {"Authorization": f"Bearer {token}"}
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with httpx.AsyncClient(base_url=platform.urls["collector"], timeout=10) as http:
        while (await http.get("/v1/scorecard", headers=headers)).status_code == 401:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("the collector never accepted the viewer token")
            await asyncio.sleep(0.1)
    return token


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
