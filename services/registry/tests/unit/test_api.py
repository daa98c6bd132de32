"""The registry's HTTP API in process: a SQLite file, no Kafka (events wait in the outbox)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lgsp_common.settings import KafkaSettings
from lgsp_registry.adapters.tables import metadata, outbox
from lgsp_registry.main import create_app
from lgsp_registry.settings import RegistrySettings

TOKEN = "unit-operator-token-0123456789"
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}
TOPIC = "finance.budget-revenue.v1"


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Serve a fresh registry in process; Kafka points at a closed port."""
    settings = RegistrySettings(
        data_dir=tmp_path,
        operator_token=TOKEN,
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:9"),
        require_examples=False,
        publish_interval_s=60,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def auth(key: str) -> dict[str, str]:
    """Present a key."""
    return {"X-API-Key": key}


async def ok(response: httpx.Response, status: int = 201) -> Any:
    """Assert the status and return the body."""
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def make_org(http: httpx.AsyncClient, org_id: str, code: str) -> str:
    """Register an organisation and return its key."""
    body = {"id": org_id, "code": code, "name_vi": org_id, "name_en": org_id}
    await ok(await http.post("/v1/organisations", json=body, headers=OPERATOR))
    key: str = (await ok(await http.post(f"/v1/organisations/{org_id}/keys", headers=OPERATOR)))[
        "key"
    ]
    return key


def source(source_id: str, org: str, topic: str = TOPIC) -> dict[str, str]:
    """Return a source body."""
    return {
        "id": source_id,
        "organisation_id": org,
        "topic": topic,
        "name": source_id,
        "cadence": "daily",
    }


def contract(**properties: Any) -> dict[str, Any]:
    """Return a contract body with a closed schema."""
    props = {"amount": {"type": "integer"}, **properties}
    return {
        "schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": props,
            "required": ["amount"],
        }
    }


async def outbox_events(http: httpx.AsyncClient) -> list[tuple[str, Any]]:
    """Return the change events waiting in the outbox."""
    engine = http.app.state.runtime.ctx.store.engine  # type: ignore[attr-defined]
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(outbox).order_by(outbox.c.seq))).all()
    return [(r.record_key, orjson.loads(r.payload) if r.payload else None) for r in rows]


async def test_each_credential_writes_only_what_it_owns(http: httpx.AsyncClient) -> None:
    finance = await make_org(http, "so-tai-chinh", "000.00.17.H03")
    health = await make_org(http, "so-y-te", "000.00.18.H03")
    org = {"id": "x", "code": "1.2", "name_vi": "x", "name_en": "x"}
    assert (
        await http.post("/v1/organisations", json=org, headers=auth(finance))
    ).status_code == 403
    denied = await http.post("/v1/sources", json=source("a", "so-tai-chinh"), headers=auth(health))
    assert denied.status_code == 403
    await ok(
        await http.post("/v1/sources", json=source("stc", "so-tai-chinh"), headers=auth(finance))
    )
    taken = await http.post("/v1/sources", json=source("syt", "so-y-te"), headers=auth(health))
    assert (taken.status_code, taken.json()["type"].rsplit("/", 1)[1]) == (409, "topic-owned")
    key = (await ok(await http.post("/v1/sources/stc/keys", headers=auth(finance))))["key"]
    other = "finance.investment-spending.v1"
    assert (
        await http.post(f"/v1/subjects/{other}/versions", json=contract(), headers=auth(key))
    ).status_code == 403
    await ok(await http.post(f"/v1/subjects/{TOPIC}/versions", json=contract(), headers=auth(key)))
    assert (await http.post("/v1/sources/stc/keys")).status_code == 401
    assert (
        await http.put("/v1/config", json={"policy": "LENIENT"}, headers=auth(finance))
    ).status_code == 403


