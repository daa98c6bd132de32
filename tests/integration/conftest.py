"""Fixtures of the integration tests; `gateway_env.py` beside this file holds the shared parts."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# Tests run with --import-mode=importlib, which puts no test folder on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from gateway_env import Env, gateway_env

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import TopicFactory


@pytest.fixture(params=[True, False], ids=["fast-lane", "fastapi-route"])
async def env(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, request: pytest.FixtureRequest
) -> AsyncIterator[Env]:
    """Start a gateway over real HTTP against per-test topics (`rate` marker: rate, burst)."""
    async for found in gateway_env(kafka_settings, topic_factory, request):
        yield found
