"""Run the simulated upstream as a child process (integration tests, benchmarks, demos)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import httpx


def free_port() -> int:
    """Return a TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class UpstreamProcess:
    """The upstream as a process of its own; start, stop (to simulate an outage) and restart."""

    db_path: Path
    log_path: Path
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    _process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the base URL it listens on."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the process and wait until it answers /healthz."""
        env = {
            **os.environ,
            "POPULATION_UPSTREAM_DB_PATH": str(self.db_path),
            "POPULATION_UPSTREAM_PORT": str(self.port),
            "POPULATION_UPSTREAM_BUILD_IF_MISSING": "false",
            **self.env,
        }
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "lgsp_simulators.national_population"],
            env=env,
            stdout=self._log,
            stderr=self._log,
        )
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"the upstream exited; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the upstream did not start in {timeout_s:.0f}s; see {self.log_path}")

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Replace the faults in force (latency_ms, latency_jitter_ms, failure_rate)."""
        response = httpx.post(f"{self.url}/_faults", json=faults, timeout=5.0)
        response.raise_for_status()
        report: dict[str, Any] = response.json()
        return report

    def fault_report(self) -> dict[str, Any]:
        """Return the faults in force and how many reads reached the process."""
        report: dict[str, Any] = httpx.get(f"{self.url}/_faults", timeout=5.0).json()
        return report

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
