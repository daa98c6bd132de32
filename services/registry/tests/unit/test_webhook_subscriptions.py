"""Webhook subscriptions through the registry's HTTP API, in process (SQLite, no Kafka)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from lgsp_common.settings import KafkaSettings
from lgsp_common.webhooks import SecretBox, url_refusal
from lgsp_registry.adapters.tables import outbox
from lgsp_registry.main import create_app
from lgsp_registry.settings import RegistrySettings

TOKEN = "unit-operator-token-0123456789"
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}
TOPIC = "finance.budget-revenue.v1"
KEY = "unit-webhook-secrets-key-0123"
SUBS = "/v1/consumers/thong-ke/subscriptions"


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A registry with one approved consumer, `thong-ke`, of TOPIC."""
    settings = RegistrySettings(
        data_dir=tmp_path,
        operator_token=TOKEN,
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:9"),
        require_examples=False,
        publish_interval_s=60,
        webhook_secrets_key=KEY,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
            client.app = app  # type: ignore[attr-defined]
            await _consumer(client)
            yield client


async def _ok(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def _consumer(http: httpx.AsyncClient) -> None:
    for org, code in (("so-tai-chinh", "000.00.17.H03"), ("cuc-thong-ke", "000.00.19.H03")):
        body = {"id": org, "code": code, "name_vi": org, "name_en": org}
        await _ok(await http.post("/v1/organisations", json=body, headers=OPERATOR))
    src = {"id": "stc", "organisation_id": "so-tai-chinh", "topic": TOPIC, "name": "stc"}
    await _ok(await http.post("/v1/sources", json={**src, "cadence": "daily"}, headers=OPERATOR))
    schema = {"type": "object", "properties": {"amount": {"type": "integer"}}}
    await _ok(
        await http.post(f"/v1/subjects/{TOPIC}/versions", json={"schema": schema}, headers=OPERATOR)
    )
    consumer = {
        "id": "thong-ke",
        "organisation_id": "cuc-thong-ke",
        "topic": TOPIC,
        "purpose": "statistics",
        "fields": ["/amount"],
    }
    await _ok(await http.post("/v1/consumers", json=consumer, headers=OPERATOR))
    await _ok(await http.post("/v1/consumers/thong-ke/approve", headers=OPERATOR), 200)


async def _events(http: httpx.AsyncClient) -> list[tuple[str, Any]]:
    engine = http.app.state.runtime.ctx.store.engine  # type: ignore[attr-defined]
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(outbox).order_by(outbox.c.seq))).all()
    return [(r.record_key, orjson.loads(r.payload) if r.payload else None) for r in rows]


REFUSED = (
    "http://hooks.example.gov.vn/in",
    "https://127.0.0.1/in",
    "https://localhost:8443/in",
    "https://10.1.2.3/in",
    "https://192.168.0.5/in",
    "https://172.16.9.9/in",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/in",
    "https://[fd00::1]/in",
    "https://[::ffff:10.0.0.1]/in",
    "https://100.64.0.1/in",
    "https://0.0.0.0/in",
    "ftp://hooks.example.gov.vn/in",
    "https://user:pw@hooks.example.gov.vn/in",
)


