"""Recoverable registry changes (issue 13, finding 10): soft deletes, restore, force, audit."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import sqlalchemy as sa
from jsonschema import Draft202012Validator, FormatChecker

from lgsp_common.audit_format import record_hash
from lgsp_registry.adapters.tables import audit_outbox, sources

from . import test_api
from .test_api import OPERATOR, auth, make_org, ok, outbox_events, source

http = test_api.http  # the fixture: a fresh registry in process

ORG = "so-tai-chinh"
AUDIT_SCHEMA = orjson.loads(
    (
        Path(__file__).resolve().parents[4] / "contracts/platform/lgsp.audit/v1.schema.json"
    ).read_bytes()
)


class FakeTraffic:
    """A traffic probe answering a fixed last-event time."""

    def __init__(self, last: datetime | None) -> None:
        self.last = last
        self.asked: list[tuple[str, str]] = []

    async def last_event_at(self, topic: str, source_id: str, since: datetime) -> datetime | None:
        self.asked.append((topic, source_id))
        return self.last if self.last is not None and self.last >= since else None


def use_traffic(http: httpx.AsyncClient, last: datetime | None, **extra: Any) -> FakeTraffic:
    """Swap the running registry's traffic probe (and other context fields)."""
    app = http.app  # type: ignore[attr-defined]
    probe = FakeTraffic(last)
    runtime = app.state.runtime
    ctx = dataclasses.replace(runtime.ctx, traffic=probe, **extra)
    app.state.runtime = dataclasses.replace(runtime, ctx=ctx)
    return probe


async def with_source_and_keys(http: httpx.AsyncClient) -> tuple[str, str, str]:
    """Register an organisation, a source and two keys (one revoked); return org key, keys."""
    org_key = await make_org(http, ORG, "000.00.17.H03")
    await ok(await http.post("/v1/sources", json=source("stc", ORG), headers=OPERATOR))
    live = await ok(await http.post("/v1/sources/stc/keys", headers=OPERATOR))
    old = await ok(await http.post("/v1/sources/stc/keys", headers=OPERATOR))
    await ok(await http.post(f"/v1/keys/{old['id']}/revoke", headers=OPERATOR), 200)
    return org_key, live["id"], old["id"]


async def audit_records(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Return the registry's audit records waiting in the audit outbox."""
    engine = http.app.state.runtime.ctx.store.engine  # type: ignore[attr-defined]
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(audit_outbox).order_by(audit_outbox.c.seq))).all()
    return [orjson.loads(r.payload) for r in rows if r.topic == "lgsp.audit"]


async def test_a_deleted_source_is_suspended_with_its_keys_and_restorable(
    http: httpx.AsyncClient,
) -> None:
    _, live, revoked = await with_source_and_keys(http)
    use_traffic(http, None)
    await ok(await http.delete("/v1/sources/stc", headers=OPERATOR), 204)
    found = await ok(await http.get("/v1/sources/stc"), 200)
    assert (found["status"], found["deleted_by"]) == ("deleted", "operator")
    assert found["deleted_at"] is not None
    assert await ok(await http.get("/v1/sources"), 200) == []  # hidden by default
    listed = await ok(await http.get("/v1/sources?include_deleted=true", headers=OPERATOR), 200)
    assert [s["id"] for s in listed] == ["stc"]
    assert (await http.get("/v1/sources?include_deleted=true")).status_code == 401
    key_events = {k: v["data"] for k, v in await outbox_events(http) if k.startswith("api_key:")}
    assert key_events[f"api_key:{live}"]["revoked_at"] is not None  # the gateway refuses it
    assert not [k for k, v in await outbox_events(http) if v is None]  # no tombstone
    patch = await http.patch("/v1/sources/stc", json={"status": "active"}, headers=OPERATOR)
    assert (patch.status_code, patch.json()["type"].rsplit("/", 1)[1]) == (409, "deleted")

    restored = await ok(await http.post("/v1/sources/stc/restore", headers=OPERATOR), 200)
    assert (restored["status"], restored["deleted_at"]) == ("active", None)
    key_events = {k: v["data"] for k, v in await outbox_events(http) if k.startswith("api_key:")}
    assert key_events[f"api_key:{live}"]["revoked_at"] is None  # usable again
    assert key_events[f"api_key:{revoked}"]["revoked_at"] is not None  # revoked before: stays
    again = await http.post("/v1/sources/stc/restore", headers=OPERATOR)
    assert (again.status_code, again.json()["type"].rsplit("/", 1)[1]) == (409, "not-deleted")


