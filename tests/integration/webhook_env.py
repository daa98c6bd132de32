"""Shared parts of the webhook tests: a scripted receiver, registry entries, events, a worker.

The receiver is a real HTTP server on loopback (uvicorn) whose answers follow a script; it
verifies every request's signatures with the `standardwebhooks` library as it arrives. The
registry's side is written straight onto a per-test registry topic, as the registry publishes it
(secrets sealed with the shared key), so these tests need no registry process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn
from aiokafka import AIOKafkaProducer
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from lgsp_common.envelope import CloudEvent, to_kafka
from lgsp_common.settings import KafkaSettings
from lgsp_common.webhooks import SecretBox, new_signing_secret
from lgsp_devkit.kafka_local import free_port
from lgsp_devkit.testing import publish_registry_changes

SECRETS_KEY = "integration-webhook-secrets-key"
FIELDS = ["/district", "/amount_vnd", "/seq", "/key"]
Script = Callable[[int], tuple[int, dict[str, str]]]


def always(status: int) -> Script:
    """Answer every request with one status."""
    return lambda _n: (status, {})


@dataclass
class Received:
    """One request the receiver got, and what it answered."""

    at: float
    webhook_id: str
    event: dict[str, Any]
    signatures: int
    verified: bool
    status: int


@dataclass
class Receiver:
    """An ASGI webhook receiver answering by script, verifying each request's signatures."""

    secrets: list[str]
    script: Script
    got: list[Received] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        status, extra = self.script(len(self.got))
        self.got.append(
            Received(
                time.monotonic(),
                headers.get("webhook-id", ""),
                orjson.loads(body),
                len(headers.get("webhook-signature", "").split()),
                self.verify(body, headers),
                status,
            )
        )
        answer = [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": answer})
        await send({"type": "http.response.body", "body": b""})

    def verify(self, body: bytes, headers: dict[str, str]) -> bool:
        """Tell whether every secret verifies the request on its own."""
        try:
            for secret in self.secrets:
                Webhook(secret).verify(body, headers)
        except WebhookVerificationError:
            return False
        return True

    def acked(self) -> list[Received]:
        """Return the requests answered with a 2xx."""
        return [r for r in self.got if 200 <= r.status < 300]


@contextlib.asynccontextmanager
async def serving(app: Any, port: int) -> AsyncIterator[uvicorn.Server]:
    """Serve an ASGI app on a loopback port for the block; yield the server."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn has no start event)
        await asyncio.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        await task


def sealed(secret: str, expires_at: str | None = None) -> dict[str, Any]:
    """A secret as the registry publishes it."""
    now = datetime.now(UTC).isoformat()
    return {
        "sealed": SecretBox(SECRETS_KEY).seal(secret),
        "created_at": now,
        "expires_at": expires_at,
    }


def consumer(consumer_id: str, topic: str, status: str = "approved") -> dict[str, Any]:
    """A consumer entity."""
    return {
        "id": consumer_id,
        "organisation_id": "cuc-thong-ke",
        "topic": topic,
        "purpose": "statistics",
        "fields": FIELDS,
        "name": consumer_id,
        "status": status,
    }


def subscription(
    sub_id: str, consumer_id: str, topic: str, url: str, **extra: Any
) -> dict[str, Any]:
    """A webhook subscription entity (one fresh secret unless `secrets` is given)."""
    return {
        "id": sub_id,
        "consumer_id": consumer_id,
        "topic": topic,
        "url": url,
        "status": "active",
        "secrets": [],
        "replay": None,
        "created_at": datetime.now(UTC).isoformat(),
        **extra,
    }


async def put(
    kafka: KafkaSettings,
    registry_topic: str,
    kind: str,
    data: dict[str, Any] | None,
    entity_id: str,
) -> None:
    """Publish one registry change."""
    await publish_registry_changes(kafka, registry_topic, [(kind, entity_id, data)])


async def publish(
    kafka: KafkaSettings,
    topic: str,
    count: int,
    keys: int = 6,
    pace_s: float = 0.0,
    partition: Callable[[int], int | None] = lambda _n: None,
) -> list[str]:
    """Produce `count` events (keys k0..k<keys-1>, `seq` growing per key); return their ids."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()
    ids = []
    try:
        for n in range(count):
            key = f"k{n % keys}"
            data = {
                "district": "748",
                "amount_vnd": 1000 + n,
                "taxpayer_name": "Nguyễn Văn A",
                "seq": n,
                "key": key,
            }
            event = CloudEvent(
                source="/sources/stc", type="vn.gov.lgsp.test", subject=key, data=data
            )
            record = to_kafka(event, key, {})
            await producer.send_and_wait(
                topic, record.value, key=record.key, headers=record.headers, partition=partition(n)
            )
            ids.append(event.id)
            if pace_s:
                await asyncio.sleep(pace_s)
    finally:
        await producer.stop()
    return ids


def new_secret() -> str:
    """A signing secret as the registry makes them."""
    return new_signing_secret()


async def until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Wait for a condition, failing with `what` after the deadline."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class WorkerProcess:
    """A delivery worker started as its own process (`python -m lgsp_gateway.delivery`)."""

    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    port: int = 0

    def start(self) -> None:
        """Start the process."""
        self.port = free_port()
        env = {**os.environ, **self.env, "LGSP_WEBHOOKS_PORT": str(self.port)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lgsp_gateway.delivery"],
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    async def ready(self, timeout_s: float = 60) -> None:
        """Wait until /readyz answers 200."""
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                assert self.process is not None and self.process.poll() is None, (
                    self.log.read_text()[-3000:]
                )
                with contextlib.suppress(httpx.HTTPError):
                    if (
                        await client.get(f"http://127.0.0.1:{self.port}/readyz")
                    ).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise AssertionError("worker not ready:\n" + self.log.read_text()[-3000:])
                await asyncio.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL the process."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def terminate(self) -> None:
        """Stop the process cleanly (SIGTERM, then SIGKILL after 20 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def idle(server: uvicorn.Server) -> bool:
    """Tell whether the server holds no connection and runs no request: all it got is handled."""
    return not server.server_state.connections and not server.server_state.tasks


def worker_env(kafka: KafkaSettings, topics: dict[str, str], **settings: str) -> dict[str, str]:
    """The environment of a worker on the test's topics, delivering to loopback."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "LGSP_WEBHOOK_SECRETS_KEY": SECRETS_KEY,
        "LGSP_WEBHOOKS_ALLOW_LOOPBACK": "true",
        "LGSP_WEBHOOKS_REGISTRY_TOPIC": topics["registry"],
        "LGSP_WEBHOOKS_AUDIT_TOPIC": topics["audit"],
        "LGSP_WEBHOOKS_DLQ_TOPIC": topics["dlq"],
        "LGSP_WEBHOOKS_SESSION_TIMEOUT_S": "6",
        "LGSP_WEBHOOKS_LOG_JSON": "false",
    }
    env.update({f"LGSP_WEBHOOKS_{k.upper()}": v for k, v in settings.items()})
    return env


async def make_topics(factory: Callable[..., Awaitable[str]]) -> dict[str, str]:
    """Create the registry, audit and DLQ topics of one test."""
    return {
        "registry": await factory("reg", 1),
        "audit": await factory("audit", 1),
        "dlq": await factory("whdlq", 1),
    }
