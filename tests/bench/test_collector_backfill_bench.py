"""The collector backfill bench: the plain consumer is the backfill's own, a KPI that misses an
event or a failed request invalidates its point (the bench exits 1), the growth is saved."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import collector_backfill_bench
import collector_backfill_support
import pytest
from figures import finish

from ioc_collector.settings import CollectorSettings
from ioc_collector.stream import backfill
from lgsp_common.settings import KafkaSettings


def test_the_plain_consumer_reads_as_the_backfill_does() -> None:
    assert collector_backfill_support.backfill_consumer is backfill.backfill_consumer
    settings = CollectorSettings(kafka=KafkaSettings(bootstrap_servers="127.0.0.1:9"))
    assert settings.backfill_max_batch == collector_backfill_support.FETCH_RECORDS


def test_a_point_counts_only_when_every_event_is_counted_and_no_request_failed() -> None:
    point = collector_backfill_bench.backfill_point(10_000, 2.0, 10_000, 20_000.0, 0)
    assert point.valid and point.value == 5000.0 and point.ratio == 0.25
    assert not collector_backfill_bench.backfill_point(10_000, 2.0, 9999, 20_000.0, 0).valid
    assert not collector_backfill_bench.backfill_point(10_000, 2.0, 10_000, 20_000.0, 1).valid


@pytest.mark.parametrize("short", [0, 1])
async def test_the_growth_is_saved_per_size_and_a_missed_event_exits_1(
    short: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pushed: list[str] = []

    async def timed_backfill(
        kafka: Any, http: Any, url: str, registry: str, kpi: dict[str, Any], most_s: float
    ) -> float:
        pushed.append(kpi["topic"])
        return 1.0

    async def history_total(http: Any, url: str, kpi_id: str) -> int:
        events = {"grow1": 1000, "grow2": 2000, "grow4": 4000}[kpi_id.split("-", maxsplit=1)[0]]
        return events - (short if kpi_id.startswith("grow4") else 0)

    async def traffic_until(run: Any, http: Any, done: asyncio.Event, *_: Any, **__: Any) -> None:
        await done.wait()

    for name, fake in (("timed_backfill", timed_backfill), ("history_total", history_total),
                       ("traffic_until", traffic_until)):  # fmt: skip
        monkeypatch.setattr(collector_backfill_bench, name, fake)
    sizes = {"history": 5000, "grow1": 1000, "grow2": 2000, "grow4": 4000}
    topics = {name: f"t-{name}" for name in sizes} | {"live": "t-live", "registry": "t-reg"}
    plain = {name: 10_000.0 * (n + 1) for n, name in enumerate(sizes)}
    growth = await collector_backfill_bench.backfill_growth(
        None,
        None,
        ("http://ioc", "http://gw"),
        topics,
        "k",
        100,
        sizes,
        plain,  # type: ignore[arg-type]
    )
    assert pushed == ["t-grow1", "t-grow2", "t-grow4"]
    out = tmp_path / "backfill.json"
    figure = collector_backfill_bench.Figure("backfill", 1.0, "events/s")
    assert finish("collector backfill", [figure], out, [growth]) == short
    (saved,) = json.loads(out.read_text())["growth"]
    assert [p["scale"] for p in saved["points"]] == [1000, 2000, 4000]
    assert [p["value"] for p in saved["points"]] == [1000.0, 2000.0, 4000.0]
    assert [p["baseline"] for p in saved["points"]] == [20_000.0, 30_000.0, 40_000.0]
    assert saved["valid"] is not bool(short)
