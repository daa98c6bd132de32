"""The multi-host fault suite: real partitions between test hosts in network namespaces.

One platform for the module (`conftest.platform`: Kafka on three hosts, the registry, two
gateways; the load client on its own host, publishing through both gateways and failing over).
Faults in sequence, each under its own load run and counted by ce_id afterwards from the data
topic: (a) a broker host killed whole, then restarted; (b) a broker host cut off for `CUT_S`
seconds (partition leadership moves), then healed; (c) a gateway host cut off for `CUT_S`
seconds (clients retry on the other), then healed. Every heal is waited on a condition (leaders
elected, three in-sync replicas again, 202s via the healed gateway). Asserted: no acknowledged
event lost, every event acknowledged in the end, nothing left the test subnet. Counted, not
failed on: duplicates (an event written twice after an outcome-unknown answer). The figures are
printed in pytest's terminal summary and written to test-artifacts/multihost.json.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from typing import Any

import pytest
from hosts_env import DATA_TOPIC, LoadRun, Platform, leaders, read_ids, record, wait_until

from lgsp_common.topics import platform_topics
from lgsp_devkit.netns import TestNetwork, TrafficWatch

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(300)]
CUT_S = float(os.environ.get("LGSP_MULTIHOST_CUT_S", "30"))
RATE = 30.0  # events per second offered by the load client


async def steady_load(platform: Platform, label: str) -> tuple[LoadRun, float]:
    """Start a load run and wait until both gateways answered it with 202s."""
    load = platform.start_load(label, RATE)
    started = time.monotonic()
    for url in platform.gateways.values():
        await load.wait_for_202(started, 90, gateway=url)
    return load, started


async def victim_broker(platform: Platform) -> tuple[int, int]:
    """Return (0, the node leading the data topic's partition 0): a broker fault's victim."""
    found = await leaders(platform.bootstrap, DATA_TOPIC)
    return 0, found[0][0]


async def fully_replicated(platform: Platform, timeout_s: float = 120.0) -> float:
    """Wait until every partition of the platform's topics has three in-sync replicas."""
    names = [DATA_TOPIC, *(spec.name for spec in platform_topics())]

    async def check() -> bool:
        for name in names:
            found = await leaders(platform.bootstrap, name)
            if not found or any(len(isr) < 3 or leader < 0 for leader, isr in found.values()):
                return False
        return True

    return await wait_until("three in-sync replicas again", check, timeout_s)


async def led_without(platform: Platform, victim: int, timeout_s: float = 60.0) -> float:
    """Wait until every data partition has a leader other than `victim`."""

    async def check() -> bool:
        found = await leaders(platform.bootstrap, DATA_TOPIC)
        return bool(found) and all(lead not in (-1, victim) for lead, _ in found.values())

    return await wait_until(f"leadership off node {victim}", check, timeout_s)


def window_figures(answers: list[dict[str, Any]], start: float, end: float) -> dict[str, Any]:
    """Between `start` and `end`: the longest time without a 202, the longest an event waited
    from its first attempt to its 202, and the non-202 answers."""
    times = sorted(a["done"] for a in answers if a["status"] == 202)
    before = [t for t in times if t <= start]
    edges = [before[-1] if before else start, *(t for t in times if start < t <= end)]
    gap = max((b - a for a, b in itertools.pairwise(edges)), default=end - start)
    first: dict[str, float] = {}
    for a in answers:
        first[a["ce_id"]] = min(first.get(a["ce_id"], a["sent"]), a["sent"])
    waits = [a["done"] - first[a["ce_id"]] for a in answers
             if a["status"] == 202 and start <= first[a["ce_id"]] <= end]  # fmt: skip
    refused: dict[str, int] = {}
    for a in answers:
        if a["status"] != 202 and start < a["done"] <= end:
            what = str(a["status"] or "no answer")
            refused[what] = refused.get(what, 0) + 1
    tries = [sum(a["ce_id"] == ce_id for a in answers) for ce_id, at in first.items()
             if start <= at <= end]  # fmt: skip
    return {
        "longest_gap_without_202_s": round(gap, 2),
        "longest_wait_for_a_202_s": round(max(waits, default=0.0), 2),
        "most_attempts_for_one_event": max(tries, default=0),
        "non_202_answers": refused,
    }


async def count(platform: Platform, load: LoadRun, figures: dict[str, Any]) -> None:
    """Stop the load, read the data topic, count by ce_id; assert nothing acknowledged is lost."""
    answers = await load.stop()
    ids = await read_ids(platform.bootstrap, DATA_TOPIC, load.label)
    on_topic = set(ids)
    attempted = {a["ce_id"] for a in answers}
    acked = {a["ce_id"] for a in answers if a["status"] == 202}
    figures |= {
        "events": len(attempted),
        "acknowledged": len(acked),
        "acknowledged_lost": len(acked - on_topic),
        "duplicates_on_topic": len(ids) - len(on_topic),
        "written_never_acknowledged": len(on_topic - acked),
        "attempts_per_gateway": {
            url: sum(a["gw"] == url for a in answers) for url in platform.gateways.values()
        },
    }
    record(load.label, figures)
    assert not acked - on_topic, f"acknowledged events lost: {sorted(acked - on_topic)[:5]}"
    assert on_topic <= attempted, "the topic holds events the client never sent"
    assert acked == attempted, f"events never acknowledged: {len(attempted - acked)}"
    assert not [a for a in answers if 400 <= a["status"] < 500], "4xx answers under load"


async def test_broker_host_killed(platform: Platform) -> None:
    """(a) Every process of the host leading a data partition SIGKILLed; the node restarted."""
    load, _ = await steady_load(platform, "kill-broker")
    partition, victim = await victim_broker(platform)
    controller = platform.kafka.active_controller() if platform.kafka else None
    start = time.monotonic()
    killed = platform.broker_host(victim).kill_all()
    resumed = await load.wait_for_202(start, 60)
    await led_without(platform, victim)
    moved = time.monotonic()
    assert platform.kafka is not None
    await asyncio.to_thread(platform.kafka.control, "restart", victim)
    back = time.monotonic()
    in_sync = await fully_replicated(platform)
    figures = {
        "fault": f"host k{victim} killed ({killed} processes), leader of {DATA_TOPIC}[{partition}]",
        "victim_was_active_controller": controller == victim,
        "first_202_after_fault_s": round(resumed - start, 2),
        "leadership_moved_s": round(moved - start, 2),
        "down_until_restart_s": round(back - start, 2),
        "in_sync_after_restart_s": round(in_sync, 2),
    } | window_figures(load.answers(), start, time.monotonic())
    await count(platform, load, figures)


async def test_broker_host_cut_off(platform: Platform) -> None:
    """(b) The link of a data partition's leader host down for CUT_S seconds, then up."""
    load, _ = await steady_load(platform, "cut-broker")
    partition, victim = await victim_broker(platform)
    host = platform.broker_host(victim)
    start = time.monotonic()
    host.cut()
    try:
        resumed = await load.wait_for_202(start, 60)
        await led_without(platform, victim)
        moved = time.monotonic()
        await asyncio.sleep(max(0.0, start + CUT_S - time.monotonic()))  # the cut itself
    finally:
        host.heal()
    healed = time.monotonic()
    in_sync = await fully_replicated(platform)
    figures = {
        "fault": f"host k{victim} cut off {CUT_S:.0f}s, leader of {DATA_TOPIC}[{partition}]",
        "first_202_after_fault_s": round(resumed - start, 2),
        "leadership_moved_s": round(moved - start, 2),
        "in_sync_after_heal_s": round(in_sync, 2),
    } | window_figures(load.answers(), start, healed)
    figures["after_heal"] = window_figures(load.answers(), healed, time.monotonic())
    await count(platform, load, figures)


async def test_gateway_host_cut_off(platform: Platform) -> None:
    """(c) A gateway host's link down for CUT_S seconds: the client goes to the other one."""
    load, _ = await steady_load(platform, "cut-gateway")
    name, url = next(iter(platform.gateways.items()))
    host = platform.host(name)
    start = time.monotonic()
    host.cut()
    try:
        resumed = await load.wait_for_202(start, 60)
        await asyncio.sleep(max(0.0, start + CUT_S - time.monotonic()))  # the cut itself
    finally:
        host.heal()
    healed = time.monotonic()
    serves_again = await load.wait_for_202(healed, 90, gateway=url)
    figures = {
        "fault": f"gateway host {name} cut off {CUT_S:.0f}s",
        "first_202_after_fault_s": round(resumed - start, 2),
        "healed_gateway_202_after_heal_s": round(serves_again - healed, 2),
    } | window_figures(load.answers(), start, healed)
    await count(platform, load, figures)


def test_no_traffic_left_the_subnet(
    platform: Platform, traffic: tuple[TestNetwork, TrafficWatch]
) -> None:
    """Every frame on the harness's links was between two addresses of the test subnet."""
    network, watch = traffic
    record("traffic", {"frames_seen": watch.frames, "foreign_frames": len(watch.foreign)})
    record("module", {"platform_start_s": round(platform.start_s, 1),
                      "until_now_s": round(time.monotonic() - platform.began, 1)})  # fmt: skip
    assert not network.confined(), network.confined()
    assert watch.frames > 1000, "the watch saw (almost) no traffic: is it reading the links?"
    assert not watch.foreign, watch.foreign[:10]
