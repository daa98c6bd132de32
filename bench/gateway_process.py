"""Start the gateway as its own process for a benchmark and wait until it is ready."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

import httpx

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.kafka_local import die_with_parent, free_port


def start_gateway_process(kafka: KafkaSettings, settings: Mapping[str, str]) -> tuple[Any, str]:
    """Run `python -m lgsp_gateway` with these LGSP_GATEWAY_* settings; return (process, url)."""
    port = free_port()
    env = os.environ | {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "LGSP_GATEWAY_PORT": str(port),
        "LGSP_GATEWAY_LOG_LEVEL": "WARNING",
        **settings,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "lgsp_gateway"],
        env=env,
        preexec_fn=die_with_parent,  # noqa: PLW1509
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("gateway did not become ready")