async def test_rotation_keeps_the_old_key_for_the_grace_period_only(
    http: httpx.AsyncClient,
) -> None:
    finance = await make_org(http, "so-tai-chinh", "000.00.17.H03")
    health = await make_org(http, "so-y-te", "000.00.18.H03")
    await ok(await http.post("/v1/sources", json=source("stc", "so-tai-chinh"), headers=OPERATOR))
    old = await ok(await http.post("/v1/sources/stc/keys", headers=auth(finance)))
    kept = await ok(await http.post(f"/v1/keys/{old['id']}/rotate", headers=auth(old["key"])))
    assert (await ok(await http.get(f"/v1/keys/{old['id']}", headers=auth(kept["key"])), 200))[
        "expires_at"
    ]
    assert (await http.get("/v1/sources/stc/keys", headers=auth(old["key"]))).status_code == 403
    assert (await http.get(f"/v1/keys/{old['id']}", headers=auth(health))).status_code == 403
    now = await ok(
        await http.post(
            f"/v1/keys/{kept['id']}/rotate", json={"grace_period_s": 0}, headers=auth(kept["key"])
        )
    )
    assert (await http.get(f"/v1/keys/{now['id']}", headers=auth(kept["key"]))).status_code == 401
    revoked = await ok(await http.post(f"/v1/keys/{now['id']}/revoke", headers=auth(finance)), 200)
    assert revoked["revoked_at"] and "key" not in revoked and "key_hash" not in revoked
    assert (await http.get(f"/v1/keys/{now['id']}", headers=auth(now["key"]))).status_code == 401
    again = await http.post(f"/v1/keys/{now['id']}/rotate", headers=OPERATOR)
    assert again.status_code == 409
    events = await outbox_events(http)
    key_events = [(k, v["version"]) for k, v in events if k.startswith("api_key:")]
    assert key_events == [
        (f"api_key:{old['id']}", 1),
        (f"api_key:{kept['id']}", 1),
        (f"api_key:{old['id']}", 2),
        (f"api_key:{now['id']}", 1),
        (f"api_key:{kept['id']}", 2),
        (f"api_key:{now['id']}", 2),
    ]
    assert not [k for k, _ in events if "organisation" in k and "keys" in k]
    text = orjson.dumps(events).decode()
    assert old["key"] not in text and finance not in text


async def test_rules_consumers_and_deletes(http: httpx.AsyncClient) -> None:
    await make_org(http, "so-tai-chinh", "000.00.17.H03")
    ioc = await make_org(http, "ioc", "000.00.20.H03")
    await ok(await http.post("/v1/sources", json=source("stc", "so-tai-chinh"), headers=OPERATOR))
    no_contract = {
        "id": "ioc-thu",
        "organisation_id": "ioc",
        "topic": TOPIC,
        "purpose": "kpi",
        "fields": ["/amount", "/nope"],
    }
    assert (
        await http.post("/v1/consumers", json=no_contract, headers=auth(ioc))
    ).status_code == 409
    await ok(await http.post(f"/v1/subjects/{TOPIC}/versions", json=contract(), headers=OPERATOR))
    undeclared = await http.post("/v1/consumers", json=no_contract, headers=auth(ioc))
    assert undeclared.status_code == 422
    assert [e["pointer"] for e in undeclared.json()["errors"]] == ["/fields/1"]
    full = {"compatibility": "FULL_TRANSITIVE"}
    assert (await ok(await http.put("/v1/config", json=full, headers=OPERATOR), 200)) == {
        "compatibility": "FULL_TRANSITIVE",
        "policy": "STRICT",
    }
    widened = contract(amount={"type": "number"})
    assert (
        await http.post(f"/v1/subjects/{TOPIC}/versions", json=widened, headers=OPERATOR)
    ).status_code == 409
    none = {"compatibility": "NONE"}
    await ok(await http.put(f"/v1/subjects/{TOPIC}/config", json=none, headers=OPERATOR), 200)
    v2 = await ok(await http.post(f"/v1/subjects/{TOPIC}/versions", json=widened, headers=OPERATOR))
    assert (v2["version"], v2["compatibility"]) == (2, "NONE")
    elsewhere = await http.post(
        "/v1/subjects/finance.other.v1/versions", json=widened, headers=OPERATOR
    )
    assert elsewhere.json()["type"].endswith("/schema-in-other-subject")
    request = {**no_contract, "fields": ["/amount"]}
    await ok(await http.post("/v1/consumers", json=request, headers=auth(ioc)))
    await ok(await http.post("/v1/consumers/ioc-thu/approve", headers=OPERATOR), 200)
    await ok(await http.post("/v1/consumers/ioc-thu/keys", headers=auth(ioc)))
    await ok(await http.delete("/v1/consumers/ioc-thu", headers=auth(ioc)), 204)
    events = await outbox_events(http)  # a recoverable delete (issue 13): no tombstones
    tail = [(k.split(":")[0], v["data"]) for k, v in events[-2:]]
    assert [(kind, data["status"] if kind == "consumer" else "-") for kind, data in tail] == [
        ("consumer", "deleted"),
        ("api_key", "-"),
    ]
    assert tail[1][1]["revoked_at"] == tail[1][1]["suspended_at"] is not None


async def test_migrations_create_exactly_the_declared_tables(http: httpx.AsyncClient) -> None:
    engine = http.app.state.runtime.ctx.store.engine  # type: ignore[attr-defined]

    def diff(connection: sa.Connection) -> list[Any]:
        context = MigrationContext.configure(connection)
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []
