"""One node of a local cluster can be stopped, killed, paused, resumed and restarted by id.

The nodes here are stand-in processes (`sleep`), so the signals and the request files of
`lgsp dev kafka-node` are checked without starting Kafka; the 3-broker fault suite
(`tests/integration/test_fault_suite_3_brokers.py`) does the same to real brokers.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lgsp_common.settings import repo_root
from lgsp_devkit import kafka_local
from lgsp_devkit.kafka_control import serve_requests, submit
from lgsp_devkit.kafka_local import FAST_FAILOVER, KafkaLocalError, LocalKafka, Node


def state(process: subprocess.Popen[bytes], wanted: str) -> str:
    """Return the process state letter from /proc (T: stopped), polling until it is in `wanted`
    (a signal is delivered asynchronously)."""
    deadline = time.monotonic() + 10
    while True:
        found = Path(f"/proc/{process.pid}/stat").read_text().split(") ")[1][0]
        if found in wanted or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalKafka]:
    """A three-node LocalKafka whose nodes are `sleep` processes."""

    def launch(_self: LocalKafka, _jars: Path, _node: Node) -> subprocess.Popen[bytes]:
        return subprocess.Popen(["sleep", "60"])

    monkeypatch.setattr(kafka_local, "fetch_jars", lambda: tmp_path)
    monkeypatch.setattr(LocalKafka, "_launch", launch)
    monkeypatch.setattr(LocalKafka, "_wait_started", lambda *_args, **_kw: None)
    local = LocalKafka(tmp_path, brokers=3)
    local.nodes = [Node(i, 9000 + i, 9100 + i, tmp_path / f"node-{i}") for i in (1, 2, 3)]
    for node in local.nodes:
        node.process = subprocess.Popen(["sleep", "60"])
    yield local
    local.stop()


def test_pause_resume_kill_stop_and_restart_one_node(cluster: LocalKafka) -> None:
    two = cluster.node(2)
    assert two.process is not None
    cluster.control("pause", 2)
    assert state(two.process, "T") == "T"
    cluster.control("resume", 2)
    assert state(two.process, "SR") in "SR"
    cluster.control("kill", 2)
    assert two.process.returncode == -signal.SIGKILL
    with pytest.raises(KafkaLocalError, match="not running"):
        cluster.control("pause", 2)
    assert "restarted" in cluster.control("restart", 2)
    assert two.process.poll() is None
    cluster.control("pause", 3)
    cluster.control("stop", 3)  # a paused node still stops: SIGTERM, then SIGCONT
    assert cluster.node(3).process is not None
    assert cluster.node(3).process.returncode == -signal.SIGTERM
    one = cluster.node(1).process
    assert one is not None and one.poll() is None  # the others are untouched
    with pytest.raises(KafkaLocalError, match="no node 4"):
        cluster.control("kill", 4)


def test_requests_from_another_shell_are_applied_by_the_running_command(
    cluster: LocalKafka, tmp_path: Path
) -> None:
    done = threading.Event()

    def running_command() -> None:
        while not done.is_set():
            serve_requests(cluster, tmp_path)
            time.sleep(0.05)

    serving = threading.Thread(target=running_command)
    serving.start()
    try:
        time.sleep(0.1)  # the command creates its control folder on its first pass
        assert "pause done" in submit(tmp_path, "pause", 1, timeout_s=10)
        process = cluster.node(1).process
        assert process is not None and state(process, "T") == "T"
        assert "resume done" in submit(tmp_path, "resume", 1, timeout_s=10)
        with pytest.raises(KafkaLocalError, match="unknown action"):
            submit(tmp_path, "explode", 1, timeout_s=10)
    finally:
        done.set()
        serving.join()
    assert not list((tmp_path / "control").iterdir())  # every request and answer cleaned up


def test_without_a_running_command_a_request_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(KafkaLocalError, match="no running `lgsp dev kafka`"):
        submit(tmp_path / "kafka-3", "kill", 1)


def test_fast_failover_settings_apply_to_a_replicated_cluster_only(tmp_path: Path) -> None:
    def written(brokers: int, fast: bool) -> str:
        local = LocalKafka(tmp_path / f"{brokers}-{fast}", brokers=brokers, fast_failover=fast)
        local.nodes = [Node(i + 1, 1, 2, local.data_dir / f"n{i}") for i in range(brokers)]
        local._write_config(local.nodes[0])
        return (local.nodes[0].data_dir / "server.properties").read_text()

    assert "broker.session.timeout.ms=500" in written(3, True)
    assert all(f"{key}=" in written(3, True) for key in FAST_FAILOVER)
    assert "broker.session.timeout.ms" not in written(3, False)
    assert "broker.session.timeout.ms" not in written(1, True)
    assert "min.insync.replicas=2" in written(3, True)


# Strimzi refuses controller.* keys but three quorum timeouts (and since strimzi-kafka-operator
# #11668 accepts broker.session.timeout.ms and broker.heartbeat.interval.ms).
NOT_SETTABLE_IN_STRIMZI = {"controller.quorum.request.timeout.ms"}


def test_the_strimzi_cluster_runs_the_same_failover_settings() -> None:
    kafka = next(
        d
        for d in yaml.safe_load_all((repo_root() / "deploy/k8s/kafka.yaml").read_text())
        if d and d["kind"] == "Kafka"
    )
    config = kafka["spec"]["kafka"]["config"]
    for key, value in FAST_FAILOVER.items():
        if key not in NOT_SETTABLE_IN_STRIMZI:
            assert str(config.get(key)).lower() == str(value).lower(), key
    assert config["min.insync.replicas"] == 2
