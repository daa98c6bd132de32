"""Schemathesis against the registry's own OpenAPI, stateful phase on (issue 13, finding 10).

A throwaway registry in process (its own SQLite file, Kafka at a closed port: changes wait in
the outbox, nothing reaches any cluster), driven with the operator token: no 5xx, and every
status and content type it answers is the one its OpenAPI documents. The stateful phase runs
with schemathesis' link inference; the API declares no OpenAPI links yet, so chains that need
an id made by an earlier call stay few.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from schemathesis_run import run_schemathesis

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.kafka_local import free_port
from lgsp_devkit.testing import serve
from lgsp_registry.main import create_app
from lgsp_registry.settings import RegistrySettings

pytestmark = pytest.mark.slow
TOKEN = "schemathesis-operator-token-0123456789"


async def test_the_registry_answers_as_its_openapi_says(tmp_path: Path) -> None:
    settings = RegistrySettings(
        data_dir=tmp_path / "registry",
        operator_token=TOKEN,
        kafka=KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}"),
        publish_interval_s=60,
        traffic_check_timeout_s=1,
    )
    async with serve(create_app(settings)) as url:
        # /readyz answers 503 here by design (Kafka is down); the shared ops route documents
        # no 503 yet (lgsp_common/http.py), so it is left out of this run.
        status, text = await run_schemathesis(
            url, {"Authorization": f"Bearer {TOKEN}"}, tmp_path, max_examples=8, seed=13,
            extra=("--exclude-path", "/readyz"), timeout_s=110,
        )  # fmt: skip
    print(text[-2500:])
    assert status == 0, text[-8000:]
