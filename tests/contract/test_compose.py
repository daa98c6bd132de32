"""docker-compose.yml checked statically (no Docker engine here): services, commands, env vars."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from ioc_collector.settings import CollectorSettings
from lgsp_common.settings import env_variables
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
}
# The workspace member each service comes from.
MEMBER = {name: f"services/{name}" for name in SETTINGS} | {"population-upstream": "simulators"}


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
    environment: dict[str, str] = compose()["services"][name]["environment"]
    for variable, value in environment.items():
        assert variable in known, f"{variable} is not a setting of {settings_class.__name__}"
        monkeypatch.setenv(variable, str(value))
    settings = settings_class()
    for variable, value in environment.items():
        current: Any = settings
        for attribute in known[variable]:
            current = getattr(current, attribute)
        assert str(current) == str(value), f"{variable}={value} reached the setting as {current}"


def test_compose_ports_match_the_service_settings() -> None:
    services = compose()["services"]
    for name, settings_class in SETTINGS.items():
        with pytest.MonkeyPatch.context() as env:
            for variable, value in services[name]["environment"].items():
                env.setenv(variable, str(value))
            port = settings_class().port  # type: ignore[attr-defined]
        assert services[name]["ports"] == [f"{port}:{port}"]
