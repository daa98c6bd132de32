"""People's access tokens and who may list consumers (issue 13, finding 9)."""

from __future__ import annotations

import httpx
import orjson
from jsonschema import Draft202012Validator

from lgsp_common.api_keys import hash_api_key
from lgsp_common.settings import repo_root

from . import test_api
from .test_api import OPERATOR, TOPIC, auth, contract, make_org, ok, outbox_events, source

http = test_api.http  # the fixture: a fresh registry in process
REGISTRY_SCHEMA = orjson.loads(
    (repo_root() / "contracts/platform/lgsp.registry/v1.schema.json").read_bytes()
)


async def issue(http: httpx.AsyncClient, role: str, organisation: str | None = None) -> str:
    """Issue a token as the operator and return it."""
    body = {"name": f"{role} of {organisation}", "role": role, "organisation_id": organisation}
    made = await ok(await http.post("/v1/tokens", json=body, headers=OPERATOR))
    assert made["token"].startswith("lgsp_at_") and made["created_by"] == "operator"
    token: str = made["token"]
    return token


async def test_tokens_are_shown_once_published_as_hashes_and_revocable(
    http: httpx.AsyncClient,
) -> None:
    anonymous = await http.post("/v1/tokens", json={"name": "x", "role": "viewer"})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    viewer = await issue(http, "viewer")
    refused = await http.post("/v1/tokens", json={"name": "y", "role": "operator"},
                              headers=auth(viewer))  # fmt: skip
    assert refused.status_code == 403
    listed = await ok(await http.get("/v1/tokens", headers=OPERATOR), 200)
    assert [t["role"] for t in listed] == ["viewer"] and "token" not in listed[0]
    assert "token_hash" not in listed[0]
    events = [v for k, v in await outbox_events(http) if k.startswith("access_token:")]
    assert events[-1]["data"]["token_hash"] == hash_api_key(viewer)
    assert viewer not in orjson.dumps(events).decode()
    Draft202012Validator(REGISTRY_SCHEMA).validate(events[-1])
    token_id = listed[0]["id"]
    revoked = await ok(await http.post(f"/v1/tokens/{token_id}/revoke", headers=OPERATOR), 200)
    assert revoked["revoked_at"] is not None
    again = [v for k, v in await outbox_events(http) if k == f"access_token:{token_id}"]
    assert again[-1]["data"]["revoked_at"] is not None and again[-1]["version"] == 2
    assert (await http.get("/v1/tokens", headers=auth(viewer))).status_code == 401


async def test_operator_and_auditor_tokens_act_as_their_role(http: httpx.AsyncClient) -> None:
    operator, auditor = await issue(http, "operator"), await issue(http, "auditor")
    body = {"id": "so-y-te", "code": "000.00.19.H03", "name_vi": "Sở Y tế", "name_en": "Health"}
    await ok(await http.post("/v1/organisations", json=body, headers=auth(operator)))
    assert (await http.post("/v1/tokens", json={"name": "z", "role": "viewer"},
                            headers=auth(auditor))).status_code == 403  # fmt: skip
    assert len(await ok(await http.get("/v1/tokens", headers=auth(auditor)), 200)) == 2


async def test_consumers_are_listed_to_the_operator_auditor_or_their_organisations(
    http: httpx.AsyncClient,
) -> None:
    owner = await make_org(http, "so-tai-chinh", "000.00.17.H03")
    reader = await make_org(http, "ioc", "000.00.20.H03")
    other = await make_org(http, "so-y-te", "000.00.19.H03")
    await ok(await http.post("/v1/sources", json=source("stc", "so-tai-chinh"), headers=OPERATOR))
    await ok(await http.post(f"/v1/subjects/{TOPIC}/versions", json=contract(), headers=OPERATOR))
    request = {"id": "ioc-thu", "organisation_id": "ioc", "topic": TOPIC, "purpose": "kpi",
               "fields": ["/amount"]}  # fmt: skip
    await ok(await http.post("/v1/consumers", json=request, headers=auth(reader)))

    anonymous = await http.get("/v1/consumers")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert (await http.get("/v1/consumers/ioc-thu")).status_code == 401
    listing = await http.get("/v1/consumers?organisation=ioc", headers=auth(other))
    assert listing.status_code == 403
    assert (await http.get("/v1/consumers/ioc-thu", headers=auth(other))).status_code == 403
    assert await ok(await http.get("/v1/consumers", headers=auth(other)), 200) == []
    viewer = await issue(http, "viewer")
    assert (await http.get("/v1/consumers", headers=auth(viewer))).status_code == 403
    auditor = await issue(http, "auditor")
    for allowed in (OPERATOR, auth(owner), auth(reader), auth(auditor)):
        listed = await ok(await http.get("/v1/consumers", headers=allowed), 200)
        assert [c["id"] for c in listed] == ["ioc-thu"]
        await ok(await http.get("/v1/consumers/ioc-thu", headers=allowed), 200)
    ioc_person = await issue(http, "viewer", "ioc")
    mine = await ok(await http.get("/v1/consumers?organisation=ioc", headers=auth(ioc_person)), 200)
    assert [c["id"] for c in mine] == ["ioc-thu"]
    assert (await http.get("/v1/catalogue")).status_code == 200  # what owners publish stays open
