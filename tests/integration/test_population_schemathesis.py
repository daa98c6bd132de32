"""Schemathesis against the population adapter's own OpenAPI, as the gateway calling for an
approved consumer: no 5xx, no answer that breaks the spec."""

from __future__ import annotations

from pathlib import Path

import pytest
from schemathesis_run import run_schemathesis
from test_population_api import AUDIT_KEY, HEALTH, REGISTRY, TOKEN, upstream  # noqa: F401

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import TopicFactory, publish_registry_changes, serve
from lgsp_simulators.national_population.process import UpstreamProcess
from population_adapter.main import create_app
from population_adapter.settings import AdapterSettings

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


async def test_generated_requests_get_no_5xx_and_conform_to_the_spec(
    kafka_settings: KafkaSettings,
    topic_factory: TopicFactory,
    upstream: UpstreamProcess,  # noqa: F811 - the module fixture imported above
    tmp_path: Path,
) -> None:
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    await publish_registry_changes(kafka_settings, registry, REGISTRY)
    upstream.set_faults()
    settings = AdapterSettings(
        kafka=kafka_settings,
        upstream_url=upstream.url,
        registry_topic=registry,
        audit_topic=await topic_factory("audit", 1),
        verification_topic=await topic_factory("verif", 3),
        gateway_token=TOKEN,
        audit_key=AUDIT_KEY,
        audit_key_id="it-key",
    )
    headers = {
        "X-LGSP-Gateway-Token": TOKEN,
        "X-LGSP-Consumer": "syt-his",
        "X-LGSP-Purpose": HEALTH,
    }
    async with serve(create_app(settings)) as url:
        status, text = await run_schemathesis(url, headers, tmp_path)
    print(text[-2500:])
    assert status == 0, text[-6000:]