async def test_urls_outside_the_policy_are_422_problems(http: httpx.AsyncClient) -> None:
    for url in REFUSED:
        answer = await http.post(SUBS, json={"url": url}, headers=OPERATOR)
        assert answer.status_code == 422, (url, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        problem = answer.json()
        assert problem["type"].endswith("/webhook-url-refused")
        assert [(e["pointer"], e["rule"]) for e in problem["errors"]] == [("/url", "url_policy")]


def test_loopback_is_allowed_only_by_the_setting() -> None:
    assert url_refusal("http://127.0.0.1:9000/in", allow_loopback=True) is None
    assert url_refusal("http://localhost:9000/in", allow_loopback=True) is None
    assert url_refusal("http://10.0.0.1/in", allow_loopback=True) is not None
    assert url_refusal("http://127.0.0.1:9000/in", allow_loopback=False) is not None
    assert url_refusal("https://hooks.example.gov.vn/in", allow_loopback=False) is None
    assert url_refusal("https://8.8.8.8/in", allow_loopback=False) is None


async def test_the_secret_is_shown_once_and_published_only_sealed(http: httpx.AsyncClient) -> None:
    url = "https://hooks.thongke.example.gov.vn/lgsp"
    created = await _ok(await http.post(SUBS, json={"url": url}, headers=OPERATOR))
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert (await http.get(SUBS)).status_code == 401  # where a consumer's data goes: not public
    listed = await _ok(await http.get(SUBS, headers=OPERATOR), 200)
    one = await _ok(await http.get(f"{SUBS}/{created['id']}", headers=OPERATOR), 200)
    assert [s["id"] for s in listed] == [created["id"]]
    assert "secret" not in one and "sealed" not in orjson.dumps(one).decode()
    assert (one["topic"], one["status"], one["url"]) == (TOPIC, "active", url)
    events = await _events(http)
    text = orjson.dumps(events).decode()
    assert secret not in text and secret.removeprefix("whsec_") not in text
    (key, event), *_ = [e for e in events if e[0].startswith("webhook_subscription:")]
    assert key == f"webhook_subscription:{created['id']}"
    sealed = event["data"]["secrets"][0]["sealed"]
    assert SecretBox(KEY).open(sealed) == secret
    with pytest.raises(ValueError, match="another key"):
        SecretBox("some-other-key-0123456789").open(sealed)


async def test_pause_resume_rotate_replay_delete(http: httpx.AsyncClient) -> None:
    created = await _ok(
        await http.post(SUBS, json={"url": "https://8.8.4.4/hook"}, headers=OPERATOR)
    )
    path = f"{SUBS}/{created['id']}"
    assert (await http.post(f"{path}/pause")).status_code == 401
    assert (await _ok(await http.post(f"{path}/pause", headers=OPERATOR), 200))[
        "status"
    ] == "paused"
    assert (await _ok(await http.post(f"{path}/resume", headers=OPERATOR), 200))["status"] == (
        "active"
    )
    rotated = await _ok(await http.post(f"{path}/rotate-secret", headers=OPERATOR))
    assert rotated["secret"] != created["secret"]
    old, new = rotated["secrets"]
    assert old["expires_at"] is not None and new["expires_at"] is None
    bad = await http.post(
        f"{path}/replay", json={"position": "earliest", "offsets": {"0": 1}}, headers=OPERATOR
    )
    assert bad.status_code == 422
    replayed = await _ok(
        await http.post(f"{path}/replay", json={"offsets": {"0": 5}}, headers=OPERATOR), 200
    )
    assert replayed["replay"]["offsets"] == {"0": 5} and replayed["replay"]["id"]
    await _ok(await http.delete(path, headers=OPERATOR), 204)
    assert (await http.get(path, headers=OPERATOR)).status_code == 404
    kinds = [(v and v["op"], v and v["version"]) for k, v in await _events(http) if "webhook" in k]
    assert kinds == [
        ("upsert", 1),
        ("upsert", 2),
        ("upsert", 3),
        ("upsert", 4),
        ("upsert", 5),
        ("delete", 6),
        (None, None),
    ]
    unknown = await http.post(
        "/v1/consumers/nobody/subscriptions", json={"url": "https://8.8.4.4/"}, headers=OPERATOR
    )
    assert unknown.status_code == 404


async def test_a_deleted_consumer_keeps_its_subscriptions(http: httpx.AsyncClient) -> None:
    created = await _ok(
        await http.post(SUBS, json={"url": "https://8.8.4.4/hook"}, headers=OPERATOR)
    )
    await _ok(await http.delete("/v1/consumers/thong-ke", headers=OPERATOR), 204)
    ops = [v and v["op"] for k, v in await _events(http) if k.endswith(created["id"])]
    assert ops == ["upsert"]  # a recoverable delete (issue 13) keeps them for a restore
    consumer = [v for k, v in await _events(http) if k == "consumer:thong-ke"][-1]
    assert consumer["data"]["status"] == "deleted"  # and nothing is delivered to it meanwhile
