"""Historical import runs: the `lgspimport` extension and the batch's `lgsp-import-run` flag."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from gateway_fakes import TOPIC, VALID, Gateway

BATCH = "application/cloudevents-batch+json"


@pytest.fixture
def fast_lane() -> bool:
    """The single-event fast lane and the route read the extension alike; one flavour."""
    return True


def event(event_id: str, **extra: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": event_id, "type": "vn.gov.lgsp.tthc.dossier.submitted",
            "data": VALID, **extra}  # fmt: skip


async def batch(gateway: Gateway, events: list[Any], **headers: str) -> httpx.Response:
    return await gateway.http.post(
        f"/v1/topics/{TOPIC}/batches", content=orjson.dumps(events),
        headers={"content-type": BATCH, "x-api-key": gateway.keys.source, **headers},
    )  # fmt: skip


async def test_the_batch_flag_marks_every_event_with_the_run(gateway: Gateway) -> None:
    answer = await batch(gateway, [event("h-0"), event("h-1")], **{"lgsp-import-run": "r-2025"})
    assert answer.status_code == 202, answer.text
    records = gateway.producer.on(TOPIC)
    assert [r.header("ce_lgspimport") for r in records] == ["r-2025", "r-2025"]


async def test_an_event_may_carry_the_extension_itself(gateway: Gateway) -> None:
    answer = await batch(gateway, [event("h-0", lgspimport="r.1"), event("live")])
    assert answer.status_code == 202, answer.text
    assert [r.header("ce_lgspimport") for r in gateway.producer.on(TOPIC)] == ["r.1", None]
    single = await gateway.publish(**{"ce-lgspimport": "r.2"})
    assert single.status_code == 202, single.text
    assert gateway.producer.on(TOPIC)[-1].header("ce_lgspimport") == "r.2"


async def test_a_malformed_run_id_is_refused_naming_the_attribute(gateway: Gateway) -> None:
    answer = await batch(gateway, [event("h-0", lgspimport="no spaces"), event("ok")])
    assert answer.status_code == 207, answer.text
    first, second = answer.json()["items"]
    assert first["status"] == 422 and second["status"] == 202
    assert [e["pointer"] for e in first["problem"]["errors"]] == ["/lgspimport"]
    whole = await batch(gateway, [event("h-1")], **{"lgsp-import-run": "x" * 65})
    assert whole.status_code == 422, whole.text
    assert not any(r.header("ce_id") == "h-1" for r in gateway.producer.on(TOPIC))


async def test_an_event_naming_another_run_than_its_batch_is_refused(gateway: Gateway) -> None:
    answer = await batch(gateway, [event("h-0", lgspimport="r-a")], **{"lgsp-import-run": "r-b"})
    assert answer.status_code == 207, answer.text
    assert answer.json()["items"][0]["status"] == 422
