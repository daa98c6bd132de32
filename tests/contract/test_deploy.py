"""deploy/ checked statically: manifests parse, commands exist, env vars are real settings.

And the properties scaling out rests on (issue 15): the collector and the registry run two or
more replicas on PostgreSQL (a CloudNativePG Cluster), every workload has a disruption budget,
every container's readiness probe is a route its service serves, every Secret named has its
placeholder in secrets.example.yaml.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from ioc_collector.settings import CollectorSettings
from lgsp_common.settings import env_variables, sample_secrets
from lgsp_common.topics import platform_topics
from lgsp_gateway.delivery.settings import WebhookSettings
from lgsp_gateway.settings import GatewaySettings
from lgsp_registry.settings import RegistrySettings
from lgsp_simulators.national_population.app import router as upstream_router
from lgsp_simulators.national_population.settings import UpstreamSettings
from population_adapter.settings import AdapterSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SETTINGS: dict[str, type[BaseSettings]] = {
    "lgsp-registry": RegistrySettings,
    "lgsp-gateway": GatewaySettings,
    "ioc-collector": CollectorSettings,
    "population-adapter": AdapterSettings,
    "population-upstream": UpstreamSettings,
    "lgsp-webhooks": WebhookSettings,
}
# The committed OpenAPI document of each platform service (contracts/openapi/<name>.json).
OPENAPI = {
    "lgsp-registry": "registry",
    "lgsp-gateway": "lgsp-gateway",
    "ioc-collector": "ioc-collector",
    "population-adapter": "population-adapter",
    "lgsp-webhooks": "lgsp-webhooks",
}
EXAMPLE = "secrets.example.yaml"  # placeholders only: never applied, not in the kustomization
STORE_URL = "IOC_COLLECTOR_STORE_URL"


def documents(name: str) -> list[dict[str, Any]]:
    """Parse every YAML document of a manifest."""
    return [d for d in yaml.safe_load_all((ROOT / "deploy" / name).read_text()) if d]


def applied() -> list[dict[str, Any]]:
    """Every document of every manifest the kustomization applies."""
    resources = documents("k8s/kustomization.yaml")[0]["resources"]
    return [d for name in resources for d in documents(f"k8s/{name}")]


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in applied() if d["kind"] == kind]


def workloads() -> list[dict[str, Any]]:
    return [d for d in applied() if d["kind"] in {"Deployment", "StatefulSet"}]


def workload(name: str) -> dict[str, Any]:
    [found] = [d for d in workloads() if d["metadata"]["name"] == name]
    return found


def containers() -> list[dict[str, Any]]:
    """Return every container of every Deployment and StatefulSet."""
    return [c for d in workloads() for c in d["spec"]["template"]["spec"]["containers"]]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container["env"]}


def example_secrets() -> dict[tuple[str, str], str]:
    """(Secret name, key) -> placeholder value, from secrets.example.yaml."""
    return {
        (d["metadata"]["name"], key): str(value)
        for d in documents(f"k8s/{EXAMPLE}")
        for key, value in d["stringData"].items()
    }


def secret_value(entry: dict[str, Any]) -> str:
    """The example value an env entry reads from its Secret."""
    ref = entry["valueFrom"]["secretKeyRef"]
    return example_secrets()[(ref["name"], ref["key"])]


def postgres_cluster() -> dict[str, Any]:
    [cluster] = of_kind("Cluster")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    return cluster


def test_manifests_and_collector_config_parse() -> None:
    kinds = {d["kind"] for d in applied()}
    assert {
        "Namespace",
        "Kafka",
        "KafkaNodePool",
        "KafkaTopic",
        "Cluster",
        "Database",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    } <= kinds
    otel = yaml.safe_load((ROOT / "deploy/otel/collector.yaml").read_text())
    assert otel["service"]["pipelines"]["traces"]["receivers"] == ["otlp"]


def test_the_kustomization_applies_every_manifest_but_the_secrets_example() -> None:
    listed = documents("k8s/kustomization.yaml")[0]["resources"]
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", EXAMPLE}
    assert sorted(listed) == sorted(on_disk)
    assert {d["metadata"].get("namespace", "lgsp") for d in applied()} == {"lgsp"}
    if shutil.which("kubectl"):  # kustomize itself builds it (offline)
        built = subprocess.run(
            ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, check=True
        )
        assert len([d for d in yaml.safe_load_all(built.stdout) if d]) == len(applied())


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
    for variable in env_of(container):
        if not variable.startswith("OTEL_"):
            assert variable in known, f"{variable} is not a setting of {command}"


@pytest.mark.parametrize("container", containers(), ids=lambda c: c["name"])
def test_every_secret_setting_comes_from_a_secret_the_example_describes(
    container: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Unchanged, the placeholders are refused as samples; replaced, no secret is left at its
    # default: every secret the service needs beyond loopback is given by the manifest.
    settings_class = SETTINGS[container["command"][0]]
    env = {n: e for n, e in env_of(container).items() if not n.startswith("OTEL_")}
    from_secrets = {n for n, e in env.items() if "valueFrom" in e}
    for variable, entry in env.items():
        value = secret_value(entry) if variable in from_secrets else str(entry["value"])
        monkeypatch.setenv(variable, value)
    flagged = set(sample_secrets(settings_class()))
    assert flagged == {v for v in from_secrets if _is_secret(settings_class(), v)}
    for variable in from_secrets:
        monkeypatch.setenv(variable, secret_value(env[variable]).replace("CHANGE-ME-", "real-"))
    assert sample_secrets(settings_class()) == []


def _is_secret(settings: BaseSettings, variable: str) -> bool:
    current: Any = settings
    for attribute in env_variables(type(settings)).get(variable, ("__missing__",)):
        current = getattr(current, attribute, None)
    return isinstance(current, SecretStr)


def test_every_example_secret_is_a_placeholder_and_is_used() -> None:
    named = {
        (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for c in containers()
        for e in c["env"]
        if "valueFrom" in e
    }
    cluster = postgres_cluster()["spec"]
    roles = {cluster["bootstrap"]["initdb"]["secret"]["name"]} | {
        r["passwordSecret"]["name"] for r in cluster["managed"]["roles"]
    }
    examples = example_secrets()
    assert named <= set(examples), named - set(examples)
    assert {name for name, _ in examples} == {name for name, _ in named} | roles
    assert all("CHANGE-ME" in value for (_, key), value in examples.items() if key != "username")


@pytest.mark.parametrize("name", ["ioc-collector", "registry"])
def test_collector_and_registry_run_two_or_more_replicas_without_a_volume(name: str) -> None:
    found = workload(name)
    assert found["kind"] == "Deployment"
    assert found["spec"]["replicas"] >= 2
    pod = found["spec"]["template"]["spec"]
    assert "volumes" not in pod and all("volumeMounts" not in c for c in pod["containers"])
    assert not of_kind("PersistentVolumeClaim")
    spread = pod["topologySpreadConstraints"][0]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["labelSelector"]["matchLabels"] == found["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize(
    ("name", "variable"),
    [("ioc-collector", STORE_URL), ("registry", "LGSP_REGISTRY_DATABASE_URL")],
)
def test_database_urls_come_from_secrets_and_reach_the_postgres_primary(
    name: str, variable: str
) -> None:
    [container] = workload(name)["spec"]["template"]["spec"]["containers"]
    env = env_of(container)
    assert "IOC_COLLECTOR_STORE_PATH" not in env and "LGSP_REGISTRY_DATA_DIR" not in env
    assert "value" not in env[variable]  # never written in the manifest
    url = urlsplit(secret_value(env[variable]))
    assert url.scheme == "postgresql+asyncpg"
    cluster = postgres_cluster()
    service = f"{cluster['metadata']['name']}-rw"  # CloudNativePG's service for the primary
    assert url.hostname in {service, f"{service}.{cluster['metadata']['namespace']}.svc"}
    assert url.port == 5432
    database = url.path.removeprefix("/")
    owners = {d["spec"]["name"]: d["spec"] for d in of_kind("Database")}
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    owners[initdb["database"]] = {"owner": initdb["owner"], "secret": initdb["secret"]["name"]}
    for role in cluster["spec"]["managed"]["roles"]:
        for spec in owners.values():
            if spec["owner"] == role["name"] and role.get("login"):
                spec["secret"] = role["passwordSecret"]["name"]
    assert database in owners, f"no database {database} in the cluster"
    owner = owners[database]
    assert url.username == owner["owner"]
    if "cluster" in owner:
        assert owner["cluster"]["name"] == cluster["metadata"]["name"]
    examples = example_secrets()
    assert examples[(owner["secret"], "username")] == url.username
    assert examples[(owner["secret"], "password")] == url.password


def test_the_postgres_cluster_survives_a_node_without_losing_a_commit() -> None:
    spec = postgres_cluster()["spec"]
    assert spec["instances"] >= 3
    synchronous = spec["postgresql"]["synchronous"]
    assert synchronous["number"] >= 1 and synchronous.get("dataDurability") == "required"
    assert spec.get("enablePDB", True) is True
    assert spec["affinity"]["topologyKey"] == "kubernetes.io/hostname"
    users = 0
    for name in ("ioc-collector", "registry"):
        users += workload(name)["spec"]["replicas"] * 15  # SQLAlchemy's pool: 5 + overflow 10
    assert int(spec["postgresql"]["parameters"]["max_connections"]) > 2 * users


def _selects(match_labels: dict[str, str], labels: dict[str, str]) -> bool:
    """Whether a selector's labels pick pods with these labels (an empty one picks none here)."""
    return bool(match_labels) and all(labels.get(k) == v for k, v in match_labels.items())


