"""docker-compose.yml checked statically (no Docker engine here): services, commands, env vars."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from ioc_collector.settings import CollectorSettings
from lgsp_common.settings import env_variables, is_loopback, sample_secrets
from lgsp_gateway.delivery.settings import WebhookSettings
from lgsp_gateway.settings import GatewaySettings
from lgsp_registry.settings import RegistrySettings
from lgsp_simulators.national_population.settings import UpstreamSettings
from population_adapter.settings import AdapterSettings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS: dict[str, type[BaseSettings]] = {
    "registry": RegistrySettings,
    "lgsp-gateway": GatewaySettings,
    "ioc-collector": CollectorSettings,
    "population-adapter": AdapterSettings,
    "population-upstream": UpstreamSettings,
    "lgsp-webhooks": WebhookSettings,
}
# The workspace member each service comes from.
MEMBER = {name: f"services/{name}" for name in SETTINGS} | {
    "population-upstream": "simulators",
    "lgsp-webhooks": "services/lgsp-gateway",
}
# `${NAME:?…}`: a value compose requires from the environment (.env), never written in the file.
REQUIRED = re.compile(r"^\$\{([A-Z0-9_]+):\?[^}]+\}$")


def environment_of(name: str, secret: str = "a-real-secret-0123456789abcdef") -> dict[str, str]:
    """A service's compose environment, each required variable given a real-looking value."""
    environment: dict[str, str] = compose()["services"][name]["environment"]
    return {k: secret if REQUIRED.match(str(v)) else str(v) for k, v in environment.items()}


def compose() -> dict[str, Any]:
    """Parse docker-compose.yml."""
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def console_scripts() -> dict[str, str]:
    """Map every console script declared in the workspace's members to its entry point."""
    scripts: dict[str, str] = {}
    for pyproject in [*ROOT.glob("services/*/pyproject.toml"), ROOT / "simulators/pyproject.toml"]:
        scripts.update(tomllib.loads(pyproject.read_text())["project"].get("scripts", {}))
    return scripts


def test_compose_names_kafka_the_four_services_and_the_upstream() -> None:
    services = compose()["services"]
    assert set(services) == {"kafka", *SETTINGS}
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for name in SETTINGS:
        service = services[name]
        assert (ROOT / service["build"] / "Dockerfile").exists()
        if name != "population-upstream":  # the simulated national database needs no Kafka
            assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert (
            "/readyz" in " ".join(service["healthcheck"]["test"]) or name == "population-upstream"
        )
        assert (ROOT / MEMBER[name]).is_dir()


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_every_service_command_is_a_declared_entry_point(name: str) -> None:
    command = compose()["services"][name]["command"]
    scripts = console_scripts()
    assert command[0] in scripts, f"{command[0]} is not a console script of the workspace"
    module, _, function = scripts[command[0]].partition(":")
    assert callable(getattr(__import__(module, fromlist=[function]), function))


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_every_env_var_compose_sets_is_a_real_setting(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_class = SETTINGS[name]
    known = env_variables(settings_class)
    environment = environment_of(name)
    for variable, value in environment.items():
        assert variable in known, f"{variable} is not a setting of {settings_class.__name__}"
        monkeypatch.setenv(variable, value)
    settings = settings_class()
    for variable, value in environment.items():
        current: Any = settings
        for attribute in known[variable]:
            current = getattr(current, attribute)
        if isinstance(current, SecretStr):
            current = current.get_secret_value()
        assert str(current) == value, f"{variable}={value} reached the setting as {current}"


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_services_beyond_loopback_get_every_secret_from_the_environment(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # They refuse defaults and samples there (lgsp_common.settings.refuse_sample_secrets).
    raw: dict[str, str] = compose()["services"][name]["environment"]
    for variable, value in environment_of(name).items():
        monkeypatch.setenv(variable, value)
    settings = SETTINGS[name]()
    assert not is_loopback(settings.host)  # type: ignore[attr-defined]
    assert sample_secrets(settings) == []
    secrets = [v for v, path in env_variables(SETTINGS[name]).items() if v in raw]
    assert all(REQUIRED.match(str(raw[v])) for v in secrets if _is_secret(settings, v)), raw


def _is_secret(settings: BaseSettings, variable: str) -> bool:
    current: Any = settings
    for attribute in env_variables(type(settings))[variable]:
        current = getattr(current, attribute)
    return isinstance(current, SecretStr)


def test_the_secrets_script_writes_what_compose_requires() -> None:
    wanted = {m.group(1) for m in map(REQUIRED.match, _all_values()) if m}
    script = (ROOT / "scripts" / "compose-secrets").read_text()
    assert wanted and all(name in script for name in wanted)


def _all_values() -> list[str]:
    return [
        str(v) for s in compose()["services"].values() for v in s.get("environment", {}).values()
    ]


def test_compose_ports_match_the_service_settings() -> None:
    services = compose()["services"]
    for name, settings_class in SETTINGS.items():
        with pytest.MonkeyPatch.context() as env:
            for variable, value in environment_of(name).items():
                env.setenv(variable, value)
            port = settings_class().port  # type: ignore[attr-defined]
        assert services[name]["ports"] == [f"{port}:{port}"]
