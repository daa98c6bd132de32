"""A prepared page is taken only by the read it was prepared for, once, and not when stale."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from lgsp_common.minimise import FieldSelection
from lgsp_gateway.domain.read_batch import answer_body, render
from lgsp_gateway.service.read_ahead import ReadAhead, page_key

SELECTION = FieldSelection(["/a"])


@dataclass
class Record:
    """A consumer record as aiokafka gives it."""

    partition: int
    offset: int
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def fetcher(
    pages: dict[int, list[Record]], calls: list[int], gate: asyncio.Event | None = None
) -> Any:
    async def fetch() -> Mapping[int, Sequence[Any]]:
        calls.append(1)
        if gate is not None:
            await gate.wait()
        return pages

    return fetch


def records(*offsets: int) -> list[Record]:
    return [Record(0, o, orjson.dumps({"a": o, "b": "secret"}), [("ce_id", b"e")]) for o in offsets]


async def test_the_page_goes_to_the_matching_read_only_and_only_once() -> None:
    ahead, calls = ReadAhead(), []
    key = page_key("c-1", "t.v1", {0: 5}, 500)
    ahead.prepare(key, fetcher({0: records(5, 6)}, calls), {0: 5}, SELECTION)
    ahead.prepare(key, fetcher({0: records(5, 6)}, calls), {0: 5}, SELECTION)  # once
    assert await ahead.take(page_key("c-2", "t.v1", {0: 5}, 500)) is None  # another consumer
    assert await ahead.take(page_key("c-1", "t.v1", {0: 5}, 100)) is None  # another page size
    assert await ahead.take(page_key("c-1", "t.v1", {0: 6}, 500)) is None  # another position
    page = await ahead.take(key)
    assert page is not None and calls == [1]
    assert page.batch.positions == {0: 7} and page.batch.disclosed == {"/a"}
    rendered = orjson.loads(answer_body(page.events, "n"))
    assert rendered == orjson.loads(render(page.batch, SELECTION, "n"))
    assert [r["data"] for r in rendered["records"]] == [{"a": 5}, {"a": 6}]
    assert await ahead.take(key) is None  # taken


async def test_a_read_waits_for_a_page_still_being_prepared() -> None:
    ahead, calls, gate = ReadAhead(), [], asyncio.Event()
    key = page_key("c-1", "t.v1", {0: 0}, 10)
    ahead.prepare(key, fetcher({0: records(0)}, calls, gate), {0: 0}, SELECTION)
    taking = asyncio.create_task(ahead.take(key))
    await asyncio.sleep(0.01)
    assert not taking.done()
    gate.set()
    page = await taking
    assert page is not None and page.batch.count == 1


async def test_nothing_fetched_a_failed_fetch_or_a_stale_page_is_no_page() -> None:
    ahead = ReadAhead(ttl_s=0.05)
    empty = page_key("c", "t", {0: 0}, 1)
    ahead.prepare(empty, fetcher({0: []}, []), {0: 0}, SELECTION)
    assert await ahead.take(empty) is None

    async def failing() -> Mapping[int, Sequence[Any]]:
        raise RuntimeError("broker away")

    broken = page_key("c", "t", {0: 1}, 1)
    ahead.prepare(broken, failing, {0: 1}, SELECTION)
    assert await ahead.take(broken) is None
    stale = page_key("c", "t", {0: 2}, 1)
    ahead.prepare(stale, fetcher({0: records(2)}, []), {0: 2}, SELECTION)
    await asyncio.sleep(0.1)
    assert await ahead.take(stale) is None


async def test_pages_are_bounded_oldest_dropped_first() -> None:
    ahead = ReadAhead(max_pages=2)
    keys = [page_key("c", "t", {0: o}, 1) for o in range(3)]
    for o, key in enumerate(keys):
        ahead.prepare(key, fetcher({0: records(o)}, []), {0: o}, SELECTION)
    assert len(ahead) == 2
    assert await ahead.take(keys[0]) is None
    assert await ahead.take(keys[2]) is not None
    await ahead.stop()
    assert len(ahead) == 0
