"""Schemathesis against the registry's own OpenAPI, stateful phase on (issue 13, finding 10).

A throwaway registry in process (its own SQLite file, Kafka at a closed port: changes wait in
the outbox, nothing reaches any cluster), driven with the operator token: no 5xx, and every
status and content type it answers is the one its OpenAPI documents. The stateful phase runs
with schemathesis' link inference; the API declares no OpenAPI links yet, so chains that need
an id made by an earlier call stay few.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.kafka_local import free_port
from lgsp_devkit.testing import serve
from lgsp_registry.main import create_app
from lgsp_registry.settings import RegistrySettings

pytestmark = pytest.mark.slow
TOKEN = "schemathesis-operator-token-0123456789"
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance"
)


async def test_the_registry_answers_as_its_openapi_says(tmp_path: Path) -> None:
    settings = RegistrySettings(
        data_dir=tmp_path / "registry",
        operator_token=TOKEN,
        kafka=KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}"),
        publish_interval_s=60,
        traffic_check_timeout_s=1,
    )
    async with serve(create_app(settings)) as url:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{url}/openapi.json",
            "--checks",
            CHECKS,
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--max-examples",
            "8",
            "--seed",
            "13",
            "--request-timeout",
            "15",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            # /readyz answers 503 here by design (Kafka is down); the shared ops route documents
            # no 503 yet (lgsp_common/http.py), so it is left out of this run.
            "--exclude-path",
            "/readyz",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 110)
    text = output.decode(errors="replace")
    print(text[-2500:])
    assert process.returncode == 0, text[-8000:]
