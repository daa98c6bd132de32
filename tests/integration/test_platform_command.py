"""The README's run command: Kafka, four services and the demo, ready only while Kafka is up.

Besides the services it starts the simulated population database and the simulated
departments, which onboard through the registry and publish through the gateway: the
collector's dashboard address is printed and its KPIs move.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from lgsp_devkit.kafka_local import LocalKafka

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def wait_for_line(process: subprocess.Popen[str], needle: str, timeout_s: float) -> list[str]:
    """Read the process's output until a line contains `needle`."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"{needle!r} not seen; output:\n{''.join(lines)}")


def readiness(urls: list[str]) -> list[int]:
    """Return each service's /readyz status code."""
    with httpx.Client(timeout=10) as client:
        return [client.get(url + "/readyz").status_code for url in urls]


def viewer_token(output: str) -> str:
    """Return the viewer token the run command printed for the dashboard's sign-in."""
    found = re.search(r"Đăng nhập / Sign in with: (lgsp_at_\S+)", output)
    assert found is not None, output
    return found.group(1)


def kpis_move(collector: str, token: str, timeout_s: float = 60) -> bool:
    """Tell whether the collector consumes the simulated departments' events, more and more."""
    deadline = time.monotonic() + timeout_s
    seen: list[int] = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=collector, timeout=10, headers=headers) as client:
        while time.monotonic() < deadline:
            rows = client.get("/v1/streams/counts").json()["sources"]
            topics = {row["topic"] for row in rows}
            seen.append(sum(row["events"] for row in rows))
            if len(topics) >= 4 and len(seen) > 2 and seen[-1] > seen[-3] > 0:
                values = [t["current"]["value"] for t in client.get("/v1/kpis").json()["kpis"]]
                if sum(value is not None for value in values) >= 10:
                    return True
            time.sleep(1)
    return False


def assert_consumers_read(truth_path: Path) -> None:
    """The two consumer departments read through the gateway: only their approved fields."""
    consumers = json.loads(truth_path.read_text("utf-8"))["consumers"]
    statistics, justice = consumers["tk-thu-ngan-sach"], consumers["stp-tai-su-dung-ket-qua"]
    assert statistics["transport"] == "pull" and statistics["distinct"] > 0, statistics
    assert statistics["fields_received"] == sorted(
        pointer.lstrip("/") for pointer in statistics["approved_fields"]
    )
    assert justice["transport"] == "webhook" and justice["distinct"] > 0, justice
    assert set(justice["fields_received"]) <= {p.lstrip("/") for p in justice["approved_fields"]}
    assert justice["signatures"]["failed"] == 0 and justice["signatures"]["verified"] > 0


def unused_offset() -> int:
    """Return a port offset whose service ports are all free and outside the ephemeral range.

    Ports below 32768 are never handed out to outgoing connections, so a client elsewhere in
    the suite cannot take one between this check and the service's bind.
    """
    rng = random.Random()
    for _ in range(200):
        offset = rng.randrange(10_000, 24_000, 100)
        if all(bindable(port + offset) for port in range(8080, 8100)):
            return offset
    raise AssertionError("no free block of ports below the ephemeral range")


def bindable(port: int) -> bool:
    """Tell whether nobody listens on a loopback port right now."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_run_command_serves_and_readiness_follows_kafka(tmp_path: Path) -> None:
    kafka = LocalKafka(tmp_path / "kafka")
    bootstrap = kafka.start()
    offset = unused_offset()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "PYTHONUNBUFFERED": "1",
        "LGSP_DEMO_CITIZENS": "2000",  # a small population builds in a blink
        "LGSP_DEMO_RATE": "20",
    }
    command = [
        sys.executable,
        "-m",
        "lgsp_cli.main",
        "dev",
        "up",
        "--var-dir",
        str(tmp_path),
        "--port-offset",
        str(offset),
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output = "".join(wait_for_line(process, "Ctrl-C stops everything", 120))
        urls = [f"http://127.0.0.1:{port + offset}" for port in (8081, 8080, 8082, 8083)]
        for url in urls:
            assert url in output
        assert f"Dashboard (IOC): {urls[2]}/" in output
        assert f"http://127.0.0.1:{8093 + offset}" in output  # the population upstream
        assert "Population: 2,000 citizens built" in output
        assert readiness(urls) == [200, 200, 200, 200]
        token = viewer_token(output)
        assert httpx.get(urls[2] + "/v1/kpis", timeout=10).status_code == 401  # needs a viewer
        logs = tmp_path / "logs" / "simulator.log"
        assert kpis_move(urls[2], token), logs.read_text()[-3000:]
        # The history import writes the ground truth once it is done; KPIs move during it.
        # Stopping Kafka before then would leave the import retrying past the stop timeout.
        truth = tmp_path / "simulate" / "ground-truth.json"
        deadline = time.monotonic() + 120
        while not truth.exists():
            assert time.monotonic() < deadline, logs.read_text()[-3000:]
            time.sleep(0.5)

        kafka.stop()
        deadline = time.monotonic() + 30
        while readiness(urls) != [503] * 4:
            assert time.monotonic() < deadline, readiness(urls)
            time.sleep(0.5)
        with httpx.Client() as client:
            assert client.get(urls[0] + "/healthz").status_code == 200  # alive, just not ready

        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
        assert_consumers_read(truth)
    finally:
        if process.poll() is None:
            process.kill()
        kafka.stop()
    for url in urls:
        with pytest.raises(httpx.TransportError):
            httpx.get(url + "/healthz", timeout=2)
