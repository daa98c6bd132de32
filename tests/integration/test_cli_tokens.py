"""`lgsp tokens issue|list|revoke` against a real registry (issue 13, finding 9)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lgsp_cli.main import app
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.registry_testing import OPERATOR_TOKEN
from lgsp_devkit.testing import TopicFactory, serve
from lgsp_registry.main import create_app as create_registry
from lgsp_registry.settings import RegistrySettings

pytestmark = pytest.mark.kafka


async def cli(*args: str) -> tuple[int, str]:
    """Run the CLI in a thread (it runs its own event loop)."""
    result = await asyncio.to_thread(CliRunner(env={"COLUMNS": "200"}).invoke, app, list(args))
    return result.exit_code, result.output


async def test_tokens_are_issued_once_listed_and_revoked(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    registry = create_registry(
        RegistrySettings(
            kafka=kafka_settings,
            registry_topic=await topic_factory("registry", 1, **{"cleanup.policy": "compact"}),
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'registry.sqlite3'}",
            data_dir=tmp_path, operator_token=OPERATOR_TOKEN, publish_interval_s=0.1,
        )
    )  # fmt: skip
    async with serve(registry) as url:
        operator = ("tokens", "--url", url, "--token", OPERATOR_TOKEN)
        code, out = await cli(*operator, "issue", "--name", "Chủ tịch UBND", "--role", "viewer")
        assert code == 0, out
        token = re.search(r"\(shown once\): (lgsp_at_\S+)", out)
        token_id = re.search(r"^(at_[0-9a-f]+)\s+viewer", out, re.MULTILINE)
        assert token is not None and token_id is not None, out
        code, out = await cli(*operator, "list")
        assert code == 0 and f"{token_id.group(1)}  viewer    active" in out, out
        assert token.group(1) not in out  # never shown again
        as_viewer = ("tokens", "--url", url, "--token", token.group(1))
        code, out = await cli(*as_viewer, "issue", "--name", "x", "--role", "operator")
        assert code == 1 and "403" in out, out
        code, out = await cli(*operator, "revoke", token_id.group(1))
        assert code == 0 and "revoked" in out, out
        code, out = await cli(*operator, "list")
        assert "revoked" in out, out
        code, out = await cli(*operator, "issue", "--name", "x", "--role", "king")
        assert code == 2
