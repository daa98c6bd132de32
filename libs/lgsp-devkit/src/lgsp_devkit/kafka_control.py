"""Controlling the nodes of a running `lgsp dev kafka --brokers 3` from another shell.

The `kafka` command owns the broker processes; `lgsp dev kafka-node ACTION N` drops a request
file into `<cluster dir>/control/`, the running command applies it (`LocalKafka.control`) and
writes the answer beside it. `partition_leaders` tells which node leads each partition of a topic
(from the cluster's metadata), so a fault can target the leader.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from aiokafka import TopicPartition
from aiokafka.client import AIOKafkaClient

from lgsp_devkit.kafka_local import KafkaLocalError, LocalKafka


def control_dir(cluster_dir: Path) -> Path:
    """Return where requests for the cluster formatted in `cluster_dir` are dropped."""
    return cluster_dir / "control"


def submit(cluster_dir: Path, action: str, node_id: int, timeout_s: float = 120.0) -> str:
    """Ask the running cluster to apply `action` to `node_id`; return its answer or raise."""
    folder = control_dir(cluster_dir)
    if not folder.is_dir():
        raise KafkaLocalError(f"no running `lgsp dev kafka` for {cluster_dir} ({folder} missing)")
    name = uuid.uuid4().hex
    staging = folder / f"{name}.tmp"
    staging.write_text(json.dumps({"action": action, "node": node_id}))
    staging.rename(folder / f"{name}.request")
    answer = folder / f"{name}.answer"
    deadline = time.monotonic() + timeout_s
    while not answer.exists():
        if time.monotonic() > deadline:
            raise KafkaLocalError(f"no answer in {timeout_s:.0f}s; is `lgsp dev kafka` running?")
        time.sleep(0.1)
    result = json.loads(answer.read_text())
    answer.unlink()
    if not result["ok"]:
        raise KafkaLocalError(result["message"])
    return str(result["message"])


def serve_requests(cluster: LocalKafka, cluster_dir: Path) -> list[str]:
    """Apply the requests waiting in the control folder (called by the running command)."""
    folder = control_dir(cluster_dir)
    folder.mkdir(parents=True, exist_ok=True)
    done: list[str] = []
    for request in sorted(folder.glob("*.request")):
        try:
            asked = json.loads(request.read_text())
            message = cluster.control(str(asked["action"]), int(asked["node"]))
            answer = {"ok": True, "message": message}
        except (KafkaLocalError, ValueError, KeyError) as exc:
            answer = {"ok": False, "message": str(exc)}
        staging = request.with_suffix(".tmp")
        staging.write_text(json.dumps(answer))
        staging.rename(request.with_suffix(".answer"))
        request.unlink()
        done.append(str(answer["message"]))
    return done


async def partition_leaders(bootstrap_servers: str, topic: str) -> dict[int, int]:
    """Return {partition: node id of its leader} from a fresh metadata request (-1: none)."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    await client.bootstrap()
    try:
        metadata = await client.fetch_all_metadata()
        partitions = metadata.partitions_for_topic(topic) or set()
        leaders = {p: metadata.leader_for_partition(TopicPartition(topic, p)) for p in partitions}
        return {p: -1 if leader is None else leader for p, leader in sorted(leaders.items())}
    finally:
        await client.close()
