"""Fixtures of the gateway's unit tests: the app in process, no broker (see gateway_fakes.py)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

# The fakes module beside this file (tests run with --import-mode=importlib: no sys.path entry).
sys.path.insert(0, str(Path(__file__).parent))

from gateway_fakes import Gateway, started, unit_settings


@pytest.fixture(params=[True, False], ids=["fast-lane", "fastapi-route"])
def fast_lane(request: pytest.FixtureRequest) -> bool:
    """Run a test against both single-event paths."""
    return bool(request.param)


@pytest.fixture
async def gateway(fast_lane: bool, request: pytest.FixtureRequest) -> AsyncIterator[Gateway]:
    """Start a gateway with fakes (`rate` marker: rate and burst per source)."""
    marker = request.node.get_closest_marker("rate")
    overrides: dict[str, Any] = {"fast_lane": fast_lane}
    if marker:
        overrides |= {"rate_limit_per_source": marker.args[0], "rate_limit_burst": marker.args[1]}
    async with started(unit_settings(**overrides)) as gateway:
        yield gateway
