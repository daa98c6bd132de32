"""The gateway bench: its raw producer is configured exactly as the gateway's, errors count."""

from __future__ import annotations

from typing import Any, ClassVar

import gateway_bench
import pytest
from wrk_load import COUNTING, WrkResult, parse_result

import lgsp_common.kafka
from lgsp_common.settings import KafkaSettings
from lgsp_gateway.adapters.producer_options import gateway_producer
from lgsp_gateway.settings import GatewaySettings


class Recorder:
    """Stands in for AIOKafkaProducer: keeps the options it was built with."""

    built: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, **options: Any) -> None:
        Recorder.built.append(options)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    Recorder.built = []
    monkeypatch.setattr(lgsp_common.kafka, "AIOKafkaProducer", Recorder)
    monkeypatch.setattr(gateway_bench, "AIOKafkaProducer", Recorder)
    return Recorder.built


def test_the_raw_producer_has_every_option_of_the_gateways_events_producer(
    recorded: list[dict[str, Any]],
) -> None:
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:9")
    gateway_producer(GatewaySettings(kafka=kafka), "events")  # what bootstrap() builds
    gateway_bench.AIOKafkaProducer(**gateway_bench.raw_producer_options(kafka))
    service, raw = recorded
    assert set(service) == set(raw)
    for name in service:  # field by field; only the client id differs
        if name != "client_id":
            assert raw[name] == service[name], name
    assert raw["max_batch_size"] == 256 * 1024  # not aiokafka's 16 KiB default
    assert (raw["acks"], raw["enable_idempotence"]) == ("all", True)
    assert raw["client_id"] != service["client_id"]


def _wrk(ok: int, non2xx: int = 0, socket_errors: int = 0) -> WrkResult:
    return WrkResult(ok + non2xx, ok, non2xx, socket_errors, 10.0, 5.0, 20.0)


def test_only_2xx_answers_count_and_any_other_invalidates_the_figures() -> None:
    raw = gateway_bench.Sends(events=1000, elapsed=10.0, latencies=[1.0, 2.0])
    bulk = gateway_bench.Sends(events=2000, elapsed=10.0, latencies=[10.0])
    batch = gateway_bench.Sends(events=1500, elapsed=10.0, latencies=[20.0])
    clean = gateway_bench.figures(_wrk(60_000), raw, batch, bulk, 64, 500)
    assert all(f.valid for f in clean)
    assert clean[0].value == 6000.0 and clean[0].ratio == 60.0
    assert clean[3].ratio == 0.75 and clean[3].met
    dirty = gateway_bench.figures(_wrk(60_000, non2xx=1), raw, batch, bulk, 64, 500)
    assert not any(f.valid for f in dirty[:3])
    failed_batch = gateway_bench.Sends(events=1499, errors=1, elapsed=10.0, latencies=[1.0])
    assert not gateway_bench.figures(_wrk(10), raw, failed_batch, bulk, 64, 500)[3].valid


def test_the_audit_cost_compares_the_same_gateway_not_waiting_and_counts_only_2xx() -> None:
    raw = gateway_bench.Sends(events=1000, elapsed=10.0, latencies=[1.0, 2.0])
    bulk = gateway_bench.Sends(events=2000, elapsed=10.0, latencies=[10.0])
    batch = gateway_bench.Sends(events=1500, elapsed=10.0, latencies=[20.0])
    found = gateway_bench.figures(_wrk(1), raw, batch, bulk, 64, 500, (_wrk(45_000), _wrk(50_000)))
    cost = found[0]
    assert cost.name.startswith("audit's cost") and cost.valid
    assert cost.ratio == 0.9 and cost.met  # within 10%: met
    slower = gateway_bench.figures(
        _wrk(1), raw, batch, bulk, 64, 500, (_wrk(44_000), _wrk(50_000))
    )[0]
    assert not slower.met
    dirty = gateway_bench.figures(
        _wrk(1), raw, batch, bulk, 64, 500, (_wrk(45_000), _wrk(50_000, 0, 1))
    )
    assert not dirty[0].valid


def test_alternating_windows_add_up_to_one_figure() -> None:
    total = gateway_bench.summed([_wrk(10_000), _wrk(20_000, non2xx=2)])
    assert (total.ok, total.errors, total.seconds) == (30_000, 2, 20.0)
    assert total.rate == 1500.0


def test_the_wrk_script_counts_statuses_and_its_result_parses() -> None:
    assert "function response(status" in COUNTING
    found = parse_result(
        'x\nRESULT {"requests": 10, "ok": 8, "non2xx": 2, "socket_errors": 1, '
        '"seconds": 2.0, "p50": 1.5, "p99": 9.0}\n'
    )
    assert found.rate == 4.0
    assert found.errors == 3
    with pytest.raises(RuntimeError):
        parse_result("wrk crashed")


@pytest.mark.kafka
async def test_a_tiny_raw_baseline_runs_against_the_session_broker(
    kafka_settings: KafkaSettings, topic_factory: Any
) -> None:
    topic = await topic_factory("bench-raw", partitions=1)
    sends = await gateway_bench.raw_round_trips(kafka_settings, topic, 1, 4)
    assert sends.errors == 0 and sends.events > 0
    assert sends.p(0.99) is not None
