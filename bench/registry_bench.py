"""Registry benchmark: compatibility checks per second, and contract-by-id lookups per second.

Run: `uv run python bench/registry_bench.py [--seconds 3]`. Needs no Kafka (change events wait
in the outbox). Figures:

- compatibility checks/s of `tthc.dossier.v1` against a v2 that adds an optional field, in
  BACKWARD mode (latest version only) and FULL_TRANSITIVE (both directions, 3 versions), with
  the consumer-aware check of one approved consumer reading 4 fields;
- contract-by-id lookups/s: over HTTP (`GET /v1/contracts/{id}`, 16 concurrent requests from
  this process to a registry process of its own; one Python httpx client is itself near its
  limit here), in process through the service layer (one SQLite query each), and from a
  RegistryCopy (what services do on their hot path).

Growth (`growth.py`), on the data size axis: FULL_TRANSITIVE checks/s of a new version against
a history of 1x, 2x and 4x `--growth-versions` versions (each version adds an optional field),
each for `--seconds`; no baseline. The check reads every version of the history, so a
throughput falling as 1/x is the expected curve. `--no-growth` leaves it out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from figures import Figure, finish
from growth import Growth, Point, grow

from lgsp_cli.registry_client import RegistryClient
from lgsp_cli.registry_seed import default_seed_file, seed
from lgsp_common.registry_copy import RegistryCopy
from lgsp_common.settings import KafkaSettings, repo_root
from lgsp_devkit.kafka_local import free_port
from lgsp_registry.adapters.tables import outbox
from lgsp_registry.domain.compatibility import (
    CompatibilityMode,
    CompatibilityPolicy,
    ConsumerFields,
    check,
    check_consumers,
)
from lgsp_registry.main import create_app
from lgsp_registry.service import contracts
from lgsp_registry.settings import RegistrySettings

TOKEN = "bench-operator-token-0123456789"  # noqa: S105 - a throwaway local registry
NO_KAFKA = "127.0.0.1:9"  # the figures need no broker: events wait in the outbox
CONTRACT = repo_root() / "contracts" / "topics" / "tthc.dossier.v1" / "v1.schema.json"


def rate(seconds: float, step: Callable[[], object]) -> float:
    """Call `step` repeatedly for about `seconds`; return calls per second."""
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(50):
            step()
        count += 50
    return count / elapsed


async def arate(seconds: float, step: Callable[[], Awaitable[object]], workers: int = 1) -> float:
    """Run `step` in `workers` concurrent loops for about `seconds`; return calls per second."""
    count = 0
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            await step()
            count += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(workers)))
    return count / (time.perf_counter() - started)


def compatibility_figures(seconds: float) -> dict[str, float]:
    """Measure compatibility checks of a realistic contract."""
    v1: dict[str, Any] = json.loads(CONTRACT.read_text(encoding="utf-8"))
    v2 = copy.deepcopy(v1)
    v2["properties"]["note"] = {"type": "string", "maxLength": 500}
    v3 = copy.deepcopy(v2)
    v3["properties"]["channel_detail"] = {"type": "string"}
    reader = ConsumerFields(
        consumer_id="ioc", name="IOC", fields=["/status", "/channel", "/on_time", "/due_at"]
    )
    strict = CompatibilityPolicy.STRICT

    def backward() -> None:
        assert check(v2, [(1, v1)], CompatibilityMode.BACKWARD, strict).compatible

    def full_transitive() -> None:
        # Closed models: each added property breaks FORWARD, so this verdict lists reasons.
        history = [(1, v1), (2, v2)]
        assert not check(v3, history, CompatibilityMode.FULL_TRANSITIVE, strict).compatible

    def with_consumer() -> None:
        backward()
        assert not check_consumers(v2, [reader], previous=(1, v1))

    return {
        "compatibility checks/s (BACKWARD, 1 version)": rate(seconds, backward),
        "compatibility checks/s (FULL_TRANSITIVE, 2 versions)": rate(seconds, full_transitive),
        "compatibility + consumer checks/s (BACKWARD)": rate(seconds, with_consumer),
    }


def transitive_growth(seconds: float, base: int) -> Growth:
    """FULL_TRANSITIVE checks/s against histories of 1x, 2x and 4x `base` versions."""
    v1: dict[str, Any] = json.loads(CONTRACT.read_text(encoding="utf-8"))

    def point(versions: int) -> Point:
        history = [(1, v1)]
        for n in range(2, versions + 2):  # `versions` in the history, then the candidate
            nxt = copy.deepcopy(history[-1][1])
            nxt["properties"][f"note_{n}"] = {"type": "string", "maxLength": 500}
            history.append((n, nxt))
        *history, (_, candidate) = history

        def full_transitive() -> None:
            verdict = check(candidate, history, CompatibilityMode.FULL_TRANSITIVE,
                            CompatibilityPolicy.STRICT)  # fmt: skip
            assert not verdict.compatible  # closed models: each added field breaks FORWARD

        return Point(rate(seconds, full_transitive))

    return grow("compatibility checks/s (FULL_TRANSITIVE)", "/s", "data size",
                "versions", base, point)  # fmt: skip


async def copy_from_outbox(app: Any) -> RegistryCopy:
    """Fill a RegistryCopy from the change events waiting in the outbox."""
    registry = RegistryCopy(KafkaSettings(), client_id="bench")
    async with app.state.runtime.ctx.store.read() as conn:
        for row in await conn.execute(sa.select(outbox).order_by(outbox.c.seq)):
            payload = row.payload.encode() if row.payload is not None else None
            registry.apply(row.record_key.encode(), payload)
    return registry


@contextlib.contextmanager
def registry_process(data_dir: Path) -> Iterator[str]:
    """Run the registry in its own process (its own core); yields its URL."""
    port = free_port()
    env = {
        **os.environ,
        "LGSP_REGISTRY_PORT": str(port),
        "LGSP_REGISTRY_DATA_DIR": str(data_dir),
        "LGSP_REGISTRY_OPERATOR_TOKEN": TOKEN,
        "LGSP_REGISTRY_LOG_LEVEL": "ERROR",
        "KAFKA_BOOTSTRAP_SERVERS": NO_KAFKA,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "lgsp_registry"], env=env, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(30)


async def http_figure(seconds: float, url: str, ids: list[str]) -> float:
    """Measure GET /v1/contracts/{id} with 16 concurrent requests."""
    turn = itertools.count()
    async with httpx.AsyncClient(base_url=url) as http:

        async def over_http() -> None:
            response = await http.get(f"/v1/contracts/{ids[next(turn) % len(ids)]}")
            assert response.status_code == 200

        return await arate(seconds, over_http, 16)


async def in_process_figures(seconds: float, data_dir: Path, ids: list[str]) -> dict[str, float]:
    """Measure lookups through the service layer and from a RegistryCopy."""
    settings = RegistrySettings(
        data_dir=data_dir,
        operator_token=TOKEN,
        kafka=KafkaSettings(bootstrap_servers=NO_KAFKA),
        log_level="ERROR",
    )
    app = create_app(settings)
    turn = itertools.count()
    async with app.router.lifespan_context(app):

        async def in_process() -> None:
            await contracts.by_id(app.state.runtime.ctx, ids[next(turn) % len(ids)])

        registry = await copy_from_outbox(app)

        def from_copy() -> None:
            assert registry.contract_by_id(ids[next(turn) % len(ids)]) is not None

        return {
            "contract-by-id lookups/s in process (service + SQLite)": await arate(
                seconds, in_process
            ),
            "contract-by-id lookups/s from a RegistryCopy (memory)": rate(seconds, from_copy),
        }


def lookup_figures(seconds: float, data_dir: Path) -> dict[str, float]:
    """Measure contract-by-id lookups over HTTP, in process and from a RegistryCopy."""
    with registry_process(data_dir) as url:
        client = RegistryClient(url=url, token=TOKEN)
        seed(client, repo_root() / "contracts", default_seed_file())
        subjects = client.get("/v1/subjects")
        ids = [client.get(f"/v1/subjects/{s}/versions/latest")["id"] for s in subjects]
        figures = {
            "contract-by-id lookups/s over HTTP (16 concurrent)": asyncio.run(
                http_figure(seconds, url, ids)
            )
        }
    return figures | asyncio.run(in_process_figures(seconds, data_dir, ids))


def main() -> None:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="Duration of each figure.")
    parser.add_argument("--growth-versions", type=int, default=2, help="growth base")
    parser.add_argument("--growth", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--json", type=Path, help="write the figures here (run_all.py)")
    args = parser.parse_args()
    figures = compatibility_figures(args.seconds)
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as folder:
        figures |= lookup_figures(args.seconds, Path(folder))
    found = [Figure(name, value, "/s") for name, value in figures.items()]
    growth = [transitive_growth(args.seconds, args.growth_versions)] if args.growth else []
    sys.exit(finish("registry", found, args.json, growth))


if __name__ == "__main__":
    main()
