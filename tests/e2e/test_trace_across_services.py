"""One health event, one trace: simulator, gateway, population lookup, produce, collector.

The simulator's span wraps the chip-CCCD verification and the publish of one medical visit and
injects its `traceparent`; every app of the in-process platform gets an in-memory exporter on
its own tracer provider (`app.state.tracer_provider`). All their spans for that visit must
share the simulator's trace id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.inprocess import in_process_platform, wait_consumed
from lgsp_simulators.scenario import DepartmentMix, Faults, HealthMix, Scenario
from lgsp_simulators.session import Options, Simulation, Target

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(120)]
CITIZENS = 500
VISIT = "health.medical-visit.v1"
SERVICES = ("registry", "gateway", "adapter", "collector")


def one_checked_visit() -> Scenario:
    """Return a scenario whose single event is a chip-CCCD visit verified through the gateway."""
    health = HealthMix(identification={"cccd_chip": 1.0}, verify_share=1.0, no_match_share=0.0)
    scenario = Scenario(
        name="one-visit",
        departments=DepartmentMix(finance=0, health=1, tourism=0, tthc=0),
        health=health,
        faults=Faults(invalid_share=0.0),
    )
    link = scenario.population.model_copy(update={"count": CITIZENS, "pool": CITIZENS})
    return scenario.model_copy(update={"population": link})


def spans_in(
    trace_id: int, exporters: dict[str, InMemorySpanExporter]
) -> Iterator[tuple[str, ReadableSpan]]:
    """Yield (service, span) of every finished span of one trace."""
    for service, exporter in exporters.items():
        for span in exporter.get_finished_spans():
            if span.context is not None and span.context.trace_id == trace_id:
                yield service, span


def watch(apps: dict[str, Any], exporters: dict[str, InMemorySpanExporter]) -> None:
    """Add an in-memory exporter to every app's tracer provider (and the process-wide one)."""
    providers = [apps[name].state.tracer_provider for name in SERVICES]
    for name, provider in zip(SERVICES, providers, strict=True):
        provider.add_span_processor(SimpleSpanProcessor(exporters[name]))
    # The simulated national database (a plain FastAPI app) reports to the global provider.
    process_wide = trace.get_tracer_provider()
    if isinstance(process_wide, TracerProvider) and process_wide not in providers:
        process_wide.add_span_processor(SimpleSpanProcessor(exporters["upstream"]))


async def test_one_health_event_is_one_trace_across_every_service(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    exporters = {name: InMemorySpanExporter() for name in ("simulator", "upstream", *SERVICES)}
    simulator = TracerProvider()
    simulator.add_span_processor(SimpleSpanProcessor(exporters["simulator"]))
    async with in_process_platform(kafka_settings, tmp_path, citizens=CITIZENS) as platform:
        watch(platform.apps, exporters)
        target = Target(platform.urls["gateway"], platform.urls["registry"], platform.token)
        options = Options(rate=1, events=1, batch_size=1, run_id="trace")
        tracer = simulator.get_tracer("lgsp-simulator")
        simulation = Simulation(one_checked_visit(), target, options, tracer, say=lambda _: None)
        await simulation.run()
        assert simulation.document is not None
        assert simulation.document["verifications"] == {"match": 1}
        expected = {VISIT: 1, "population.verification.v1": 1}
        async with httpx.AsyncClient(
            base_url=platform.urls["collector"], headers=platform.viewer_headers
        ) as http:
            await wait_consumed(http, expected)
        await asyncio.sleep(1.5)  # the collector ends a batch's spans once it is applied

    roots = [s for s in exporters["simulator"].get_finished_spans() if s.parent is None]
    assert [s.name for s in roots] == [f"simulate health {VISIT}"]
    trace_id = roots[0].context.trace_id
    found = {(service, span.name) for service, span in spans_in(trace_id, exporters)}
    names = {name for _, name in found}
    assert ("simulator", "POST /v1/population/verify") in found
    assert ("gateway", "POST /v1/population/verify") in found  # the gateway's server span
    assert ("adapter", "population.verify") in found  # the population lookup
    assert ("gateway", "POST /v1/topics/{topic}/events") in found
    assert ("gateway", f"{VISIT} publish") in found  # the produce
    assert ("collector", f"collector process {VISIT}") in found, sorted(names)
    # The adapter's outcome event continues the same trace into the collector too.
    assert ("collector", "collector process population.verification.v1") in found
    # The adapter's read of the simulated national database is in it as well.
    assert "POST /citizens/lookup" in names
