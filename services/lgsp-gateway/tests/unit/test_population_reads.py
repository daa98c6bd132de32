"""Population reads through the gateway: consumer keys, approval, relay to the adapter, audit."""

from __future__ import annotations

import httpx
import orjson
import pytest
from gateway_fakes import POPULATION, Gateway

QUERY = {"cccd": "001099012345", "full_name": "Nguyễn Văn A"}


@pytest.fixture(params=[True, False], ids=["fast-lane", "fastapi-route"])
def fast_lane(request: pytest.FixtureRequest) -> bool:
    """Reads take the fast lane by default; the FastAPI route must answer alike."""
    return bool(request.param)


async def read(gateway: Gateway, operation: str, key: str | None) -> httpx.Response:
    """POST one read with a consumer's key (or none)."""
    headers = {"content-type": "application/json"} | ({"x-api-key": key} if key else {})
    return await gateway.http.post(
        f"/v1/population/{operation}", content=orjson.dumps(QUERY), headers=headers
    )


async def test_an_approved_consumer_is_relayed_with_its_identity(gateway: Gateway) -> None:
    answer = await read(gateway, "verify", gateway.keys.consumer)
    assert answer.status_code == 200
    assert answer.json() == {"result": "match"}
    [sent] = gateway.adapter.requests
    assert sent.url.path == "/v1/verify"
    assert sent.headers["x-lgsp-gateway-token"] == "unit-gateway-token"
    assert sent.headers["x-lgsp-consumer"] == "syt"
    assert sent.headers["x-lgsp-purpose"] == "health_insurance_check"
    assert orjson.loads(sent.content) == QUERY
    [audit] = await gateway.audit(1)
    assert (audit["action"], audit["result"], audit["topic"]) == (
        "population.verify",
        "success",
        POPULATION,
    )
    assert audit["purpose"] == "health_insurance_check"
    assert "001099012345" not in orjson.dumps(audit).decode()


@pytest.mark.parametrize(
    ("which", "status"), [(None, 401), ("source", 401), ("pending_consumer", 403)]
)
async def test_only_approved_consumers_may_read(
    gateway: Gateway, which: str | None, status: int
) -> None:
    key = getattr(gateway.keys, which) if which else None
    answer = await read(gateway, "lookup", key)
    assert answer.status_code == status
    assert gateway.adapter.requests == []
    [audit] = await gateway.audit(1)
    assert (audit["action"], audit["result"]) == ("population.lookup", "denied")


async def test_the_adapters_refusals_are_passed_back_and_audited(gateway: Gateway) -> None:
    gateway.adapter.status, gateway.adapter.body = 403, {"title": "field not allowed"}
    answer = await read(gateway, "lookup", gateway.keys.consumer)
    assert answer.status_code == 403
    [audit] = await gateway.audit(1)
    assert audit["result"] == "denied"


@pytest.mark.parametrize("failure", ["unreachable", "500"])
async def test_an_unavailable_adapter_answers_503(gateway: Gateway, failure: str) -> None:
    if failure == "unreachable":
        gateway.adapter.unreachable = True
    else:
        gateway.adapter.status = 500
    answer = await read(gateway, "verify", gateway.keys.consumer)
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "7"
    [audit] = await gateway.audit(1)
    assert audit["result"] == "error"
    assert 'reason="population_unavailable"' in await gateway.metrics()


async def test_an_oversize_read_is_refused_before_the_adapter(gateway: Gateway) -> None:
    headers = {"content-type": "application/json", "x-api-key": gateway.keys.consumer}
    body = orjson.dumps({"pad": "x" * 17_000})
    answer = await gateway.http.post("/v1/population/verify", content=body, headers=headers)
    assert answer.status_code == 413
    assert gateway.adapter.requests == []
