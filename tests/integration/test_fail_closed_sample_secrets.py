"""No sample secrets in production, through the real entrypoint (`python -m lgsp_gateway`).

Bound beyond loopback with its default secrets the gateway exits at once, naming each setting,
before it binds or touches Kafka; on loopback the same defaults start it (stopped once ready).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.kafka_local import free_port
from lgsp_devkit.testing import TopicFactory

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(120)]


def gateway_env(kafka: KafkaSettings, host: str, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LGSP_", "KAFKA_"))}
    env |= {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "LGSP_GATEWAY_HOST": host,
        "LGSP_GATEWAY_PORT": str(port),
        "LGSP_GATEWAY_LOG_JSON": "false",
        "LGSP_GATEWAY_KAFKA_STARTUP_TIMEOUT_S": "20",
    }
    return env | extra


def test_beyond_loopback_the_default_secrets_stop_start_up(kafka_settings: KafkaSettings) -> None:
    port = free_port()
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "lgsp_gateway"],
        env=gateway_env(kafka_settings, "0.0.0.0", port),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    for variable in ("LGSP_GATEWAY_AUDIT_KEY", "LGSP_GATEWAY_CURSOR_KEY"):
        assert variable in done.stderr, done.stderr
    assert "change-me-local-audit-key" not in done.stderr + done.stdout
    assert time.monotonic() - started < 30  # refused at once: no wait for Kafka, no bind


async def test_on_loopback_the_same_defaults_start(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    dlq, audit = await topic_factory("dlq"), await topic_factory("audit")
    port = free_port()
    env = gateway_env(kafka_settings, "127.0.0.1", port, LGSP_GATEWAY_REGISTRY_TOPIC=registry,
                      LGSP_GATEWAY_DLQ_TOPIC=dlq, LGSP_GATEWAY_AUDIT_TOPIC=audit,
                      # no contracts: the gateway creates no data topic on the cluster
                      LGSP_GATEWAY_CONTRACTS_DIR=str(tmp_path))  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lgsp_gateway", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            while True:
                assert process.returncode is None, "the gateway exited during start-up"
                assert time.monotonic() < deadline, "the gateway did not become ready"
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.communicate(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()
