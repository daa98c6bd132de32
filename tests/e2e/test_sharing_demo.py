"""The demo's consumer departments read what the others publish, exactly, through the LGSP.

The default scenario runs with its two consumers (`lgsp_simulators.consumers`): the provincial
Statistics Office pulls `finance.budget-revenue.v1` and Sở Tư pháp receives the results of
`tthc.dossier.v1` by webhook. Each must receive every accepted event of its topic, carrying only
the fields it was approved for, and every read must be on the audit trail with its purpose and
the fields it disclosed (names only).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from lgsp_common.audit import calls_of
from lgsp_common.settings import KafkaSettings
from lgsp_devkit.inprocess import in_process_platform, read_topic
from lgsp_devkit.kafka_local import free_port
from lgsp_simulators.consumers import DOSSIER_TOPIC, REVENUE_TOPIC
from lgsp_simulators.scenario import load_scenario
from lgsp_simulators.session import Options, Simulation, Target

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(240)]
ROOT = Path(__file__).resolve().parents[2]
EVENTS = 600
CITIZENS = 2000
STATISTICS, JUSTICE = "tk-thu-ngan-sach", "stp-tai-su-dung-ket-qua"


def _names(pointers: list[str]) -> set[str]:
    return {pointer.lstrip("/") for pointer in pointers}


async def _run(kafka: KafkaSettings, tmp_path: Path) -> tuple[dict[str, Any], list[Any]]:
    scenario = load_scenario(ROOT / "scenarios/default.yaml")
    link = scenario.population.model_copy(update={"count": CITIZENS, "pool": CITIZENS})
    scenario = scenario.model_copy(update={"population": link})
    async with in_process_platform(kafka, tmp_path, citizens=CITIZENS) as platform:
        target = Target(platform.urls["gateway"], platform.urls["registry"], platform.token)
        options = Options(rate=300, events=EVENTS, batch_size=20, run_id="share",
                          truth_path=tmp_path / "ground-truth.json",
                          consumers_port=free_port())  # fmt: skip
        await Simulation(scenario, target, options, say=lambda _: None).run()
        trail = await read_topic(kafka, platform.topics["audit"])
    truth = json.loads((tmp_path / "ground-truth.json").read_text("utf-8"))
    return truth, [c for record in trail for c in calls_of(json.loads(record.value))]


async def test_consumers_read_every_accepted_event_with_only_their_fields(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    truth, trail = await _run(kafka_settings, tmp_path)
    consumers = truth["consumers"]
    accepted = {topic: set(item["accepted"]) for topic, item in truth["topics"].items()}
    assert accepted[REVENUE_TOPIC] and accepted[DOSSIER_TOPIC]

    statistics = consumers[STATISTICS]
    assert statistics["transport"] == "pull"
    assert set(statistics["ids"]) == accepted[REVENUE_TOPIC], statistics["missing"]
    assert set(statistics["fields_received"]) == _names(statistics["approved_fields"])

    justice = consumers[JUSTICE]
    assert justice["transport"] == "webhook"
    assert set(justice["ids"]) == accepted[DOSSIER_TOPIC], justice["missing"]
    assert set(justice["fields_received"]) <= _names(justice["approved_fields"])
    assert "procedure_code" not in justice["fields_received"]  # not approved, never sent
    assert justice["signatures"] == {"verified": justice["signatures"]["verified"], "failed": 0}

    # Every read is audited: by consumer, with the approval's purpose and the field names.
    reads: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in trail:
        if record.get("action") in ("event.read", "webhook.deliver"):
            reads[record["actor"]["id"]].append(record)
    pulled = [r for r in reads[STATISTICS] if r["action"] == "event.read"]
    assert sum(r["record_count"] for r in pulled) >= len(accepted[REVENUE_TOPIC])
    assert {r["purpose"] for r in pulled} == {"official_statistics"}
    disclosed = set().union(*(r["disclosed_fields"] for r in pulled if r["record_count"]))
    assert _names(sorted(disclosed)) == _names(statistics["approved_fields"])  # pointers
    pushed = [r for r in reads[JUSTICE] if r["action"] == "webhook.deliver"]
    assert sum(r["record_count"] for r in pushed) >= len(accepted[DOSSIER_TOPIC])
    assert {r["purpose"] for r in pushed} == {"reuse_digitised_results"}
    assert all("data" not in r and "records" not in r for r in pulled + pushed)  # no values
