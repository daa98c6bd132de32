"""Webhook subscriptions through `lgsp subscribe` against a registry over real HTTP and Kafka:
URL policy refusals, the secret shown once and never on `lgsp.registry` in clear.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from lgsp_cli.main import app as cli
from lgsp_common.settings import KafkaSettings
from lgsp_common.webhooks import SecretBox
from lgsp_devkit.inprocess import read_topic
from lgsp_devkit.registry_testing import OPERATOR_TOKEN, registry_topic
from lgsp_devkit.testing import TopicFactory, serve
from lgsp_registry.main import create_app
from lgsp_registry.settings import RegistrySettings

pytestmark = pytest.mark.kafka
KEY = "integration-registry-webhook-key"
TOPIC = "finance.budget-revenue.v1"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


async def subscribe(url: str, command: str) -> Result:
    """Run `lgsp subscribe <command>` in a thread (the served app runs on this loop)."""
    args = ["subscribe", "--url", url, "--token", OPERATOR_TOKEN, *shlex.split(command)]
    return await asyncio.to_thread(CliRunner().invoke, cli, args)


def printed(result: Result) -> Any:
    """Decode the JSON object a command printed before the secret's lines."""
    return json.loads(result.stdout.split("\nsigning secret")[0])


async def approved_consumer(url: str) -> None:
    """Register a department, its source and contract, and an approved consumer `thong-ke`."""
    async with httpx.AsyncClient(base_url=url, headers=OPERATOR) as http:
        for org, code in (("so-tai-chinh", "000.00.17.H03"), ("cuc-thong-ke", "000.00.19.H03")):
            body = {"id": org, "code": code, "name_vi": org, "name_en": org}
            assert (await http.post("/v1/organisations", json=body)).status_code == 201
        source = {"id": "stc", "organisation_id": "so-tai-chinh", "topic": TOPIC}
        source |= {"name": "stc", "cadence": "daily"}
        assert (await http.post("/v1/sources", json=source)).status_code == 201
        schema = {"type": "object", "properties": {"amount": {"type": "integer"}}}
        versions = f"/v1/subjects/{TOPIC}/versions"
        assert (await http.post(versions, json={"schema": schema})).status_code == 201
        consumer = {"id": "thong-ke", "organisation_id": "cuc-thong-ke", "topic": TOPIC}
        consumer |= {"purpose": "statistics", "fields": ["/amount"]}
        assert (await http.post("/v1/consumers", json=consumer)).status_code == 201
        assert (await http.post("/v1/consumers/thong-ke/approve")).status_code == 200
        refused = await http.post(
            "/v1/consumers/thong-ke/subscriptions", json={"url": "https://192.168.1.10/hook"}
        )
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["errors"][0]["pointer"] == "/url"


async def test_subscribe_commands_and_the_sealed_secret_on_the_change_log(
    kafka_settings: KafkaSettings, topic_factory: TopicFactory, tmp_path: Path
) -> None:
    topic = await registry_topic(topic_factory)
    settings = RegistrySettings(
        kafka=kafka_settings,
        registry_topic=topic,
        data_dir=tmp_path,
        operator_token=OPERATOR_TOKEN,
        require_examples=False,
        webhook_secrets_key=KEY,
        webhooks_allow_loopback=True,
    )
    async with serve(create_app(settings)) as url:
        await approved_consumer(url)
        refused = await subscribe(url, "create thong-ke --url http://10.0.0.8/in")
        assert refused.exit_code == 2 and "url_policy" in refused.output
        created = await subscribe(url, "create thong-ke --url http://127.0.0.1:9/in")
        assert created.exit_code == 0, created.output
        secret = created.stdout.split("signing secret: ")[1].split()[0]
        sub = printed(created)
        assert secret.startswith("whsec_") and "secret" not in sub
        listed = await subscribe(url, "list thong-ke")
        assert secret not in listed.stdout and sub["id"] in listed.stdout
        for command in ("pause", "resume"):
            done = await subscribe(url, f"{command} thong-ke {sub['id']}")
            assert done.exit_code == 0, done.output
        rotated = await subscribe(url, f"rotate thong-ke {sub['id']} --overlap 60")
        new_secret = rotated.stdout.split("signing secret: ")[1].split()[0]
        replayed = await subscribe(url, f"replay thong-ke {sub['id']} --offset 0=3 --offset 2=0")
        assert json.loads(replayed.stdout)["replay"]["offsets"] == {"0": 3, "2": 0}
        assert (await subscribe(url, f"replay thong-ke {sub['id']}")).exit_code == 2
        wanted = f"webhook_subscription:{sub['id']}"

        async def published() -> list[Any]:
            found = await read_topic(kafka_settings, topic)
            return [json.loads(r.value) for r in found if r.key == wanted.encode() and r.value]

        events: list[Any] = []
        deadline = asyncio.get_running_loop().time() + 30
        while len(events) < 5 and asyncio.get_running_loop().time() < deadline:
            events = await published()
        assert [e["version"] for e in events] == [1, 2, 3, 4, 5]
        text = json.dumps(events)
        for shown in (secret, new_secret):
            assert shown not in text and shown.removeprefix("whsec_") not in text
        box = SecretBox(KEY)
        assert [box.open(s["sealed"]) for s in events[3]["data"]["secrets"]] == [secret, new_secret]
        assert (await subscribe(url, f"delete thong-ke {sub['id']}")).exit_code == 0
