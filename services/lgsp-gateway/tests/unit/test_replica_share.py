"""A replica's share of every limit: the live replica count, its fallback, the member count.

No broker here: the membership's Kafka side runs against a closed port (it must keep its
count and never fail the gateway), and the assignor is called as aiokafka calls it. The group
itself, with real gateway processes coming and going, is in
`tests/integration/test_gateway_autoscaling.py`.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from lgsp_common.settings import KafkaSettings
from lgsp_gateway.adapters.replica_membership import (
    CountingAssignor,
    ReplicaMembership,
    group_name,
)
from lgsp_gateway.adapters.shared_buckets import SharedBuckets
from lgsp_gateway.domain.ratelimit import RateLimiter, ReplicaCount, TokenBucket

CLOSED = KafkaSettings(bootstrap_servers="127.0.0.1:9")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 64.0

    def __call__(self) -> float:
        return self.now


def granted(limiter: RateLimiter | SharedBuckets, clock: Clock, seconds: float) -> int:
    """Offer one event every millisecond for `seconds`; return how many passed."""
    passed = 0
    for _ in range(round(seconds * 1000)):
        clock.now += 0.001
        passed += limiter.acquire("src") == 0.0
    return passed


# -- the share --------------------------------------------------------------------------------


@pytest.mark.parametrize(("replicas", "rate", "burst"), [(1, 90, 30), (2, 45, 15), (3, 30, 10)])
def test_a_share_is_the_limit_divided_by_the_replicas(replicas: int, rate: int, burst: int) -> None:
    assert TokenBucket.share(90, 30, replicas) == TokenBucket(rate, burst)


def test_a_share_is_never_of_no_replica() -> None:
    with pytest.raises(ValueError, match="at least one replica"):
        TokenBucket.share(90, 30, 0)


def test_the_sum_of_the_shares_is_the_limit_as_replicas_go_1_3_2() -> None:
    """Under overload each replica passes its share; summed over the replicas, the limit."""
    clock = Clock()
    replicas = [RateLimiter(rate=60, burst=6, clock=clock) for _ in range(3)]
    phases = []
    for live in (1, 3, 2):
        for limiter in replicas[:live]:
            limiter.resize(live)
        for _ in range(500):  # half a second of overload spends the bursts
            clock.now += 0.001
            for limiter in replicas[:live]:
                limiter.acquire("src")
        granted_all = [0] * live
        for _ in range(10_000):  # 10 s, one event per ms offered to every live replica
            clock.now += 0.001
            for i, limiter in enumerate(replicas[:live]):
                granted_all[i] += limiter.acquire("src") == 0.0
        phases.append(sum(granted_all) / 10)
    assert phases == [pytest.approx(60, rel=0.01)] * 3, phases


def test_resizing_keeps_a_buckets_tokens_capped_at_the_new_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=60, burst=30, clock=clock)
    assert limiter.replicas == 1
    limiter.resize(3)  # burst 10 now: the 30 tokens the bucket held are capped at 10
    assert limiter.replicas == 3
    assert [limiter.acquire("src") for _ in range(10)] == [0.0] * 10
    assert limiter.acquire("src") == pytest.approx(1 / 20)
    limiter.resize(2)  # 30/s: the missing token comes sooner
    assert limiter.acquire("src") == pytest.approx(1 / 30)


def test_workers_buckets_take_the_count_written_in_the_shared_header(tmp_path: Path) -> None:
    clock = Clock()
    limit = TokenBucket(rate=60, burst=6)
    with (
        SharedBuckets(tmp_path / "b", limit, fallback=2, clock=clock) as member,
        SharedBuckets(tmp_path / "b", limit, fallback=2, clock=clock) as other,
    ):
        assert (member.replicas, other.replicas, other.written) == (2, 2, False)  # fallback
        assert granted(other, clock, 1.0) == pytest.approx(3 + 30, abs=1)  # burst, 1/2 of the rate
        member.resize(3)
        assert (member.replicas, other.replicas, other.written) == (3, 3, True)
        assert granted(other, clock, 1.0) == pytest.approx(20, abs=1)  # rate of 1/3
        member.resize(1)
        assert granted(member, clock, 1.0) == pytest.approx(60, abs=1)
        with pytest.raises(ValueError, match="at least one replica"):
            member.resize(0)
        assert other.replicas == 1


# -- the count and its fallback ---------------------------------------------------------------


def test_the_fallback_holds_until_the_group_answers_then_its_last_count() -> None:
    count = ReplicaCount(fallback=2)
    assert (count.value, count.live) == (2, None)
    assert count.observe(2) is False  # the group agrees with the fallback: no change
    assert count.observe(3) is True
    assert count.value == 3
    assert count.observe(0) is False  # an impossible count never lifts or zeroes the limit
    assert count.value == 3
    assert count.observe(1) is True
    assert count.value == 1


def test_the_fallback_is_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ReplicaCount(0)


def test_the_group_is_one_per_registry_topic_unless_named() -> None:
    assert group_name("", "lgsp.registry") == "lgsp-gateway-replicas.lgsp.registry"
    assert group_name("ours", "lgsp.registry") == "ours"


# -- the assignor -----------------------------------------------------------------------------


def test_every_member_learns_the_number_of_members_from_its_assignment() -> None:
    seen: list[int] = []
    leader = CountingAssignor(seen.append)
    members = {f"m-{i}": leader.metadata({"lgsp.gateway.replicas"}) for i in range(3)}
    assignments = leader.assign(None, members)
    assert sorted(assignments) == sorted(members)
    for member in members:  # through the wire format, as aiokafka hands it to each member
        wire = assignments[member].encode()
        decoded = ConsumerProtocolMemberAssignment.decode(wire)
        assert decoded.partitions() == []  # nothing to read
        CountingAssignor(seen.append).on_assignment(decoded)
    assert seen == [3, 3, 3]


def test_an_assignment_without_a_count_is_ignored() -> None:
    seen: list[int] = []
    CountingAssignor(seen.append).on_assignment(ConsumerProtocolMemberAssignment(0, [], b"x"))
    assert seen == []


# -- the membership without a broker ---------------------------------------------------------


def membership(
    applied: list[int], fallback: int = 2, lock: Path | None = None, written: bool = False
) -> ReplicaMembership:
    return ReplicaMembership(
        CLOSED,
        group="unit-replicas",
        topic="lgsp.gateway.replicas",
        client_id="unit",
        count=ReplicaCount(fallback),
        apply=applied.append,
        lock=lock,
        written=lambda: written,
    )


async def test_an_unreachable_group_leaves_the_fallback_and_does_not_fail_start_up() -> None:
    applied: list[int] = []
    seat = membership(applied)
    started = time.monotonic()
    await seat.start(wait_s=0.5)
    assert time.monotonic() - started < 5
    assert (seat.count.value, applied) == (2, [])
    await seat.stop()


async def test_a_count_learnt_stays_while_the_group_is_unreachable() -> None:
    applied: list[int] = []
    seat = membership(applied)
    CountingAssignor(seat._on_count).on_assignment(  # as the group would
        ConsumerProtocolMemberAssignment(0, [], (3).to_bytes(4, "big"))
    )
    await seat.start(wait_s=5)  # a count is known: no wait
    await asyncio.sleep(0.3)  # the background task fails to reach the closed port meanwhile
    assert (seat.count.value, applied) == (3, [3])
    await seat.stop()
    assert seat.count.value == 3


async def test_one_worker_of_a_replica_is_the_member_and_another_takes_over(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "member.lock"
    first, second = membership([], lock=lock), membership([], lock=lock, written=True)
    await first.start(wait_s=0.2)
    await second.start(wait_s=5)  # the member's count is written: it does not wait
    assert (first.member, second.member) == (True, False)
    await first.stop()
    async with asyncio.timeout(10):
        while True:  # it retries the lock every RETRY_S
            if second.member:
                break
            await asyncio.sleep(0.05)
    await second.stop()
