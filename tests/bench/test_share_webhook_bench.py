"""The share webhook bench: its raw consumer has the options of the worker's subscription
consumer, an undelivered event invalidates (the bench exits 1), the growth is saved in --json."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import share_webhook_bench
from figures import finish

from lgsp_common.kafka import consumer_options
from lgsp_common.settings import KafkaSettings
from lgsp_gateway.delivery.service import subscription_runner
from lgsp_gateway.delivery.settings import WebhookSettings


class Built(Exception):
    """Stops the runner once its consumer is built."""


async def test_the_raw_consumer_has_every_option_of_the_workers_subscription_consumer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def record(*args: Any, **overrides: Any) -> Any:
        calls.append((args, overrides))
        raise Built

    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:9")
    settings = WebhookSettings(kafka=kafka)
    monkeypatch.setattr(subscription_runner, "create_consumer", record)
    monkeypatch.setattr(share_webhook_bench, "create_consumer", record)
    plan: Any = SimpleNamespace(id="wh-1", topic="t")
    runner = subscription_runner.SubscriptionRunner(settings, plan, lambda: None, None, None)  # type: ignore[arg-type]
    with pytest.raises(Built):
        await runner.start()
    with pytest.raises(Built):
        share_webhook_bench.raw_consumer(kafka, "bench.raw.x", "t")
    (service_args, service_over), (raw_args, raw_over) = calls
    service = consumer_options(*service_args[:3], **service_over)
    raw = consumer_options(*raw_args[:3], **raw_over)
    assert set(service) == set(raw)
    for name in service:  # field by field; only the client id and the group differ
        if name not in {"client_id", "group_id"}:
            assert raw[name] == service[name], name
    assert raw["group_id"] and raw_args[3:] == ("t",)


def _hooks(rate: float, delivered: float, count: int) -> dict[str, float]:
    stats = {"count": delivered, "first": 10.0, "last": 10.0 + delivered / rate}
    return share_webhook_bench.delivered(stats, count, 0.001, 0.005)


def test_an_undelivered_event_invalidates_the_figure() -> None:
    figure = share_webhook_bench.deliveries_figure(10_000.0, _hooks(2500.0, 2000, 2000), 2000)
    assert figure.valid and figure.met and figure.ratio == pytest.approx(0.25)
    figure = share_webhook_bench.deliveries_figure(10_000.0, _hooks(2500.0, 1999, 2000), 2000)
    assert not figure.valid and figure.errors == 1 and figure.met is False


@pytest.mark.parametrize("missing", [0, 1])
async def test_the_growth_is_saved_per_size_and_a_missing_delivery_exits_1(
    missing: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async def one_run(
        kafka: Any, run: str, events: int, partitions: int, folder: Path
    ) -> tuple[float, dict[str, float]]:
        lost = missing if events == 2000 else 0
        return 9000.0, _hooks(3000.0, events - lost, events)

    monkeypatch.setattr(share_webhook_bench, "one_run", one_run)
    growth = await share_webhook_bench.events_growth(None, "r", 1000, 6, tmp_path)  # type: ignore[arg-type]
    out = tmp_path / "webhooks.json"
    figure = share_webhook_bench.deliveries_figure(9000.0, _hooks(3000.0, 1000, 1000), 1000)
    assert finish("share webhooks", [figure], out, [growth]) == missing
    (saved,) = json.loads(out.read_text())["growth"]
    assert saved["valid"] is not bool(missing) and saved["scale_unit"] == "events"
    assert [p["scale"] for p in saved["points"]] == [1000, 2000, 4000]
    assert [p["baseline"] for p in saved["points"]] == [9000.0] * 3
    assert saved["points"][1]["valid"] is not bool(missing)
