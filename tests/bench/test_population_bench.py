"""The population bench: disjoint ids per scenario (a cold cache is cold), no wrapped ids, and
only 2xx answers count."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import population_bench
import pytest
from wrk_load import WrkResult

from lgsp_common.settings import KafkaSettings
from lgsp_simulators.national_population.generator import generate_citizens


def _fake_wrk(requests: int, ok: int) -> Any:
    def run(*_: Any, **__: Any) -> WrkResult:
        return WrkResult(requests, ok, requests - ok, 0, 10.0, 1.0, 2.0)

    return run


def test_a_run_that_would_repeat_an_id_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bodies = tmp_path / "cold.jsonl"
    bodies.write_text("{}\n" * 100)
    monkeypatch.setattr(population_bench, "run_wrk", _fake_wrk(101, 101))
    assert population_bench.wrk("cold", "u", bodies, 1, 1, distinct=True).errors == 1
    assert population_bench.wrk("warm", "u", bodies, 1, 1, distinct=False).errors == 0
    monkeypatch.setattr(population_bench, "run_wrk", _fake_wrk(50, 49))
    assert population_bench.wrk("x", "u", bodies, 1, 1, distinct=True).errors == 1


def test_baseline_cold_and_warm_read_disjoint_citizens(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, set[str]] = {}

    def record(name: str, url: str, bodies: Path, *_: Any, **__: Any) -> Any:
        seen[name] = {json.loads(line)["cccd"] for line in bodies.read_text().splitlines()}
        return population_bench.Result(name, 1, 1.0, 1.0, 1.0, 0)

    async def no_warm_up(*_: Any) -> None:
        return None

    monkeypatch.setattr(population_bench, "wrk", record)
    monkeypatch.setattr(population_bench, "warm_up", no_warm_up)
    citizens = list(generate_citizens(population_bench.SEED, 3000))
    population_bench.measure("http://up", "http://ad", citizens, 1, 1)
    base, cold = seen["upstream alone (baseline)"], seen["adapter, cold cache"]
    warm = seen["adapter, warm cache"]
    assert base and cold and warm
    assert not base & cold and not base & warm and not cold & warm


def test_the_figures_compare_cold_with_the_upstream_and_any_error_invalidates() -> None:
    results = [
        population_bench.Result("base", 100, 2000.0, 5.0, 50.0, 0),
        population_bench.Result("cold", 100, 1200.0, 9.0, 80.0, 0),
        population_bench.Result("warm", 100, 6000.0, 2.0, 8.0, 1),
    ]
    _, cold, _, warm, warm_p99 = population_bench.population_figures(results)
    assert cold.ratio == 0.6 and cold.met
    assert not warm.valid and warm.met is False and not warm_p99.valid


def test_the_gateway_window_reads_the_warm_ids_last(monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    seen: dict[str, str] = {}

    def record(name: str, url: str, bodies: Path, *_: Any, **__: Any) -> Any:
        order.append(name)
        seen[name] = bodies.read_text()
        return population_bench.Result(name, 1, 1.0, 1.0, 1.0, 0)

    def through(bodies: Path) -> Any:
        order.append("gateway")
        seen["gateway"] = bodies.read_text()
        return population_bench.Result("gateway", 1, 1.0, 1.0, 1.0, 0)

    async def no_warm_up(*_: Any) -> None:
        return None

    monkeypatch.setattr(population_bench, "wrk", record)
    monkeypatch.setattr(population_bench, "warm_up", no_warm_up)
    citizens = list(generate_citizens(population_bench.SEED, 3000))
    results = population_bench.measure("http://up", "http://ad", citizens, 1, 1, through)
    assert order[-1] == "gateway" and len(results) == 4 and results[-1].name == "gateway"
    assert seen["gateway"] == seen["adapter, warm cache"]  # the same warm bodies, same ids


def test_the_gateway_requests_carry_the_consumer_key_not_the_shared_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[tuple[str, list[str]]] = []

    def run(url: str, script: str, seconds: float, connections: int, args: list[str]) -> Any:
        calls.append((script, args))
        return WrkResult(10, 10, 0, 0, 1.0, 1.0, 2.0)

    bodies = tmp_path / "hot.jsonl"
    bodies.write_text("{}\n" * 10)
    monkeypatch.setattr(population_bench, "run_wrk", run)
    population_bench.wrk("gw", "u", bodies, 1, 4, distinct=False, key="lgsp_k_secret")
    population_bench.wrk("ad", "u", bodies, 1, 4, distinct=False)
    (gateway, gateway_args), (adapter, adapter_args) = calls
    assert '["X-API-Key"] = args[3]' in gateway and "X-LGSP-Gateway-Token" not in gateway
    assert gateway_args[2] == "lgsp_k_secret" and population_bench.TOKEN not in gateway_args
    assert '["X-LGSP-Gateway-Token"] = args[3]' in adapter and "X-API-Key" not in adapter
    assert adapter_args[2] == population_bench.TOKEN
    assert gateway_args[3] == adapter_args[3] == population_bench.PURPOSE


def _results(warm_errors: int, gateway: Any) -> list[Any]:
    return [
        population_bench.Result("base", 100, 2000.0, 5.0, 50.0, 0),
        population_bench.Result("cold", 100, 1200.0, 9.0, 80.0, 0),
        population_bench.Result("warm", 100, 6000.0, 2.0, 8.0, warm_errors),
        gateway,
    ]


def test_through_the_gateway_is_compared_with_the_adapter_warm_figure() -> None:
    gateway = population_bench.Result("gw", 100, 3600.0, 4.0, 15.0, 0)
    *_, rate, p99 = population_bench.population_figures(_results(0, gateway))
    assert rate.name == population_bench.THROUGH_RATE and p99.name == population_bench.THROUGH_P99
    assert rate.baseline == 6000.0 and rate.ratio == 0.6 and rate.met
    assert rate.target == population_bench.Target(">=", 3000)
    assert p99.baseline == 8.0 and p99.target == population_bench.Target("<", 20) and p99.met
    slow = population_bench.Result("gw", 100, 2900.0, 4.0, 25.0, 0)
    *_, rate, p99 = population_bench.population_figures(_results(0, slow))
    assert rate.valid and rate.met is False and p99.valid and p99.met is False


def test_any_error_on_the_gateway_path_invalidates_its_figures() -> None:
    refused = population_bench.Result("gw", 100, 3600.0, 4.0, 15.0, 1)  # one non-2xx answer
    *_, rate, p99 = population_bench.population_figures(_results(0, refused))
    assert not rate.valid and rate.met is False and not p99.valid and p99.met is False
    fine = population_bench.Result("gw", 100, 3600.0, 4.0, 15.0, 0)
    *_, rate, p99 = population_bench.population_figures(_results(1, fine))
    assert not rate.valid  # its baseline (the adapter's warm run) failed a request
    down = population_bench.Result("gw", 0, 0.0, 0.0, 0.0, 1, note="gateway did not start")
    *_, rate, p99 = population_bench.population_figures(_results(0, down))
    assert rate.value is None and p99.value is None and not rate.valid and not p99.valid
    assert "did not start" in rate.note and rate.met is False


def test_without_the_gateway_window_there_are_no_gateway_figures() -> None:
    names = [f.name for f in population_bench.population_figures(_results(0, None)[:3])]
    assert population_bench.THROUGH_RATE not in names and len(names) == 5


class _Process:
    def __init__(self) -> None:
        self.stopped = False

    def terminate(self) -> None:
        self.stopped = True

    def wait(self, _: float) -> int:
        return 0


def test_the_gateway_window_primes_then_drives_wrk_and_always_stops_the_gateway(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bodies = tmp_path / "hot.jsonl"
    bodies.write_text('{"cccd": "1"}\n' * 500)
    process, posted, driven = _Process(), [], []
    settings = {"LGSP_GATEWAY_POPULATION_ADAPTER_TOKEN": population_bench.TOKEN}

    def start(_: Any, given: dict[str, str]) -> Any:
        assert given is settings
        return process, "http://gw"

    async def post_each(url: str, primed: list[Any], connections: int, headers: Any) -> None:
        posted.append((url, len(primed), headers))

    def wrk(name: str, url: str, path: Path, *args: Any, **options: Any) -> Any:
        driven.append((url, path, args, options))
        return population_bench.Result(name, 10, 5.0, 1.0, 2.0, 0)

    monkeypatch.setattr(population_bench, "start_gateway_process", start)
    monkeypatch.setattr(population_bench, "post_each", post_each)
    monkeypatch.setattr(population_bench, "wrk", wrk)
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:1")
    window = population_bench.through_gateway(kafka, settings, "lgsp_k_s", 3, 8)
    assert window(bodies).errors == 0 and process.stopped
    url, primed, headers = posted[0]
    assert url == "http://gw/v1/population/verify" and primed == 4 * 8
    assert headers["X-API-Key"] == "lgsp_k_s"
    assert driven == [(url, bodies, (3, 8), {"distinct": False, "key": "lgsp_k_s"})]

    async def refused(*_: Any) -> None:
        raise RuntimeError("warm-up answered 503: audit_unavailable")

    process = _Process()
    monkeypatch.setattr(population_bench, "post_each", refused)
    failed = window(bodies)
    assert failed.errors == 1 and "503" in failed.note and process.stopped

    def down(*_: Any) -> Any:
        raise RuntimeError("gateway did not become ready")

    monkeypatch.setattr(population_bench, "start_gateway_process", down)
    failed = window(bodies)
    assert failed.errors == 1 and "did not become ready" in failed.note
    *_, rate, p99 = population_bench.population_figures(_results(0, failed))
    assert not rate.valid and not p99.valid
