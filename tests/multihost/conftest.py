"""Fixtures of the multi-host suite: the test network and the platform on it, once per module.

The figures of each fault are kept in `FIGURES`, written to test-artifacts/multihost.json and
printed in pytest's terminal summary (so they show without `-s`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Tests run with --import-mode=importlib, which puts no test folder on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from hosts_env import FIGURES, Platform

from lgsp_devkit.netns import TestNetwork, TrafficWatch


@pytest.fixture(scope="module")
def traffic() -> Iterator[tuple[TestNetwork, TrafficWatch]]:
    """Make the test network and watch every frame on its links."""
    network = TestNetwork()
    network.start()
    watch = TrafficWatch(network.prefix)
    watch.start()
    try:
        yield network, watch
    finally:
        watch.stop()
        network.stop()


@pytest.fixture(scope="module")
def platform(
    traffic: tuple[TestNetwork, TrafficWatch], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    """Start Kafka on three hosts, the registry and two gateways (stopped after the module)."""
    found = Platform(traffic[0], tmp_path_factory.mktemp("multihost"))
    try:
        found.start()
        yield found
    finally:
        found.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the multi-host figures, one table per fault."""
    if not FIGURES:
        return
    terminalreporter.section("multi-host fault suite (test-artifacts/multihost.json)")
    for name, figures in FIGURES.items():
        terminalreporter.write_line(f"{name}:")
        for key, value in figures.items():
            terminalreporter.write_line(f"  {key:<34} {json.dumps(value, ensure_ascii=False)}")
