"""A refused batch item always names its pointer (issue 13, finding 10)."""

from __future__ import annotations

import pytest
from gateway_fakes import Gateway

from .test_batch import event


@pytest.fixture
def fast_lane() -> bool:
    """Batches always take the FastAPI route; one gateway flavour is enough."""
    return True


async def test_a_batch_of_non_objects_names_each_refused_item(gateway: Gateway) -> None:
    answer = await gateway.batch([1, "two", None, [4]])
    assert answer.status_code == 207
    items = answer.json()["items"]
    assert [(i["pointer"], i["status"]) for i in items] == [
        ("/0", 422),
        ("/1", 422),
        ("/2", 422),
        ("/3", 422),
    ]
    for item in items:
        [error] = item["problem"]["errors"]
        assert error["pointer"] == ""  # the item itself, relative to item["pointer"]
        assert error["message"] == "Each batch item must be a CloudEvent object"


async def test_every_item_has_its_pointer_and_field_errors_stay_relative(
    gateway: Gateway,
) -> None:
    bad = event("b-bad", {"status": "lost"})
    answer = await gateway.batch([event("b-0"), bad])
    items = answer.json()["items"]
    assert [i["pointer"] for i in items] == ["/0", "/1"]
    assert "problem" not in items[0] or items[0]["problem"] is None
    assert all(e["pointer"] != "" for e in items[1]["problem"]["errors"])
