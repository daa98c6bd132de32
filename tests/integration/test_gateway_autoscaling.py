"""The per-source rate limit holds for the sum of the replicas while their number changes.

Real gateway processes (`python -m lgsp_gateway`) on the session's broker, each one a member of
the replicas' group (the default one, `lgsp-gateway-replicas.<registry topic>`: the test's own
registry topic keeps it apart from every other test's gateways). The first replica runs two
worker processes, so it also shows that the group counts replicas, not workers. A load
balancer in the test spreads one source's requests evenly over the live replicas, each offered
twice the whole limit, open loop on keep-alive connections (steady overload in every phase: the
test checks that every replica was sent more than 1.2 times its share). Replicas go 1 → 3 (two
processes started) → 2 (one stopped gracefully, out of the balancer first). After each change
the test waits until every live replica's `gateway_replicas` gauge shows the new count, then
counts the 202s over a window: their rate must be within 10% of the limit in every phase.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_env import VALID, headers, registry_entities

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.kafka_local import free_port
from lgsp_devkit.testing import TopicFactory, new_api_key, publish_registry_changes

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

LIMIT, BURST = 30.0, 6.0  # events/s and bucket size of the source, cluster-wide
OFFERED = 2 * LIMIT  # requests/s sent to each live replica: over its share in every phase
IN_FLIGHT = 16  # requests in flight per replica at most (keep-alive connections)
WINDOW_S = 10.0  # how long each phase is counted once it settled
TOLERANCE = 0.10


def gauge(text: str, name: str) -> float | None:
    """Return the value of an unlabelled gauge in a /metrics text (None when absent)."""
    match = re.search(rf"^{name}(?:\{{\}})? (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


@dataclass
class Replica:
    """One gateway process, its URL and the load lanes sending to it."""

    name: str
    process: Any
    url: str
    log: Path
    lanes: list[asyncio.Task[None]] = field(default_factory=list)

    async def replicas(self) -> float | None:
        """Return the replica count the gateway divides its limits by (its gauge)."""
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            return gauge((await http.get("/metrics")).text, "gateway_replicas")


class Cluster:
    """Gateway processes started and stopped by the test, and the balancer's load on them."""

    def __init__(self, env: dict[str, str], topic: str, key: str, logs: Path) -> None:
        self.env, self.topic, self.key, self.logs = env, topic, key, logs
        self.live: list[Replica] = []
        self.answers: list[tuple[float, str, int]] = []  # (monotonic time, replica, status)

    async def start(self, name: str, workers: int = 1) -> Replica:
        """Start a gateway process and wait until it is ready; the balancer then sends to it."""
        port = free_port()
        log = self.logs / f"{name}.log"
        env = os.environ | self.env | {"LGSP_GATEWAY_PORT": str(port)}
        env |= {"LGSP_GATEWAY_WORKERS": str(workers), "LGSP_GATEWAY_INSTANCE_ID": name}
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "lgsp_gateway", env=env, stdout=out, stderr=out
            )
        replica = Replica(name, process, f"http://127.0.0.1:{port}", log)
        try:
            async with httpx.AsyncClient(base_url=replica.url) as http, asyncio.timeout(120):
                while True:
                    assert process.returncode is None, log.read_text(errors="replace")
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get("/readyz")).status_code == 200:
                            break
                    await asyncio.sleep(0.2)
        except BaseException:
            await self._terminate(replica)
            raise
        replica.lanes = [asyncio.create_task(self._load(replica))]
        self.live.append(replica)
        return replica

    async def stop(self, replica: Replica) -> None:
        """Take a replica out of the balancer, then stop it gracefully (SIGTERM)."""
        self.live.remove(replica)
        await self._quiet(replica)
        await self._terminate(replica)
        # uvicorn ends a graceful shutdown by re-raising the signal it was stopped with
        assert replica.process.returncode in (0, -15), replica.log.read_text(errors="replace")
        assert "Application shutdown complete" in replica.log.read_text(errors="replace")

    async def close(self) -> None:
        """Stop every replica still running."""
        for replica in list(self.live):
            self.live.remove(replica)
            await self._quiet(replica)
            await self._terminate(replica)

    async def _quiet(self, replica: Replica) -> None:
        for lane in replica.lanes:
            lane.cancel()
        await asyncio.gather(*replica.lanes, return_exceptions=True)

    @staticmethod
    async def _terminate(replica: Replica) -> None:
        if replica.process.returncode is None:
            replica.process.terminate()
            async with asyncio.timeout(90):
                await replica.process.wait()

    async def _load(self, replica: Replica) -> None:
        """Send single events to one replica at OFFERED per second, whatever the answers' delay
        (open loop, up to IN_FLIGHT at once), keeping the pace without catching up."""
        interval = 1 / OFFERED
        limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
        slots = asyncio.Semaphore(IN_FLIGHT)
        async with (
            httpx.AsyncClient(base_url=replica.url, timeout=30, limits=limits) as http,
            asyncio.TaskGroup() as sending,
        ):
            due = time.monotonic()
            while True:
                await slots.acquire()
                sending.create_task(self._send(http, replica, slots))
                due = max(due + interval, time.monotonic() - interval)
                await asyncio.sleep(max(0.0, due - time.monotonic()))

    async def _send(
        self, http: httpx.AsyncClient, replica: Replica, slots: asyncio.Semaphore
    ) -> None:
        try:
            answer = await http.post(
                f"/v1/topics/{self.topic}/events", json=VALID, headers=headers(self.key)
            )
            status = answer.status_code
        except httpx.HTTPError:
            status = 0  # counted as neither 202 nor 429: fails the test
        finally:
            slots.release()
        self.answers.append((time.monotonic(), replica.name, status))

    async def settle(self, count: int) -> float:
        """Wait until every live replica divides by `count`; return how long that took."""
        started = time.monotonic()
        async with asyncio.timeout(60):
            while True:
                seen = [await replica.replicas() for replica in self.live]
                if seen == [count] * len(self.live):
                    return time.monotonic() - started
                await asyncio.sleep(0.2)

    async def measure(self, phase: str, settled: float) -> dict[str, Any]:
        """Count the answers of the next WINDOW_S seconds."""
        start = time.monotonic()
        await asyncio.sleep(WINDOW_S)  # the window itself: a rate needs a length of time
        end = time.monotonic()
        window = [(name, status) for t, name, status in self.answers if start <= t < end]
        names = [replica.name for replica in self.live]
        per_replica = {n: sum(1 for name, _ in window if name == n) / WINDOW_S for n in names}
        statuses = [status for _, status in window]
        return {
            "phase": phase,
            "replicas": len(names),
            "settle_s": settled,
            "offered": len(window) / WINDOW_S,
            "offered_min": min(per_replica.values()),
            "accepted": statuses.count(202) / WINDOW_S,
            "limited": statuses.count(429) / WINDOW_S,
            "other": len(statuses) - statuses.count(202) - statuses.count(429),
        }


