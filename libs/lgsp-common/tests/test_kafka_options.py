"""The platform's client options keep acknowledged data safe and notice a frozen broker quickly.

A paused broker keeps its TCP connections open, so a client notices it only when a request times
out: the producer's request timeout bounds how long a frozen leader holds a partition, a reader's
how long the registry copy waits on it (longer than the gateway's staleness bound: every call
refused). Neither may trade durability (idempotent, acks=all) for speed.
"""

from __future__ import annotations

from lgsp_common.kafka import (
    PRODUCE_REQUEST_TIMEOUT_MS,
    READ_REQUEST_TIMEOUT_MS,
    consumer_options,
    producer_options,
)
from lgsp_common.settings import KafkaSettings


def test_the_producer_resends_after_a_short_timeout_and_stays_idempotent_with_acks_all() -> None:
    options = producer_options(KafkaSettings(), "p")
    assert options["enable_idempotence"] is True
    assert options["acks"] == "all"
    assert options["request_timeout_ms"] == PRODUCE_REQUEST_TIMEOUT_MS <= 2_000
    short = producer_options(KafkaSettings(request_timeout_ms=500), "p")
    assert short["request_timeout_ms"] == 500  # a shorter configured timeout is kept


def test_a_reader_outside_a_group_gives_up_on_a_frozen_broker_within_seconds() -> None:
    reader = consumer_options(KafkaSettings(), "r", None)
    assert reader["request_timeout_ms"] == READ_REQUEST_TIMEOUT_MS
    assert 1_000 < READ_REQUEST_TIMEOUT_MS <= 10_000  # above a fetch's 500 ms long poll
    assert reader["isolation_level"] == "read_committed"


def test_a_group_member_keeps_a_timeout_longer_than_a_rebalance() -> None:
    member = consumer_options(KafkaSettings(), "m", "group")
    assert member["request_timeout_ms"] >= 40_000
    assert member["enable_auto_commit"] is False