@pytest.mark.parametrize("found", workloads(), ids=lambda d: d["metadata"]["name"])
def test_every_workload_has_a_disruption_budget_that_lets_a_drain_proceed(
    found: dict[str, Any],
) -> None:
    budgets = [b for b in of_kind("PodDisruptionBudget") if _picks(b, found)]
    assert len(budgets) == 1, f"{len(budgets)} budgets select {found['metadata']['name']}"
    [budget] = budgets
    assert [w for w in workloads() if _picks(budget, w)] == [found]  # its pods only
    replicas = min([found["spec"]["replicas"], *_autoscaled_minimum(found["metadata"]["name"])])
    spec = budget["spec"]
    if "maxUnavailable" in spec:
        assert spec["maxUnavailable"] >= 1 and (replicas < 2 or spec["maxUnavailable"] < replicas)
    else:
        assert (replicas < 2 or spec["minAvailable"] >= 1) and spec["minAvailable"] < replicas


def _picks(budget: dict[str, Any], found: dict[str, Any]) -> bool:
    labels = found["spec"]["template"]["metadata"]["labels"]
    return _selects(budget["spec"]["selector"]["matchLabels"], labels)


def _autoscaled_minimum(name: str) -> list[int]:
    return [
        h["spec"]["minReplicas"]
        for h in of_kind("HorizontalPodAutoscaler")
        if h["spec"]["scaleTargetRef"]["name"] == name
    ]


