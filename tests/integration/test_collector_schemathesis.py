"""Schemathesis against the collector's own OpenAPI, as a signed-in viewer: no 5xx, no answer
that breaks the spec (status codes, content types, headers and schemas as documented)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from schemathesis_run import run_schemathesis
from test_collector_api import registered_sources, write_files

from ioc_collector.main import create_app
from ioc_collector.settings import CollectorSettings
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.collector_testing import (  # noqa: F401 - fixtures
    collector_store_url,
    postgres_server,
)
from lgsp_devkit.testing import TopicFactory, publish_registry_changes, serve
from lgsp_devkit.viewers import VIEWER_HEADERS, viewer_change

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


async def test_generated_requests_get_no_5xx_and_conform_to_the_spec(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    tmp_path: Path,
    collector_store_url: str,  # noqa: F811 - the fixture
) -> None:
    topic = await topic_factory("tthc")
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    await publish_registry_changes(
        kafka_settings,
        registry,
        [*registered_sources(topic, datetime.now(UTC).isoformat()), viewer_change()],
    )
    contracts, kpis = write_files(tmp_path, topic)
    settings = CollectorSettings(
        kafka=kafka_settings, contracts_dir=contracts, kpis_dir=kpis, topics=[topic],
        group_id=f"ioc-{topic}", store_url=collector_store_url, registry_topic=registry,
        dlq_topic=await topic_factory("dlq"), kpi_topic=await topic_factory("kpi"),
    )  # fmt: skip
    async with serve(create_app(settings)) as url:
        status, text = await run_schemathesis(url, VIEWER_HEADERS, tmp_path)
    print(text[-2500:])
    assert status == 0, text[-6000:]