def table(rows: list[dict[str, Any]]) -> str:
    """Return the phases as a small text table."""
    lines = [
        f"limit {LIMIT:.0f} events/s (burst {BURST:.0f}), {OFFERED:.0f} requests/s offered per "
        f"replica, {WINDOW_S:.0f} s window per phase",
        "phase   replicas  change took  count settled  offered/s  202/s  429/s  202/s vs limit",
    ]
    for row in rows:
        lines.append(
            f"{row['phase']:<7} {row['replicas']:>8}  {row['change_s']:>9.1f} s  "
            f"{row['settle_s']:>11.1f} s  "
            f"{row['offered']:>9.0f}  {row['accepted']:>5.1f}  {row['limited']:>5.0f}  "
            f"{100 * (row['accepted'] / LIMIT - 1):>+13.1f}%"
        )
    return "\n".join(lines)


@pytest.fixture
async def setting(kafka_settings: KafkaSettings, topic_factory: TopicFactory) -> dict[str, Any]:
    """Create the test's topics and registry (sources, contract, keys); return its settings."""
    registry = await topic_factory("registry", 1, **{"cleanup.policy": "compact"})
    topic, other = await topic_factory("tthc"), await topic_factory("other")
    dlq, audit = await topic_factory("dlq"), await topic_factory("audit")
    keys = {name: new_api_key()[1] for name in ("main", "other", "revoked")}
    await publish_registry_changes(kafka_settings, registry, registry_entities(topic, other, keys))
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "LGSP_GATEWAY_REGISTRY_TOPIC": registry,
        "LGSP_GATEWAY_DLQ_TOPIC": dlq,
        "LGSP_GATEWAY_AUDIT_TOPIC": audit,
        "LGSP_GATEWAY_RATE_LIMIT_PER_SOURCE": str(LIMIT),
        "LGSP_GATEWAY_RATE_LIMIT_BURST": str(BURST),
        "LGSP_GATEWAY_LOG_LEVEL": "INFO",
        "LGSP_GATEWAY_LOG_JSON": "false",
        # The defaults, whatever the environment says: REPLICAS only until the group answers.
        "LGSP_GATEWAY_REPLICAS": "1",
        "LGSP_GATEWAY_REPLICA_GROUP": "",
        "LGSP_GATEWAY_REPLICA_MEMBERSHIP": "true",
    }
    return {"env": env, "topic": topic, "key": keys["main"]}


async def test_the_limit_holds_for_the_sum_of_the_replicas_as_they_go_1_3_2(
    setting: dict[str, Any], tmp_path: Path
) -> None:
    cluster = Cluster(setting["env"], setting["topic"], setting["key"], tmp_path)
    rows = []
    try:
        async with asyncio.timeout(240):  # about 50 s on an idle box
            for phase, count in (("1", 1), ("1 -> 3", 3), ("3 -> 2", 2)):
                changed = time.monotonic()
                if count == 1:
                    await cluster.start("gw-a", workers=2)  # one member, two workers
                elif count == 3:
                    await asyncio.gather(cluster.start("gw-b"), cluster.start("gw-c"))
                else:
                    await cluster.stop(cluster.live[-1])
                done = time.monotonic()  # ready, or stopped
                settled = await cluster.settle(count)
                row = await cluster.measure(phase, settled)
                rows.append(row | {"change_s": done - changed})
    finally:
        await cluster.close()
    report = table(rows)
    print("\n" + report)

    for row in rows:
        assert row["other"] == 0, report  # only 202s and 429s: nothing failed
        share = LIMIT / row["replicas"]
        assert row["offered_min"] > 1.2 * share, report  # every replica was overloaded
        assert abs(row["accepted"] - LIMIT) <= TOLERANCE * LIMIT, report
    log = (tmp_path / "gw-a.log").read_text(errors="replace")
    changes = re.findall(r"replica count changed from (\d+) to (\d+)", log)
    assert changes and changes[-1] == ("3", "2"), changes  # and said so in its log
