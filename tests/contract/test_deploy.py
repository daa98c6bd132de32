"""deploy/ checked statically: manifests parse, commands exist, env vars are real settings."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from ioc_collector.settings import CollectorSettings
from lgsp_common.settings import env_variables
from lgsp_common.topics import platform_topics
from lgsp_gateway.delivery.settings import WebhookSettings
from lgsp_gateway.settings import GatewaySettings
from lgsp_registry.settings import RegistrySettings
from lgsp_simulators.national_population.settings import UpstreamSettings
from population_adapter.settings import AdapterSettings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS: dict[str, type[BaseSettings]] = {
    "lgsp-registry": RegistrySettings,
    "lgsp-gateway": GatewaySettings,
    "ioc-collector": CollectorSettings,
    "population-adapter": AdapterSettings,
    "population-upstream": UpstreamSettings,
    "lgsp-webhooks": WebhookSettings,
}


def documents(name: str) -> list[dict[str, Any]]:
    """Parse every YAML document of a manifest."""
    return [d for d in yaml.safe_load_all((ROOT / "deploy" / name).read_text()) if d]


def containers() -> list[dict[str, Any]]:
    """Return every container of every Deployment."""
    return [
        container
        for doc in documents("k8s/services.yaml")
        if doc["kind"] == "Deployment"
        for container in doc["spec"]["template"]["spec"]["containers"]
    ]


def test_manifests_and_collector_config_parse() -> None:
    kinds = {
        d["kind"]
        for name in (
            "k8s/namespace.yaml",
            "k8s/kafka.yaml",
            "k8s/services.yaml",
            "k8s/gateway-autoscaling.yaml",
        )
        for d in documents(name)
    }
    assert {
        "Namespace",
        "Kafka",
        "KafkaNodePool",
        "KafkaTopic",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
    } <= kinds
    otel = yaml.safe_load((ROOT / "deploy/otel/collector.yaml").read_text())
    assert otel["service"]["pipelines"]["traces"]["receivers"] == ["otlp"]


def test_every_platform_topic_is_declared_for_strimzi() -> None:
    topics = {
        d["spec"]["topicName"]: d["spec"]
        for d in documents("k8s/kafka.yaml")
        if d["kind"] == "KafkaTopic"
    }
    wanted = {spec.name: spec for spec in platform_topics()}
    assert set(topics) == set(wanted)  # exactly the topics the services create locally
    for name, spec in wanted.items():
        assert topics[name]["partitions"] == spec.partitions, name
        assert topics[name]["replicas"] == 3, name  # min.insync.replicas 2 needs 3
        assert topics[name].get("config", {}) == spec.config, name


@pytest.mark.parametrize("container", containers(), ids=lambda c: c["name"])
def test_every_container_runs_a_console_script_with_real_settings(
    container: dict[str, Any],
) -> None:
    scripts: dict[str, str] = {}
    for pyproject in [*ROOT.glob("services/*/pyproject.toml"), ROOT / "simulators/pyproject.toml"]:
        scripts |= tomllib.loads(pyproject.read_text())["project"].get("scripts", {})
    command = container["command"][0]
    assert command in scripts
    known = env_variables(SETTINGS[command])
    for variable in (e["name"] for e in container["env"]):
        if not variable.startswith("OTEL_"):
            assert variable in known, f"{variable} is not a setting of {command}"
