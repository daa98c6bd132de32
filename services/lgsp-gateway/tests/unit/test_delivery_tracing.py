"""A delivered record's span continues the producer's trace, and the receiver gets it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from lgsp_common.minimise import FieldSelection
from lgsp_common.webhooks import SecretBox, new_signing_secret
from lgsp_gateway.delivery.adapters.dead_letters import WebhookDeadLetters
from lgsp_gateway.delivery.adapters.sender import WebhookSender
from lgsp_gateway.delivery.domain.cloudevent import envelope
from lgsp_gateway.delivery.domain.plan import plan_of
from lgsp_gateway.delivery.metrics import DeliveryMetrics
from lgsp_gateway.delivery.service.deliver_record import Place, RecordDelivery
from lgsp_gateway.delivery.settings import WebhookSettings

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PRODUCER_SPAN = "b7ad6b7169203331"
HEADERS = [
    ("ce_id", b"ev-1"),
    ("ce_source", b"/sources/stc"),
    ("ce_type", b"vn.gov.lgsp.finance.budget-revenue"),
    ("ce_specversion", b"1.0"),
    ("content-type", b"application/json"),
    ("traceparent", f"00-{TRACE_ID}-{PRODUCER_SPAN}-01".encode()),
]


class NoDeadLetters(WebhookDeadLetters):
    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, letter: Any) -> None:
        self.sent.append(letter)


async def test_the_delivery_span_is_a_child_of_the_producers_and_goes_to_the_receiver() -> None:
    got: list[dict[str, str]] = []

    async def hook(request: web.Request) -> web.Response:
        got.append(dict(request.headers))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    settings = WebhookSettings(allow_loopback=True)
    sealed = SecretBox(settings.secrets_key.get_secret_value()).seal(new_signing_secret())
    subscription = {"id": "wh-1", "consumer_id": "c", "topic": "t.x.v1", "status": "active",
                    "url": f"http://127.0.0.1:{port}/hook",
                    "secrets": [{"sealed": sealed, "expires_at": None}]}  # fmt: skip
    approved = {"id": "c", "topic": "t.x.v1", "status": "approved", "fields": ["/a"],
                "purpose": "p"}  # fmt: skip
    plan = plan_of(subscription, approved)
    event = envelope(0, 7, orjson.dumps({"a": 1, "b": 2}), HEADERS, FieldSelection(["/a"]))
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    metrics = DeliveryMetrics.create(CollectorRegistry())
    try:
        async with aiohttp.ClientSession() as client:
            sender = WebhookSender(client, allow_loopback=True)
            delivery = RecordDelivery(settings, sender, NoDeadLetters(), metrics,
                                      provider.get_tracer("test"))  # fmt: skip
            place = Place("t.x.v1", 0, 7)
            assert await delivery.settle(lambda: plan, place, event)
    finally:
        await runner.cleanup()
    (span,) = exporter.get_finished_spans()
    assert span.name == "webhook deliver" and span.parent is not None
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert format(span.parent.span_id, "016x") == PRODUCER_SPAN
    (headers,) = got
    _version, trace_id, span_id, _ = headers["traceparent"].split("-")
    assert (trace_id, span_id) == (TRACE_ID, format(span.context.span_id, "016x"))
    assert datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC).year >= 2026
