"""What gateway_bench.py sets up and drives: the run's topics and source, the gateway process,
and wrk's single-event script."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gateway_process import start_gateway_process
from wrk_load import WrkResult, run_wrk

from lgsp_common.api_keys import hash_api_key
from lgsp_common.settings import KafkaSettings
from lgsp_common.topics import TopicSpec, ensure_topics
from lgsp_devkit.testing import new_api_key, publish_registry_changes

ROOT = Path(__file__).resolve().parents[1]
TOPIC_DIR = ROOT / "contracts/topics/tthc.dossier.v1"
PAYLOAD = json.loads(sorted((TOPIC_DIR / "examples/valid").glob("*.json"))[0].read_text())
EVENT_TYPE = f"vn.gov.lgsp.tthc.dossier.{PAYLOAD['status']}"  # the contract's eventType


async def prepare(kafka: KafkaSettings, run: str) -> tuple[str, str, str]:
    """Create the run's topics and register a source with its key; return topic, registry, key."""
    topic, registry = f"bench.tthc-{run}.v1", f"bench.registry-{run}"
    specs = [
        TopicSpec(topic, 3),
        TopicSpec(registry, 1, config={"cleanup.policy": "compact"}),
        TopicSpec(f"bench.dlq-{run}", 3),
        TopicSpec(f"bench.audit-{run}", 3),
        TopicSpec(f"bench.audit-{run}.checkpoints", 1, config={"cleanup.policy": "compact"}),
        TopicSpec(f"bench.raw-{run}", 3),
    ]
    await ensure_topics(kafka, specs)
    key_id, key = new_api_key()
    schema = json.loads((TOPIC_DIR / "v1.schema.json").read_text())
    await publish_registry_changes(
        kafka,
        registry,
        [
            ("source", "bench", {"id": "bench", "topic": topic, "status": "active"}),
            (
                "contract",
                f"c-{run}",
                {"id": f"c-{run}", "subject": topic, "version": 1, "schema": schema},
            ),
            (
                "api_key",
                key_id,
                {"id": key_id, "source_id": "bench", "key_hash": hash_api_key(key)},
            ),
        ],
    )
    return topic, registry, key


def start_gateway(
    kafka: KafkaSettings, run: str, registry: str, workers: int, **extra: str
) -> tuple[Any, str]:
    """Start the gateway process and wait until it is ready; return (process, base url)."""
    settings = {
        **extra,
        "LGSP_GATEWAY_REGISTRY_TOPIC": registry,
        "LGSP_GATEWAY_DLQ_TOPIC": f"bench.dlq-{run}",
        "LGSP_GATEWAY_AUDIT_TOPIC": f"bench.audit-{run}",
        "LGSP_GATEWAY_RATE_LIMIT_PER_SOURCE": "1000000",
        "LGSP_GATEWAY_RATE_LIMIT_BURST": "1000000",
        "LGSP_GATEWAY_WORKERS": str(workers),
    }
    return start_gateway_process(kafka, settings)


def single_script(key: str) -> str:
    """Return the wrk script posting the contract's example as one binary-mode event."""
    body = json.dumps(PAYLOAD).replace("\\", "\\\\").replace("'", "\\'")
    return (
        'wrk.method = "POST"\n'
        f"wrk.body = '{body}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["X-API-Key"] = "{key}"\n'
        f'wrk.headers["ce-type"] = "{EVENT_TYPE}"\n'
        'wrk.headers["ce-specversion"] = "1.0"\n'
    )


def wrk_single(url: str, topic: str, key: str, seconds: int, connections: int) -> WrkResult:
    """Drive single-event requests with wrk; only 2xx answers count."""
    return run_wrk(f"{url}/v1/topics/{topic}/events", single_script(key), seconds, connections)


def summed(runs: list[WrkResult]) -> WrkResult:
    """Return several wrk windows as one: counts and seconds added, the worst p50 and p99."""
    return WrkResult(
        sum(r.requests for r in runs), sum(r.ok for r in runs), sum(r.non2xx for r in runs),
        sum(r.socket_errors for r in runs), sum(r.seconds for r in runs),
        max(r.p50_ms for r in runs), max(r.p99_ms for r in runs),
    )  # fmt: skip
