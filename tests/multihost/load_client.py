"""The load client host's program: publish distinct events through two gateways, failing over.

Run inside the client's namespace by the multi-host suite:
`python load_client.py --gateway URL --gateway URL --key KEY --label L --out answers.jsonl`.
Starts one event every 1/rate seconds, alternating gateways. An event that gets no answer
(connection error, the client's timeout) or a 503 is sent again with the same `ce-id` to the
other gateway (the gateway documents that as safe); a gateway that did not answer is skipped
for a few seconds. Every attempt is a JSON line in `--out` (written as it ends, monotonic
clock: the suite compares times across processes). SIGTERM: start no new event, settle those
under way, write `{"end": true}` and exit. `--submitted-at` sets every event's time (the
collector suite gives each fault's run a window of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
import uuid
from dataclasses import dataclass, field
from typing import IO, Any

import httpx

TOPIC = "tthc.dossier.v1"
SOURCE = "dvc-ho-so-tthc"
EVENT_TYPE = "vn.gov.lgsp.tthc.dossier.submitted"
PAYLOAD = {
    "procedure_code": "1.001612",
    "agency_code": "000.22.20.H03",
    "district_code": "748",
    "level": "province",
    "status": "submitted",
    "channel": "online",
    "submitted_at": "2024-10-01T08:00:00+07:00",
    "due_at": "2024-10-08T17:00:00+07:00",
    "paid_online": True,
}
SKIP_SILENT_S = 5.0  # how long a gateway that did not answer is left out
GIVE_UP_S = 150.0  # an event not acknowledged by then is reported unacknowledged


@dataclass
class Client:
    """Publishes until stopped; keeps which gateway is currently silent."""

    gateways: list[str]
    key: str
    label: str
    out: IO[str]
    rate: float
    timeout_s: float
    submitted_at: str = str(PAYLOAD["submitted_at"])  # the event time (a KPI's window)
    silent_until: dict[str, float] = field(default_factory=dict)
    running: bool = True

    def pick(self, n: int, avoid: str | None) -> str:
        """Return the n-th event's gateway: round robin, skipping a silent or just-failed one."""
        now = time.monotonic()
        order = self.gateways[n % 2 :] + self.gateways[: n % 2]
        usable = [g for g in order if self.silent_until.get(g, 0.0) <= now and g != avoid]
        return (usable or [g for g in order if g != avoid] or order)[0]

    def write(self, **line: Any) -> None:
        """Append one JSON line and flush it (the suite reads the file while we run)."""
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()

    async def publish(self, http: httpx.AsyncClient, n: int) -> None:
        """Publish event n until a 202 or a 4xx, failing over between the gateways."""
        ce_id = f"{self.label}-{n:06d}-{uuid.uuid4().hex[:8]}"
        body = PAYLOAD | {
            "dossier_id": f"MH-{self.label}-{n:06d}",
            "submitted_at": self.submitted_at,
        }
        headers = {
            "content-type": "application/json",
            "x-api-key": self.key,
            "ce-specversion": "1.0",
            "ce-id": ce_id,
            "ce-source": f"/sources/{SOURCE}",
            "ce-type": EVENT_TYPE,
        }
        first, avoid = time.monotonic(), None
        while time.monotonic() - first < GIVE_UP_S:
            gateway = self.pick(n, avoid)
            sent = time.monotonic()
            try:
                reply = await http.post(
                    f"{gateway}/v1/topics/{TOPIC}/events", json=body, headers=headers
                )
                status, retry_after = reply.status_code, reply.headers.get("retry-after")
            except httpx.HTTPError:
                status, retry_after = 0, None
                self.silent_until[gateway] = time.monotonic() + SKIP_SILENT_S
            self.write(ce_id=ce_id, gw=gateway, sent=sent, done=time.monotonic(), status=status)
            if status == 202 or 400 <= status < 500:
                return
            avoid = gateway  # the other gateway next; back to this one only if it is alone
            await asyncio.sleep(min(1.0, float(retry_after or 0.2)))

    async def run(self) -> None:
        """Start one event every 1/rate seconds until stopped; then settle what is under way."""
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        async with httpx.AsyncClient(timeout=self.timeout_s, limits=limits) as http:
            tasks: set[asyncio.Task[None]] = set()
            started, n = time.monotonic(), 0
            while self.running:
                task = asyncio.create_task(self.publish(http, n))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                n += 1
                await asyncio.sleep(max(0.0, started + n / self.rate - time.monotonic()))
            await asyncio.gather(*list(tasks))
        self.write(end=True, events=n)


def main() -> None:
    """Parse the arguments and publish until SIGTERM."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", action="append", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--submitted-at", default=str(PAYLOAD["submitted_at"]))
    args = parser.parse_args()
    with open(args.out, "a", encoding="utf-8") as out:
        client = Client(
            args.gateway, args.key, args.label, out, args.rate, args.timeout, args.submitted_at
        )

        async def serve() -> None:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, lambda: setattr(client, "running", False))
            await client.run()

        asyncio.run(serve())


if __name__ == "__main__":
    main()
