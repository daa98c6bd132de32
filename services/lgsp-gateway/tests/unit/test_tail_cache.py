"""The tail's recent records answer caught-up readers exactly, or not at all."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from lgsp_common.settings import KafkaSettings
from lgsp_gateway.adapters.reader_pool import TopicFeed


@dataclass
class Record:
    """A consumer record: only its place matters here."""

    partition: int
    offset: int


def feed(recent: dict[int, range]) -> TopicFeed:
    """A feed (not started) whose tail holds the given offsets per partition."""
    topic = TopicFeed(KafkaSettings(), "t.v1", 1, "test")
    topic.partitions = sorted(recent)
    for p, offsets in recent.items():
        topic._recent[p] = deque(Record(p, o) for o in offsets)
        topic._high[p] = offsets.stop
    return topic


def offsets(found: dict[int, list[Any]]) -> dict[int, list[int]]:
    """Return the offsets answered per partition."""
    return {p: [r.offset for r in records] for p, records in found.items()}


def test_a_caught_up_reader_gets_exactly_the_records_after_its_positions() -> None:
    tail = feed({0: range(10, 15), 1: range(0, 3)})
    assert offsets(tail._from_tail({0: 12, 1: 3}, 100)) == {0: [12, 13, 14]}
    assert offsets(tail._from_tail({0: 15, 1: 1}, 100)) == {1: [1, 2]}
    assert tail._from_tail({0: 15, 1: 3}, 100) == {}  # nothing new


def test_positions_older_than_the_tail_go_to_a_reader() -> None:
    tail = feed({0: range(10, 15), 1: range(0, 3)})
    assert tail._from_tail({0: 9, 1: 0}, 100) == {}


def test_max_records_bounds_the_answer_and_keeps_offset_order() -> None:
    tail = feed({0: range(0, 5), 1: range(0, 5)})
    assert offsets(tail._from_tail({0: 0, 1: 0}, 7)) == {0: [0, 1, 2, 3, 4], 1: [0, 1]}
