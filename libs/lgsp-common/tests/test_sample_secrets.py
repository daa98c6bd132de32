"""No sample secrets in production: beyond loopback, a default or sample secret stops start-up."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from lgsp_common.entrypoint import ServiceEntrypoint
from lgsp_common.settings import (
    SampleSecretError,
    ServiceSettings,
    is_loopback,
    refuse_sample_secrets,
    sample_secrets,
)


class Inner(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    token: SecretStr = Field(default=SecretStr("inner-default"))


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore")

    audit_key: SecretStr = Field(default=SecretStr("local-audit-key"))
    cursor_key: SecretStr = Field(default=SecretStr("another-default"))
    optional: SecretStr | None = None
    inner: Inner = Field(default_factory=Inner)


def strong(**values: object) -> DemoSettings:
    base: dict[str, object] = {
        "audit_key": "s3cr3t-" + "a" * 32,
        "cursor_key": "s3cr3t-" + "b" * 32,
        "inner": Inner(token=SecretStr("s3cr3t-" + "c" * 32)),
    }
    return DemoSettings(**(base | values))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("gateway.example", False),
        ("", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_defaults_and_samples_are_named_by_their_variable() -> None:
    # A nested settings class reads its own variables (as KafkaSettings does).
    assert sample_secrets(DemoSettings()) == ["DEMO_AUDIT_KEY", "DEMO_CURSOR_KEY", "TOKEN"]
    assert sample_secrets(strong()) == []
    assert sample_secrets(strong(cursor_key="change-me-please")) == ["DEMO_CURSOR_KEY"]
    assert sample_secrets(strong(audit_key="example-audit-key-not-a-secret")) == ["DEMO_AUDIT_KEY"]


def test_loopback_accepts_defaults_and_other_addresses_refuse_them() -> None:
    refuse_sample_secrets(DemoSettings(), "demo")
    refuse_sample_secrets(strong(host="0.0.0.0"), "demo")
    with pytest.raises(SampleSecretError, match="DEMO_AUDIT_KEY, DEMO_CURSOR_KEY") as refused:
        refuse_sample_secrets(DemoSettings(host="0.0.0.0"), "demo")
    assert "0.0.0.0" in str(refused.value)
    assert "local-audit-key" not in str(refused.value)  # the message never shows the secret


def test_the_demo_opt_out_is_explicit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LGSP_ALLOW_SAMPLE_SECRETS", "true")
    refuse_sample_secrets(DemoSettings(host="0.0.0.0"), "demo")


def test_the_entrypoint_exits_before_building_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_HOST", "0.0.0.0")
    built: list[DemoSettings] = []

    def create_app(settings: DemoSettings) -> FastAPI:
        built.append(settings)
        return FastAPI()

    entry = ServiceEntrypoint("demo", DemoSettings, create_app, "demo.main:app_factory")
    with pytest.raises(SystemExit, match="DEMO_AUDIT_KEY") as exited:
        entry.run()
    assert exited.value.code != 0
    with pytest.raises(SystemExit, match="DEMO_CURSOR_KEY"):
        entry.app_factory()
    assert built == []
