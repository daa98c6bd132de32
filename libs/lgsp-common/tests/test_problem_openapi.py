"""Errors are documented as served (issue 13, finding 10): problem+json, the problem schema."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from lgsp_common.problems import PROBLEM_MEDIA_TYPE, problem_responses, setup_exception_handlers


class Thing(BaseModel):
    """A body."""

    amount: int


def app() -> FastAPI:
    """An app with a validated body and a documented 404."""
    made = FastAPI()
    setup_exception_handlers(made)

    @made.post("/things/{thing_id}", responses=problem_responses(404))
    async def put_thing(thing_id: int, body: Thing) -> Thing:
        return body

    return made


async def test_the_422_is_documented_as_it_is_served() -> None:
    made = app()
    transport = httpx.ASGITransport(app=made)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        served = await client.post("/things/1", json={"amount": "many"})
    assert served.status_code == 422
    assert served.headers["content-type"] == PROBLEM_MEDIA_TYPE
    responses = made.openapi()["paths"]["/things/{thing_id}"]["post"]["responses"]
    problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert responses["422"]["content"] == problem
    assert responses["404"]["content"] == problem
    schemas = made.openapi()["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert set(schemas["Problem"]["required"]) == {"title", "status"}
    assert "FieldError" in schemas
