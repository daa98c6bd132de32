"""A CCCD sent outside the payload (URL, event attributes) never rests in clear.

/metrics masks it (`lgsp_common.telemetry.exposition`); the audit of a refused call masks a
CCCD sent as the topic or as an event id; and intake refuses (422, pointer to the attribute, the
value never echoed) a context attribute, the id included, that holds a CCCD number, so none
reaches a `ce_*` header of a data topic or the audit's event ids.
"""

from __future__ import annotations

import orjson
import pytest
from gateway_fakes import Gateway

from lgsp_gateway.domain.intake import carries_cccd

CCCD = "079203004567"


def _stored(gateway: Gateway) -> str:
    return " ".join(
        f"{s.key!r} {s.value!r} {s.headers!r}" for s in gateway.producer.sent
    )  # every record of every topic: data, DLQ, audit


async def test_metrics_never_show_a_cccd_sent_as_the_topic(gateway: Gateway) -> None:
    assert (await gateway.publish(topic=CCCD)).status_code in (403, 404)
    metrics = await gateway.metrics()
    assert CCCD not in metrics
    assert 'topic="079*******67"' in metrics


async def test_the_audit_trail_never_keeps_a_cccd_sent_as_the_topic(gateway: Gateway) -> None:
    assert (await gateway.publish(topic=CCCD)).status_code in (403, 404)
    [record] = await gateway.audit(1)
    assert CCCD not in orjson.dumps(record).decode()


async def test_an_extension_attribute_holding_a_cccd_is_not_stored(gateway: Gateway) -> None:
    await gateway.publish(**{"ce-xnote": f"cccd {CCCD}"})
    await gateway.audit(1)
    assert CCCD not in _stored(gateway)


async def test_an_event_id_that_is_a_cccd_is_not_stored(gateway: Gateway) -> None:
    await gateway.publish(**{"ce-id": CCCD})
    await gateway.audit(1)
    assert CCCD not in _stored(gateway)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (CCCD, True),
        (f"cccd: {CCCD}.", True),
        ("550e8400-e29b-41d4-a716-446655440000", False),  # a UUID's all-digit tail
        ("a3c9e2f1-5b7d-4e8a-9c1f-006731509645", False),  # ... even one that reads as a CCCD
        (f"run a3c9e2f1-5b7d-4e8a-9c1f-006731509645 of {CCCD}", True),
        (f"{CCCD}-e29b", True),
        (f"x{CCCD}", False),  # inside a word: not a number on its own
        ("0792030045678", False),  # 13 digits
        ("000.00.01.H03-241001-0001", False),
    ],
)
def test_which_attribute_values_count_as_a_cccd(text: str, expected: bool) -> None:
    assert carries_cccd(text) is expected
