"""Two simulated consumer departments reading what the others publish, through the LGSP.

- Cục Thống kê tỉnh (provincial Statistics Office) reads `finance.budget-revenue.v1` by PULL,
  approved for the district, category, amount and date only (`official_statistics`).
- Sở Tư pháp (Department of Justice) reads the results of `tthc.dossier.v1` by WEBHOOK
  (`reuse_digitised_results`): it issues civil-status and judicial-record papers that citizens
  otherwise bring back to other counters, so it is the department that most reuses digitised
  TTHC results for "citizens provide papers only once" (chỉ cung cấp thông tin một lần).

Both are registered and approved through the registry's HTTP API with the operator token; the
webhook receiver listens on loopback (the platform must allow loopback URLs, as `lgsp dev up`
does). Nothing here imports a service.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from lgsp_cli.registry_client import RegistryClient
from lgsp_simulators.onboarding import ensure

STATISTICS = {
    "id": "cuc-thong-ke-tinh",
    "code": "000.00.50.H03",
    "name_vi": "Cục Thống kê tỉnh",
    "name_en": "Provincial Statistics Office",
}
JUSTICE = {
    "id": "so-tu-phap",
    "code": "000.00.16.H03",
    "name_vi": "Sở Tư pháp",
    "name_en": "Department of Justice",
}
REVENUE_TOPIC = "finance.budget-revenue.v1"
DOSSIER_TOPIC = "tthc.dossier.v1"
REVENUE_FIELDS = ["/record_id", "/district_code", "/category", "/amount_vnd", "/report_date"]
RESULT_FIELDS = ["/dossier_id", "/status", "/returned_at", "/on_time", "/result_digitised"]


@dataclass
class Reads:
    """What one consumer received: ids, field names seen, signature checks (webhooks)."""

    consumer_id: str
    topic: str
    transport: str
    approved: list[str]
    ids: list[str] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)
    verified: int = 0
    unverified: int = 0

    def add(self, record: dict[str, Any]) -> None:
        """Count one record (CloudEvent with `data`)."""
        self.ids.append(str(record.get("id")))
        data = record.get("data")
        if isinstance(data, dict):
            self.fields |= set(data)

    def document(self, expected: list[str]) -> dict[str, Any]:
        """Return the ground-truth entry: received against the accepted ids of the topic."""
        got = set(self.ids)
        return {"consumer": self.consumer_id, "topic": self.topic, "transport": self.transport,
                "approved_fields": self.approved, "fields_received": sorted(self.fields),
                "received": len(self.ids), "distinct": len(got), "expected": len(expected),
                "missing": sorted(set(expected) - got), "ids": sorted(got),
                "signatures": {"verified": self.verified, "failed": self.unverified}}  # fmt: skip


def register(client: RegistryClient, org: dict[str, Any], body: dict[str, Any]) -> str:
    """Create the organisation and the consumer, approve it (operator); return a new key."""
    organisation, _ = ensure(client, "/v1/organisations", org)
    consumer, _ = ensure(client, "/v1/consumers", {**body, "organisation_id": organisation["id"]})
    if consumer.get("status") != "approved":
        client.post(f"/v1/consumers/{body['id']}/approve")
    return str(client.post(f"/v1/consumers/{body['id']}/keys")["key"])


def subscribe(client: RegistryClient, consumer_id: str, url: str) -> str:
    """Replace the consumer's subscriptions by one to `url`; return its signing secret."""
    path = f"/v1/consumers/{consumer_id}/subscriptions"
    for old in client.get(path) or []:
        client.send("DELETE", f"{path}/{old['id']}")
    created = client.post(path, {"url": url, "description": "Sở Tư pháp: kết quả TTHC"})
    return str(created["secret"])


class Receiver:
    """The ASGI webhook endpoint: verifies each delivery, answers 204, counts by webhook-id."""

    def __init__(self, reads: Reads, secret: str) -> None:
        self.reads = reads
        self.webhook = Webhook(secret)
        self.seen: set[str] = set()

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
        try:
            record = self.webhook.verify(body, headers)
        except WebhookVerificationError:
            self.reads.unverified += 1
            status = 401
        else:
            self.reads.verified += 1
            status = 204
            if headers.get("webhook-id") not in self.seen:
                self.seen.add(headers.get("webhook-id", ""))
                self.reads.add(record if isinstance(record, dict) else {})
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


