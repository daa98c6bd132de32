"""Webhook delivery rules without a broker: backoff, signatures, bodies, plans, URL checks."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import aiohttp
import orjson
import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from lgsp_common.minimise import FieldSelection
from lgsp_common.webhooks import new_signing_secret
from lgsp_gateway.delivery.adapters.sender import WebhookSender
from lgsp_gateway.delivery.domain.backoff import parse_retry_after, retry_delay
from lgsp_gateway.delivery.domain.cloudevent import envelope
from lgsp_gateway.delivery.domain.plan import plan_of
from lgsp_gateway.delivery.domain.signing import Signer

HEADERS = [
    ("ce_id", b"ev-1"),
    ("ce_source", b"/sources/stc"),
    ("ce_type", b"vn.gov.lgsp.finance.budget-revenue"),
    ("ce_specversion", b"1.0"),
    ("content-type", b"application/json"),
    ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
]


def test_backoff_grows_is_capped_jittered_and_yields_to_retry_after() -> None:
    rand = random.Random(7)
    delays = [retry_delay(n, 0.5, 8.0, rand=rand) for n in range(1, 9)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(8.0, 0.5 * 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert retry_delay(1, 0.5, 8.0, retry_after_s=30) == 30
    assert parse_retry_after("120", 60) == 60
    assert parse_retry_after("2", 60) == 2
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("Tue, 01 Dec 2026 12:00:10 GMT", 60, now) == 10
    assert parse_retry_after("soon", 60) is None and parse_retry_after(None, 60) is None


def test_every_live_secret_signs_and_the_library_verifies_each() -> None:
    old, new = new_signing_secret(), new_signing_secret()
    body = '{"id":"ev-1"}'
    headers = Signer().headers("ev-1", datetime.now(UTC), body, [old, new])
    assert headers["webhook-id"] == "ev-1" and len(headers["webhook-signature"].split()) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == {"id": "ev-1"}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_signing_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(body.replace("1", "2"), headers)


def test_the_body_is_a_structured_cloudevent_with_only_the_approved_fields() -> None:
    payload = {
        "district": "748",
        "taxpayer": {"name": "Nguyễn Văn A", "tax_id": "0101"},
        "amount": 5,
    }
    selection = FieldSelection(["/district", "/amount", "/taxpayer/tax_id"])
    built = envelope(2, 41, orjson.dumps(payload), HEADERS, selection)
    event = orjson.loads(built.body)
    assert event["data"] == {"district": "748", "amount": 5, "taxpayer": {"tax_id": "0101"}}
    assert (event["id"], event["kafkapartition"], event["kafkaoffset"]) == ("ev-1", 2, 41)
    assert event["datacontenttype"] == "application/json" and "Nguy" not in built.body
    assert sorted(built.disclosed) == ["/amount", "/district", "/taxpayer/tax_id"]
    assert built.traceparent and built.traceparent.startswith("00-0af7")
    with pytest.raises(ValueError, match="ce_id"):
        envelope(0, 0, b"{}", HEADERS[1:], selection)
    with pytest.raises(ValueError, match="JSON"):
        envelope(0, 0, b"{nope", HEADERS, selection)


def test_only_an_active_subscription_of_an_approved_consumer_is_delivered() -> None:
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    sub = {
        "id": "wh-1",
        "consumer_id": "c",
        "topic": "t.x.v1",
        "url": "https://h.example/",
        "status": "active",
        "secrets": [{"sealed": "old", "expires_at": past}, {"sealed": "new", "expires_at": None}],
        "replay": {"id": "r1", "position": "earliest"},
    }
    approved = {
        "id": "c",
        "topic": "t.x.v1",
        "status": "approved",
        "fields": ["/a"],
        "purpose": "p",
    }
    plan = plan_of(sub, approved)
    assert plan is not None and plan.replay_id == "r1" and plan.fields == ("/a",)
    assert plan.live_secrets(datetime.now(UTC)) == ["new"]
    assert plan_of({**sub, "status": "paused"}, approved) is None
    assert plan_of(sub, {**approved, "status": "rejected"}) is None
    assert plan_of(sub, {**approved, "topic": "t.y.v1"}) is None
    assert plan_of(sub, None) is None


async def test_a_name_resolving_to_loopback_is_refused_at_delivery() -> None:
    calls: list[str] = []

    async def redirect(request: web.Request) -> web.Response:
        calls.append(request.path)
        return web.Response(status=302, headers={"location": "/elsewhere"})

    app = web.Application()
    app.router.add_post("/hook", redirect)
    app.router.add_post("/elsewhere", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession() as client:
            strict = WebhookSender(client, allow_loopback=False)
            refused = await strict.post("https://localhost/hook", "{}", {})
            assert (refused.reason, refused.final, calls) == ("url_refused", True, [])
            assert (await strict.post("https://10.0.0.7/hook", "{}", {})).final
            local = WebhookSender(client, allow_loopback=True)
            redirected = await local.post(f"http://127.0.0.1:{port}/hook", "{}", {})
            assert (redirected.status, redirected.delivered) == (302, False)
            assert redirected.reason == "http_302" and calls == ["/hook"]  # not followed
            down = await local.post("http://127.0.0.1:9/hook", "{}", {})
            assert (down.status, down.reason, down.final) == (None, "connect_error", False)
    finally:
        await runner.cleanup()
