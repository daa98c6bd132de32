"""problem+json answers and the settings' environment variables."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict

from lgsp_common.problems import FieldError, ProblemError, setup_exception_handlers
from lgsp_common.settings import KafkaSettings, ServiceSettings, env_variables


class Body(BaseModel):
    amount: int


def make_app() -> FastAPI:
    app = FastAPI()
    setup_exception_handlers(app)

    @app.post("/things")
    async def create(body: Body) -> dict[str, int]:
        if body.amount < 0:
            raise ProblemError(
                422,
                "Negative amount",
                problem_type="negative",
                errors=[FieldError(pointer="/amount", rule="minimum", message="must be >= 0")],
                headers={"X-Reason": "negative"},
            )
        if body.amount == 13:
            raise RuntimeError("boom")
        return {"amount": body.amount}

    return app


def test_problem_error_renders_rfc9457() -> None:
    response = TestClient(make_app()).post("/things", json={"amount": -1})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-reason"] == "negative"
    body = response.json()
    assert body["type"].endswith("/negative")
    assert body["instance"] == "/things"
    assert body["errors"] == [{"pointer": "/amount", "rule": "minimum", "message": "must be >= 0"}]


def test_request_validation_names_the_field_by_pointer() -> None:
    response = TestClient(make_app()).post("/things", json={"amount": "many"})
    assert response.status_code == 422
    assert [e["pointer"] for e in response.json()["errors"]] == ["/amount"]


def test_unknown_route_and_unexpected_error_are_problems_too() -> None:
    client = TestClient(make_app(), raise_server_exceptions=False)
    missing = client.get("/nowhere")
    assert (missing.status_code, missing.headers["content-type"]) == (
        404,
        "application/problem+json",
    )
    crash = client.post("/things", json={"amount": 13})
    assert crash.status_code == 500
    assert "boom" not in crash.text  # internals stay in the log


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_")


def test_env_variables_lists_prefixed_fields_and_shared_kafka_ones() -> None:
    names = env_variables(DemoSettings)
    assert names["DEMO_PORT"] == ("port",)
    assert names["KAFKA_BOOTSTRAP_SERVERS"] == ("kafka", "bootstrap_servers")


def test_kafka_bootstrap_comes_from_the_shared_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker-1:9092,broker-2:9092")
    assert KafkaSettings().bootstrap_servers == "broker-1:9092,broker-2:9092"
    assert DemoSettings().kafka.bootstrap_servers == "broker-1:9092,broker-2:9092"