class _Server(uvicorn.Server):
    """A uvicorn server that leaves the signals to the simulator (it stops the receiver)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Sharing:
    """Both consumers for one run: `start()` after onboarding, `finish()` at the end."""

    def __init__(self, gateway_url: str, client: RegistryClient, port: int) -> None:
        self.gateway_url = gateway_url
        self.client = client
        self.port = port
        self.statistics = Reads("tk-thu-ngan-sach", REVENUE_TOPIC, "pull", REVENUE_FIELDS)
        self.justice = Reads("stp-tai-su-dung-ket-qua", DOSSIER_TOPIC, "webhook", RESULT_FIELDS)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._server: uvicorn.Server | None = None

    async def start(self) -> None:
        """Register both consumers, start the pull loop and the webhook receiver."""
        key = await asyncio.to_thread(register, self.client, STATISTICS, {
            "id": self.statistics.consumer_id, "topic": REVENUE_TOPIC,
            "purpose": "official_statistics", "fields": REVENUE_FIELDS,
            "name": "Thống kê thu ngân sách (budget revenue statistics)"})  # fmt: skip
        await asyncio.to_thread(register, self.client, JUSTICE, {
            "id": self.justice.consumer_id, "topic": DOSSIER_TOPIC,
            "purpose": "reuse_digitised_results", "fields": RESULT_FIELDS,
            "name": "Tái sử dụng kết quả TTHC (reuse of digitised results)"})  # fmt: skip
        url = f"http://127.0.0.1:{self.port}/lgsp/webhooks"
        secret = await asyncio.to_thread(subscribe, self.client, self.justice.consumer_id, url)
        config = uvicorn.Config(Receiver(self.justice, secret), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="off")  # fmt: skip
        self._server = _Server(config)
        self._tasks = [asyncio.create_task(self._server.serve()),
                       asyncio.create_task(self._pull(key))]  # fmt: skip

    async def _pull(self, key: str) -> None:
        path = f"/v1/topics/{REVENUE_TOPIC}/records"
        headers = {"X-API-Key": key}
        position = "committed"
        async with httpx.AsyncClient(base_url=self.gateway_url, timeout=40.0) as http:
            while not self._stop.is_set():
                params: dict[str, str | int] = {"position": position, "max_records": 500,
                                                "wait_ms": 1000}  # fmt: skip
                try:
                    answer = await http.get(path, params=params, headers=headers)
                except httpx.HTTPError:  # the gateway restarting: try again shortly
                    await asyncio.sleep(0.5)
                    continue
                if answer.status_code != 200:
                    await asyncio.sleep(0.5)
                    continue
                batch = answer.json()
                position = str(batch["next"])
                for record in batch["records"]:
                    self.statistics.add(record)
                if batch["records"]:
                    await http.put(f"{path}/committed", json={"cursor": position},
                                   headers=headers)  # fmt: skip

    async def finish(self, accepted: dict[str, list[str]], deadline_s: float = 60.0) -> None:
        """Wait (up to the deadline) until both have what was accepted, then stop them."""
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline_s
        for _ in range(int(deadline_s * 5) + 1):  # a condition polled, bounded by the deadline
            if loop.time() >= end or self.caught_up(accepted):
                break
            await asyncio.sleep(0.2)
        self._stop.set()
        serving, pulling = self._tasks or (None, None)
        if pulling is not None:
            pulling.cancel()  # a reader: nothing to lose, its position is committed as it goes
        if self._server is not None and serving is not None:
            self._server.should_exit = True
            await asyncio.wait([serving], timeout=3)
            self._server.force_exit = True  # idle keep-alive connections: do not wait for them
            await asyncio.wait([serving], timeout=2)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def caught_up(self, accepted: dict[str, list[str]]) -> bool:
        """Tell whether every accepted id of both topics was received."""
        return all(set(accepted.get(r.topic, [])) <= set(r.ids)
                   for r in (self.statistics, self.justice))  # fmt: skip

    def documents(self, accepted: dict[str, list[str]]) -> dict[str, Any]:
        """Return the `consumers` section of the ground truth."""
        return {r.consumer_id: r.document(accepted.get(r.topic, []))
                for r in (self.statistics, self.justice)}  # fmt: skip
