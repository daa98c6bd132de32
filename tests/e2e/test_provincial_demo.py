"""The provincial demo end to end: every KPI the collector reports equals the ground truth.

From nothing (a fresh registry, empty topics, a freshly built population database), the
default scenario's departments onboard over HTTP, verify citizens and publish 2,000 events
through the gateway. Then every KPI value the collector serves (tiles, every window, every
cell, every single dimension) must equal the independent evaluation in the ground-truth file,
exactly; and every broken event must be on the dead-letter topic, naming the expected rule.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.inprocess import in_process_platform, read_topic, wait_consumed
from lgsp_simulators.scenario import load_scenario
from lgsp_simulators.session import Options, Simulation, Target

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(180)]
ROOT = Path(__file__).resolve().parents[2]
EVENTS = 2000
CITIZENS = 3000


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def _series(
    http: httpx.AsyncClient, kpi: str, truth: dict[str, Any], dims: dict[str, Any]
) -> dict[datetime, Any]:
    windows = truth["windows"]
    params = {"from": windows[0]["start"], "to": windows[-1]["end"], **dims}
    response = await http.get(f"/v1/kpis/{kpi}/series", params=params)
    assert response.status_code == 200, response.text
    return {_at(p["window_start"]): p["value"] for p in response.json()["points"]}


def _expectations(truth: dict[str, Any]) -> list[tuple[dict[str, Any], dict[datetime, Any]]]:
    """Return (dimension filter, expected value per window) for every query to make."""
    wanted: dict[str, dict[datetime, Any]] = {"{}": {}}
    for window in truth["windows"]:
        start = _at(window["start"])
        wanted["{}"][start] = window["value"]
        for cell in window["cells"]:
            key = json.dumps(cell["dims"], sort_keys=True)
            wanted.setdefault(key, {})[start] = cell["value"]
        for name, values in window["by_dimension"].items():
            for text, value in values.items():
                wanted.setdefault(json.dumps({name: text}), {})[start] = value
    return [(json.loads(key), values) for key, values in wanted.items()]


async def _check_kpi(http: httpx.AsyncClient, kpi: str, truth: dict[str, Any]) -> int:
    slots = asyncio.Semaphore(8)

    async def one(dims: dict[str, Any], expected: dict[datetime, Any]) -> None:
        async with slots:
            found = await _series(http, kpi, truth, dims)
        for start, value in found.items():
            assert value == expected.get(start), (kpi, dims, start, value, expected.get(start))

    queries = _expectations(truth)
    await asyncio.gather(*(one(dims, expected) for dims, expected in queries))
    return len(queries)


async def _check_tiles(http: httpx.AsyncClient, kpis: dict[str, Any]) -> None:
    tiles = {tile["id"]: tile for tile in (await http.get("/v1/kpis")).json()["kpis"]}
    assert set(tiles) == set(kpis)
    for kpi, truth in kpis.items():
        assert truth["windows"], f"{kpi}: the run produced no data for it"
        latest = truth["windows"][-1]
        tile = tiles[kpi]
        assert _at(tile["current"]["window_start"]) == _at(latest["start"]), kpi
        assert tile["current"]["value"] == latest["value"], kpi
        counters = (tile["late_events"], tile["duplicate_events"], tile["invalid_events"])
        assert counters == (0, 0, 0), kpi


async def _check_dead_letters(kafka: KafkaSettings, topic: str, truth: dict[str, Any]) -> None:
    records = {r.key.decode(): json.loads(r.value) for r in await read_topic(kafka, topic)}
    invalid = truth["invalid"]
    assert invalid, "the default scenario breaks some events on purpose"
    assert set(records) == {item["id"] for item in invalid}
    for item in invalid:
        letter = records[item["id"]]
        assert item["status"] == 422
        assert letter["original_topic"] == item["topic"]
        assert letter["source"] == f"/sources/{item['source']}"
        assert item["rule"] in {reason["rule"] for reason in letter["reasons"]}, (item, letter)
        assert letter["reasons"] and all(reason["message"] for reason in letter["reasons"])


async def test_default_scenario_kpis_equal_the_ground_truth(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    scenario = load_scenario(ROOT / "scenarios/default.yaml")
    link = scenario.population.model_copy(update={"count": CITIZENS, "pool": CITIZENS})
    scenario = scenario.model_copy(update={"population": link})
    async with in_process_platform(kafka_settings, tmp_path, citizens=CITIZENS) as platform:
        target = Target(platform.urls["gateway"], platform.urls["registry"], platform.token)
        options = Options(rate=500, events=EVENTS, batch_size=50, run_id="e2e",
                          truth_path=tmp_path / "ground-truth.json")  # fmt: skip
        simulation = Simulation(scenario, target, options, say=lambda _: None)
        stats = await simulation.run()
        truth = json.loads((tmp_path / "ground-truth.json").read_text())
        assert stats.planned == EVENTS
        assert truth["exact"], (truth["refused"], truth["uncertain"])
        assert truth["verifications"].get("match", 0) > 50
        expected = {topic: item["count"] for topic, item in truth["topics"].items()}
        assert sum(expected.values()) + len(truth["invalid"]) >= EVENTS
        async with httpx.AsyncClient(
            base_url=platform.urls["collector"], timeout=30, headers=platform.viewer_headers
        ) as http:
            counts = await wait_consumed(http, expected)
            assert counts == expected  # nothing more than what was sent
            await _check_tiles(http, truth["kpis"])
            queries = 0
            for kpi, kpi_truth in truth["kpis"].items():
                queries += await _check_kpi(http, kpi, kpi_truth)
        assert queries > 300
        await _check_dead_letters(kafka_settings, platform.topics["dlq"], truth)
