"""Audit anchors in the registry: keys published by the operator, read by anyone; checkpoints."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest

from lgsp_common.audit_format import public_key_b64
from lgsp_common.audit_memory import write_chain
from lgsp_common.settings import KafkaSettings
from lgsp_registry.adapters.audit_rows import store_checkpoint
from lgsp_registry.main import create_app
from lgsp_registry.settings import RegistrySettings

TOKEN = "unit-operator-token-0123456789"
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}
KEY = b"unit-audit-key-0123456789"


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Serve a fresh registry in process; no checkpoint follower (no broker)."""
    settings = RegistrySettings(
        data_dir=tmp_path,
        operator_token=TOKEN,
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:9"),
        publish_interval_s=60,
        audit_checkpoints_topic="",
        audit_topic="",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


async def test_keys_are_published_by_the_operator_and_rotated(http: httpx.AsyncClient) -> None:
    body = {"public_key": public_key_b64(KEY), "service": "lgsp-gateway/gw-1"}
    assert (await http.put("/v1/audit/keys/gw-2026", json=body)).status_code == 401
    created = await http.put("/v1/audit/keys/gw-2026", json=body, headers=OPERATOR)
    assert created.status_code == 201, created.text
    assert created.json()["valid_from"].startswith("1970-01-01")  # covers records signed before
    retired = {**body, "retired_at": datetime(2027, 1, 1, tzinfo=UTC).isoformat()}
    again = await http.put("/v1/audit/keys/gw-2026", json=retired, headers=OPERATOR)
    assert again.status_code == 200 and again.json()["retired_at"].startswith("2027-01-01")
    other = {"public_key": public_key_b64(b"another-key-0123456789")}
    clash = await http.put("/v1/audit/keys/gw-2026", json=other, headers=OPERATOR)
    assert clash.status_code == 409, clash.text
    [listed] = (await http.get("/v1/audit/keys")).json()["keys"]  # readable by anyone
    assert (listed["key_id"], listed["public_key"]) == ("gw-2026", body["public_key"])


async def test_a_key_that_is_not_ed25519_is_refused(http: httpx.AsyncClient) -> None:
    bad = {"public_key": "A" * 60}
    answer = await http.put("/v1/audit/keys/k1", json=bad, headers=OPERATOR)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_checkpoints_are_stored_once_and_served_as_received(
    http: httpx.AsyncClient,
) -> None:
    _, checkpoints = await write_chain(4, KEY, checkpoint_every=2)
    engine = http.app.state.runtime.ctx.store.engine  # type: ignore[attr-defined]
    at = datetime.now(UTC)
    bodies = [orjson.dumps(c) for c in checkpoints]
    stored = await asyncio.gather(*(store_checkpoint(engine, b, at) for b in bodies))
    assert stored == [True, True]
    assert not await store_checkpoint(engine, bodies[0], at)  # append only, once
    chain = checkpoints[0]["chain"]
    answer = (await http.get("/v1/audit/checkpoints", params={"chain": chain})).json()
    assert answer["checkpoints"] == checkpoints
    assert (await http.get("/v1/audit/checkpoints", params={"chain": "x"})).json() == {
        "checkpoints": []
    }