def test_kafka_drains_one_node_at_a_time_within_its_in_sync_margin() -> None:
    [kafka] = of_kind("Kafka")
    [pool] = of_kind("KafkaNodePool")
    margin = pool["spec"]["replicas"] - kafka["spec"]["kafka"]["config"]["min.insync.replicas"]
    assert kafka["spec"]["kafka"]["template"]["podDisruptionBudget"]["maxUnavailable"] == 1
    assert margin >= 1


@pytest.mark.parametrize("container", containers(), ids=lambda c: c["name"])
def test_probes_are_routes_the_service_serves_on_its_port(
    container: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    command = container["command"][0]
    for variable, entry in env_of(container).items():
        if "value" in entry and not variable.startswith("OTEL_"):
            monkeypatch.setenv(variable, str(entry["value"]))
    port = SETTINGS[command]().port  # type: ignore[attr-defined]
    assert [p["containerPort"] for p in container["ports"]] == [port]
    readiness = container["readinessProbe"]["httpGet"]
    assert readiness["port"] == port
    if command not in OPENAPI:  # the stand-in national database serves /healthz only
        routes = {getattr(route, "path", None) for route in upstream_router.routes}
        assert readiness["path"] in routes
        return
    paths = json.loads((ROOT / f"contracts/openapi/{OPENAPI[command]}.json").read_text())["paths"]
    liveness = container["livenessProbe"]["httpGet"]
    assert readiness["path"] == "/readyz" and "/readyz" in paths
    assert liveness == {"path": "/healthz", "port": port} and "/healthz" in paths


def test_every_service_routes_to_its_pods_port() -> None:
    pods = {d["metadata"]["name"]: d["spec"]["template"] for d in workloads()}
    for service in of_kind("Service"):
        selector = service["spec"]["selector"]
        [target] = [t for t in pods.values() if _selects(selector, t["metadata"]["labels"])]
        ports = {p["containerPort"] for c in target["spec"]["containers"] for p in c["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
