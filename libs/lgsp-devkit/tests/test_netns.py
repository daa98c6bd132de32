"""The multi-host harness's pure parts: what counts as leaving the subnet, the names' scheme,
and the Kafka config of nodes on host addresses (no namespace, no root needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lgsp_devkit.kafka_local import LocalKafka
from lgsp_devkit.netns import SCHEME, NetnsError, TestNetwork, foreign_part, inside_subnet


def frame(kind: int, source: str, target: str) -> bytes:
    """Build an Ethernet frame of `kind` (IPv4 or ARP) between two addresses."""
    src, dst = (bytes(int(x) for x in a.split(".")) for a in (source, target))
    head = b"\xff" * 12 + kind.to_bytes(2, "big")
    if kind == 0x0800:
        return head + b"\x45" + b"\x00" * 11 + src + dst
    return head + b"\x00" * 14 + src + b"\x00" * 6 + dst


def test_frames_between_subnet_addresses_stay_inside() -> None:
    assert foreign_part(frame(0x0800, "10.251.0.11", "10.251.0.12")) is None
    assert foreign_part(frame(0x0806, "10.251.0.1", "10.251.0.30")) is None
    assert foreign_part(frame(0x0800, "10.251.0.1", "224.0.0.22")) is None  # IGMP, on the link


def test_frames_to_or_from_elsewhere_are_foreign() -> None:
    assert foreign_part(frame(0x0800, "10.251.0.11", "192.0.2.1")) == "10.251.0.11 -> 192.0.2.1"
    assert foreign_part(frame(0x0806, "192.0.2.2", "10.251.0.11"))
    assert foreign_part(frame(0x0800, "192.0.2.2", "224.0.0.22"))
    assert foreign_part(b"\xff" * 12 + b"\x86\xdd" + b"\x00" * 40) == "ethertype 0x86dd"


def test_only_routes_within_the_subnet_count_as_confined() -> None:
    assert inside_subnet("10.251.0.0/24")
    assert inside_subnet("10.251.0.7")
    assert not inside_subnet("default")
    assert not inside_subnet("10.0.0.0/8")
    assert not inside_subnet("192.0.2.0/24")


def test_run_prefixes_follow_the_scheme_and_fit_interface_names() -> None:
    network = TestNetwork()
    assert SCHEME.match(network.bridge)
    assert len(f"{network.prefix}-abcdefp") <= 15  # the longest name: a peer before its move
    assert not SCHEME.match("lgsp-br") and not SCHEME.match("eth0")


def test_a_host_needs_a_free_address_of_the_subnet() -> None:
    network = TestNetwork()
    for name, address in [("a", "192.0.2.9"), ("a", "10.251.0.1"), ("a", "10.251.0.255"),
                          ("Bad_Name", "10.251.0.9")]:  # fmt: skip
        with pytest.raises(NetnsError):
            network.add_host(name, address)


def test_kafka_nodes_on_hosts_listen_and_advertise_their_address(tmp_path: Path) -> None:
    hosts = ["10.251.0.11", "10.251.0.12", "10.251.0.13"]
    kafka = LocalKafka(tmp_path, brokers=3, hosts=hosts, launch_prefix=lambda n: ["ns", "x"])
    kafka.nodes = kafka._plan_nodes()
    kafka._write_config(kafka.nodes[1])
    config = (kafka.nodes[1].data_dir / "server.properties").read_text()
    assert "listeners=PLAINTEXT://10.251.0.12:9092,CONTROLLER://10.251.0.12:9093\n" in config
    assert "advertised.listeners=PLAINTEXT://10.251.0.12:9092\n" in config
    voters = "1@10.251.0.11:9093,2@10.251.0.12:9093,3@10.251.0.13:9093"
    assert f"controller.quorum.voters={voters}\n" in config
    assert "min.insync.replicas=2\n" in config and "default.replication.factor=3\n" in config
    assert kafka.bootstrap_servers == ",".join(f"{h}:9092" for h in hosts)


def test_kafka_needs_one_host_per_node(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="3 nodes but 2 hosts"):
        LocalKafka(tmp_path, brokers=3, hosts=["10.251.0.11", "10.251.0.12"])._plan_nodes()