async def test_restore_is_for_the_operator_within_the_grace_period(
    http: httpx.AsyncClient,
) -> None:
    org_key, _, _ = await with_source_and_keys(http)
    use_traffic(http, None)
    await ok(await http.delete("/v1/sources/stc", headers=auth(org_key)), 204)
    assert (await http.post("/v1/sources/stc/restore", headers=auth(org_key))).status_code == 403
    engine = http.app.state.runtime.ctx.store.engine  # type: ignore[attr-defined]
    async with engine.begin() as conn:  # the delete happened 8 days ago
        eight_days_ago = datetime.now().astimezone() - timedelta(days=8)
        await conn.execute(sources.update().values(deleted_at=eight_days_ago))
    late = await http.post("/v1/sources/stc/restore", headers=OPERATOR)
    assert late.status_code == 410
    assert late.headers["content-type"].startswith("application/problem+json")
    assert "restored until" in late.json()["detail"]


async def test_a_source_with_traffic_in_the_last_hour_needs_force(
    http: httpx.AsyncClient,
) -> None:
    await with_source_and_keys(http)
    last = datetime.now().astimezone() - timedelta(minutes=5)
    probe = use_traffic(http, last)
    refused = await http.delete("/v1/sources/stc", headers=OPERATOR)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith("/recent-traffic")
    assert last.isoformat()[:16] in refused.json()["detail"]
    assert probe.asked == [("finance.budget-revenue.v1", "stc")]
    assert (await ok(await http.get("/v1/sources/stc"), 200))["status"] == "active"
    await ok(await http.delete("/v1/sources/stc?force=true", headers=OPERATOR), 204)
    assert (await ok(await http.get("/v1/sources/stc"), 200))["status"] == "deleted"


async def test_a_deleted_consumer_and_its_keys_come_back_with_its_decision(
    http: httpx.AsyncClient,
) -> None:
    await with_source_and_keys(http)
    body = {"schema": {"type": "object", "properties": {"amount": {"type": "integer"}}}}
    topic = "finance.budget-revenue.v1"
    await ok(await http.post(f"/v1/subjects/{topic}/versions", json=body, headers=OPERATOR))
    request = {
        "id": "ioc-thu",
        "organisation_id": ORG,
        "topic": topic,
        "purpose": "ioc-kpi",
        "fields": ["/amount"],
    }
    await ok(await http.post("/v1/consumers", json=request, headers=OPERATOR))
    await ok(await http.post("/v1/consumers/ioc-thu/approve", headers=OPERATOR), 200)
    key = await ok(await http.post("/v1/consumers/ioc-thu/keys", headers=OPERATOR))
    await ok(await http.delete("/v1/consumers/ioc-thu", headers=OPERATOR), 204)
    assert await ok(await http.get("/v1/consumers", headers=OPERATOR), 200) == []
    hidden = await http.get("/v1/consumers?status=deleted", headers=OPERATOR)  # unless asked
    assert await ok(hidden, 200) == []
    listed = await http.get("/v1/consumers?status=deleted&include_deleted=true", headers=OPERATOR)
    assert [c["id"] for c in await ok(listed, 200)] == ["ioc-thu"]
    assert (await http.get(f"/v1/keys/{key['id']}", headers=auth(key["key"]))).status_code == 401
    restored = await ok(await http.post("/v1/consumers/ioc-thu/restore", headers=OPERATOR), 200)
    assert restored["status"] == "approved"
    assert (await http.get(f"/v1/keys/{key['id']}", headers=auth(key["key"]))).status_code == 200


async def test_every_change_is_audited_with_who_made_it(http: httpx.AsyncClient) -> None:
    org_key, live, _ = await with_source_and_keys(http)
    use_traffic(http, None)
    await ok(await http.delete("/v1/sources/stc", headers=auth(org_key)), 204)
    await ok(await http.post("/v1/sources/stc/restore", headers=OPERATOR), 200)
    records = await audit_records(http)
    seen = [(r["action"], r["actor"]["kind"], r["event_ids"]) for r in records]
    assert ("registry.organisation.create", "operator", [f"organisation:{ORG}"]) in seen
    assert ("registry.source.create", "operator", ["source:stc"]) in seen
    assert ("registry.api_key.create", "operator", [f"api_key:{live}"]) in seen
    org_actor = {"kind": "service", "id": f"organisation:{ORG}"}
    deleted = [r for r in records if r["action"] == "registry.source.delete"]
    assert [(r["actor"], r["status_code"], r["topic"]) for r in deleted] == [
        (org_actor, 204, "finance.budget-revenue.v1")
    ]
    assert [r["action"] for r in records][-2:] == [
        "registry.source.restore",
        "registry.api_key.update",
    ]
    assert [r["seq"] for r in records] == list(range(len(records)))  # one chain, no gap
    assert all(r["hash"] == record_hash(r) for r in records)
    assert all(r["prev_hash"] == p["hash"] for p, r in itertools.pairwise(records))
    validator = Draft202012Validator(AUDIT_SCHEMA, format_checker=FormatChecker())
    for record in records:  # every record is a valid lgsp.audit record
        assert not list(validator.iter_errors(record)), record
    text = orjson.dumps(records).decode()
    assert "lgsp_" not in text and "sha256:" not in text  # no key, no key hash
