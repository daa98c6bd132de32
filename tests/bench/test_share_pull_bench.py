"""The share pull bench: its raw consumer has the options of the gateway's pooled readers, a
failed answer invalidates (the bench exits 1), the growth is saved in the --json output."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest
import share_pull_bench
import share_pull_clients
import share_pull_support
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from figures import finish

import lgsp_common.kafka
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.testing import serve
from lgsp_gateway.adapters.reader_pool import TopicFeed
from lgsp_gateway.api.records import next_link


class Recorder:
    """Stands in for AIOKafkaConsumer: keeps the options it was built with."""

    built: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, *topics: str, **options: Any) -> None:
        Recorder.built.append(options)


def test_the_raw_consumer_has_every_option_of_the_gateways_pooled_readers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Recorder.built = []
    monkeypatch.setattr(lgsp_common.kafka, "AIOKafkaConsumer", Recorder)
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:9")
    TopicFeed(kafka, "t", 2, "lgsp-gateway")._consumer()  # what a pooled reader is built with
    share_pull_support.raw_consumer(kafka, "bench-raw")
    service, raw = Recorder.built
    assert set(service) == set(raw)
    for name in service:  # field by field; only the client id differs
        if name != "client_id":
            assert raw[name] == service[name], name
    assert raw["group_id"] is None and raw["fetch_max_wait_ms"] == 100


def _fake_gateway(monkeypatch: pytest.MonkeyPatch, state: dict[str, Any]) -> None:
    """Answer every page with PAGE records (503 once `fail` is set); raw reads at 1000/s."""

    @asynccontextmanager
    async def reader(url: str, key: str) -> AsyncIterator[Any]:
        async def fetch(path: str, params: dict[str, Any]) -> tuple[int, bytes]:
            if state["fail"]:
                return 503, b'{"title": "unavailable"}'
            records = [{"id": str(n)} for n in range(share_pull_bench.PAGE)]
            return 200, json.dumps({"records": records, "next": "c"}).encode()

        yield fetch

    async def raw(kafka: Any, topic: str, count: int, readers: int = 1) -> float:
        return 1000.0 * readers

    monkeypatch.setattr(share_pull_clients, "_httpx_reader", reader)
    monkeypatch.setattr(share_pull_bench, "raw_throughput", raw)


def test_the_growth_is_saved_per_reader_count_with_the_raw_consumers_at_each(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_gateway(monkeypatch, {"fail": False})
    growth = share_pull_bench.readers_growth(None, "http://gw", "t", "k", 1000, 1, "httpx")  # type: ignore[arg-type]
    figure = share_pull_bench.throughput_figure([(600.0, 1000.0), (400.0, 1000.0)])
    assert figure.ratio == 0.5 and figure.met
    out = tmp_path / "pull.json"
    assert finish("share pull", [figure], out, [growth]) == 0
    (saved,) = json.loads(out.read_text())["growth"]
    assert saved["valid"] and saved["axis"] == "load" and saved["scale_unit"] == "readers"
    assert [p["scale"] for p in saved["points"]] == [1, 2, 4]
    assert [p["baseline"] for p in saved["points"]] == [1000.0, 2000.0, 4000.0]
    assert all(p["ratio"] and p["p99_ms"] is not None for p in saved["points"])


def test_a_failed_answer_invalidates_the_growth_and_the_bench_exits_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_gateway(monkeypatch, {"fail": True})
    growth = share_pull_bench.readers_growth(None, "http://gw", "t", "k", 1000, 1, "httpx")  # type: ignore[arg-type]
    assert not growth.valid and "503" in growth.points[0].note
    out = tmp_path / "pull.json"
    figure = share_pull_bench.throughput_figure([(600.0, 1000.0)])
    assert finish("share pull", [figure], out, [growth]) == 1
    assert json.loads(out.read_text())["growth"][0]["valid"] is False


def test_an_event_never_woken_invalidates_the_wake_up_figures() -> None:
    woke = share_pull_bench.Woken([1.0, 2.0, 30.0], sent=3)
    tailed = share_pull_bench.Woken([0.5, 1.0, 2.0], sent=3)
    p50, p99 = share_pull_bench.latency_figures(woke, tailed)
    assert p50.valid and p99.valid and p99.met and p99.baseline == 2.0
    _, p99 = share_pull_bench.latency_figures(share_pull_bench.Woken([1.0, 2.0], sent=3), tailed)
    assert not p99.valid and p99.errors == 1 and p99.met is False


async def test_the_ahead_client_follows_the_link_header_and_counts_only_200s() -> None:
    asked: list[str] = []
    app = FastAPI()

    @app.get("/v1/topics/{topic}/records")
    async def page(request: Request, position: str) -> Response:
        asked.append(position)
        if position == "p-3":
            return JSONResponse({"title": "unavailable"}, status_code=503)
        n = 0 if position == "earliest" else int(position[2:])
        records = [{"id": f"{n}-{i}"} for i in range(share_pull_bench.PAGE)]
        link = next_link(request.url.path, f"p-{n + 1}", share_pull_bench.PAGE, 1000)
        return JSONResponse({"records": records, "next": f"p-{n + 1}"}, headers={"link": link})

    async with serve(app) as url:
        pulled = await share_pull_clients.pull_throughput(url, "t", "k", 3 * 500, "ahead")
        assert pulled.records == 1500 and pulled.answers == 3 and len(pulled.latencies) == 3
        assert asked[:3] == ["earliest", "p-1", "p-2"]  # then p-3, asked ahead, never counted
        with pytest.raises(RuntimeError, match="answer 503"):
            await share_pull_clients.pull_throughput(url, "t", "k", 5 * 500, "ahead")
