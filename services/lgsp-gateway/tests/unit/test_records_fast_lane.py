"""The pull-read fast lane answers exactly as the FastAPI route, and takes only what it parses.

Both flavours of the gateway (fast lane on and off) get the same reads; each answer that the
unit gateway can give without a broker (refusals, invalid queries, a stale registry, Kafka
unreachable) must be the same status, content type, Retry-After and problem body. The fast lane
must really serve the well-formed ones: its server span comes from the gateway's own tracer.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from gateway_fakes import POPULATION, TOPIC, Gateway, started, unit_settings
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lgsp_gateway.api.records_fast_lane import ReadRequest, match_read, parse_read

ROUTE_SPAN = "GET /v1/topics/{topic}/records"


def test_a_well_formed_query_is_parsed_as_fastapi_would() -> None:
    assert parse_read("t.v1", b"") == ReadRequest("t.v1", "committed", 100, 0)
    assert parse_read("t.v1", b"position=abc.def&max_records=500&wait_ms=30000") == (
        ReadRequest("t.v1", "abc.def", 500, 30_000)
    )
    assert parse_read("t.v1", b"max_records=0010&other=1&other=2") == (
        ReadRequest("t.v1", "committed", 10, 0)
    )
    assert parse_read("t.v1", b"position=a%2Eb") == ReadRequest("t.v1", "a.b", 100, 0)


@pytest.mark.parametrize(
    "query",
    [
        b"max_records=0",
        b"max_records=1001",
        b"max_records=-1",
        b"max_records=%2B5",
        b"max_records=5.0",
        b"max_records=",
        b"max_records=%D9%A1",  # an Arabic-Indic digit: pydantic's business, not ours
        b"wait_ms=30001",
        b"wait_ms=abc",
        b"position=",
        b"position=a&position=b",
        b"max_records=1&max_records=2",
        b"position=" + b"x" * 8193,
    ],
)
def test_anything_else_is_left_to_fastapi(query: bytes) -> None:
    assert parse_read("t.v1", query) is None


def test_only_reads_of_a_valid_topic_name_are_matched() -> None:
    def scope(path: str) -> dict[str, Any]:
        return {"path": path, "query_string": b""}

    assert match_read(scope("/v1/topics/a.b-c_1/records")) == ReadRequest(
        "a.b-c_1", "committed", 100, 0
    )
    for path in ("/v1/topics/a b/records", "/v1/topics/x/records/", "/v1/topics//records"):
        assert match_read(scope(path)) is None
    assert match_read(scope("/v1/topics/x/records/committed")) is None


def summary(answer: httpx.Response) -> tuple[Any, ...]:
    """What must be equal on both lanes."""
    return (
        answer.status_code,
        answer.headers["content-type"],
        answer.headers.get("retry-after"),
        answer.json(),
    )


async def read(gateway: Gateway, key: str | None, topic: str = TOPIC, **query: Any) -> Any:
    headers = {"x-api-key": key} if key else {}
    answer = await gateway.http.get(f"/v1/topics/{topic}/records", params=query, headers=headers)
    return summary(answer)


async def answers(gateway: Gateway) -> list[tuple[Any, ...]]:
    """Every read the unit gateway can answer without a broker."""
    keys = gateway.keys
    found = [
        await read(gateway, None),
        await read(gateway, "lgsp_nokey_x"),
        await read(gateway, keys.source),  # a source's key is not a consumer's
        await read(gateway, keys.consumer),  # approved, but for another topic
        await read(gateway, keys.pending_consumer, POPULATION),
        await read(gateway, keys.consumer, max_records=0),
        await read(gateway, keys.consumer, max_records="x", wait_ms=-1),
        await read(gateway, keys.consumer, position=""),
        await read(gateway, keys.consumer, POPULATION, position="earliest"),  # Kafka unreachable
    ]
    gateway.registry.confirmed_at = time.monotonic() - 60  # stale: refused before the key
    found.append(await read(gateway, keys.consumer, POPULATION))
    return found


async def test_both_lanes_answer_every_read_alike() -> None:
    async with started(unit_settings(fast_lane=True)) as fast:
        on_fast_lane = await answers(fast)
    async with started(unit_settings(fast_lane=False)) as slow:
        on_fastapi = await answers(slow)
    assert [a[0] for a in on_fast_lane] == [401, 401, 401, 403, 403, 422, 422, 422, 503, 503]
    assert on_fast_lane == on_fastapi
    assert "Retry-After" not in str(on_fast_lane[0]) and on_fast_lane[-1][2] == "7"


@pytest.mark.parametrize("fast_lane", [True])
async def test_the_fast_lane_serves_well_formed_reads_with_its_own_span(gateway: Gateway) -> None:
    exporter = InMemorySpanExporter()
    provider: TracerProvider = gateway.app.state.tracer_provider
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    await read(gateway, gateway.keys.consumer)
    await read(gateway, gateway.keys.consumer, max_records=0)  # FastAPI's answer
    spans = [s for s in exporter.get_finished_spans() if s.name == ROUTE_SPAN]
    scopes = [s.instrumentation_scope.name if s.instrumentation_scope else "" for s in spans]
    assert scopes[0] == "lgsp-gateway" and len(spans) == 2
    assert scopes[1] != "lgsp-gateway"  # the FastAPI instrumentation's span
    assert spans[0].attributes is not None
    assert spans[0].attributes["http.response.status_code"] == 403
    metrics = await gateway.metrics()
    assert 'route="/v1/topics/{topic}/records",status="403"' in metrics
    assert 'route="/v1/topics/{topic}/records",status="422"' in metrics
