"""A real Apache Kafka (KRaft) on loopback, without Docker: jars from Maven Central, Java 17.

`fetch_jars` resolves the broker pinned in `deploy/kafka/pom.xml` once into a cache directory;
`LocalKafka` formats storage and runs one or three combined broker+controller nodes, waits until
they serve, and stops them cleanly. Used by `lgsp dev kafka`, `lgsp dev up` and the test suite.

With three nodes one node at a time can be stopped (SIGTERM), killed (SIGKILL), paused (SIGSTOP),
resumed (SIGCONT) and restarted (`control`), for the fault tests; the cluster then runs with
`FAST_FAILOVER` so that a lost node is fenced, and its partitions move, within 0.5-2 s (the
longer when the lost node was the active controller).

`hosts` puts each node on its own address instead of 127.0.0.1 (ports 9092, controller 9093),
and `launch_prefix` wraps each node's command (`ip netns exec NS`): the multi-host harness
(`lgsp_devkit.netns`) runs one node per test host that way.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from base64 import urlsafe_b64encode
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lgsp_common.settings import repo_root

log = logging.getLogger(__name__)
STARTED = "Transition from STARTING to STARTED"
ACTIONS = ("stop", "kill", "pause", "resume", "restart")

# Failover settings of a replicated cluster (mirrored in deploy/k8s/kafka.yaml; why and the
# fault suite's figures in deploy/README.md). Kafka's defaults fence a silent broker only after
# broker.session.timeout.ms=9000, and every acks=all write to a partition it led or followed
# waits that long. The worst case of combined broker+controller nodes is a frozen (SIGSTOP) or
# killed active controller: the quorum notices after controller.quorum.fetch.timeout.ms (800;
# a follower's fetch long-polls 500 ms, so lower invites spurious elections), elects and
# activates a new controller (0.3-0.6 s), which gives every broker a fresh session from its
# activation before fencing the lost one: that is why the session is 500 ms (heartbeats every
# 125 ms), so the lost leader's partitions move about 1.8 s after the fault. The producers then
# notice at their next resend (`PRODUCE_REQUEST_TIMEOUT_MS`, lgsp_common.kafka): publishing
# stalls 2-3 s for a frozen controller, about 1-2 s for another node. Nothing here weakens
# durability: min.insync.replicas=2 and unclean.leader.election.enable=false still mean an
# acknowledged record is on two replicas and only an in-sync replica can become leader. The
# cost is sensitivity: a broker starved of CPU for half a second is fenced (a short stall).
FAST_FAILOVER: dict[str, int | str] = {
    "broker.heartbeat.interval.ms": 125,
    "broker.session.timeout.ms": 500,
    "controller.quorum.fetch.timeout.ms": 800,
    "controller.quorum.election.timeout.ms": 400,
    "controller.quorum.election.backoff.max.ms": 400,
    "controller.quorum.request.timeout.ms": 800,
    "replica.lag.time.max.ms": 5000,
    "unclean.leader.election.enable": "false",
}


class KafkaLocalError(RuntimeError):
    """The local broker could not be fetched, formatted or started."""


def cache_dir() -> Path:
    """Return where downloaded jars are kept (LGSP_CACHE_DIR, else ~/.cache/lgsp)."""
    configured = os.environ.get("LGSP_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "lgsp"


def pom_path() -> Path:
    """Return the POM that pins the broker (LGSP_KAFKA_POM overrides)."""
    configured = os.environ.get("LGSP_KAFKA_POM")
    return Path(configured) if configured else repo_root() / "deploy" / "kafka" / "pom.xml"


def kafka_version(pom: Path) -> str:
    """Read the pinned Kafka version from the POM."""
    found = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom.read_text())
    if not found:
        raise KafkaLocalError(f"{pom} does not pin <kafka.version>")
    return found.group(1)


def fetch_jars(pom: Path | None = None, *, quiet: bool = True) -> Path:
    """Resolve the broker's jars with Maven once; later calls reuse the cached directory."""
    pom = pom or pom_path()
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:10]
    target = cache_dir() / f"kafka-{kafka_version(pom)}-{digest}"
    if (target / ".complete").exists():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaLocalError("Maven (mvn) is not on PATH; install it (apt-get install maven)")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="kafka-jars-", dir=target.parent))
    command = [
        mvn,
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    if quiet:
        command.insert(1, "-q")
    log.info("fetching Kafka jars with Maven into %s", target)
    result = subprocess.run(command, capture_output=quiet, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise KafkaLocalError(f"mvn failed ({result.returncode}): {result.stdout}{result.stderr}")
    shutil.copy(pom.parent / "log4j2.properties", staging / "log4j2.properties")
    (staging / ".complete").touch()
    try:
        staging.rename(target)
    except OSError:  # another process finished first; its copy is as good as ours
        shutil.rmtree(staging, ignore_errors=True)
    return target


def free_port() -> int:
    """Return a loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def die_with_parent() -> None:
    # Linux only: the broker gets SIGTERM if the process that started it dies, even by kill -9.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.setsid()


@dataclass
class Node:
    """One combined broker+controller process."""

    node_id: int
    port: int
    controller_port: int
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None
    log_offset: int = 0
    host: str = "127.0.0.1"  # the address both listeners bind and the broker advertises

    def has_started(self) -> bool:
        """Tell whether this run of the node logged that it serves clients."""
        log_file = self.data_dir / "server.log"
        if not log_file.exists():
            return False
        with log_file.open("rb") as handle:
            handle.seek(self.log_offset)
            return STARTED.encode() in handle.read()


@dataclass
class LocalKafka:
    """One or more Kafka nodes on loopback, formatted in `data_dir`."""

    data_dir: Path
    brokers: int = 1
    ports: list[int] = field(default_factory=list)
    heap: str = "512m"
    java: str = field(default_factory=lambda: shutil.which("java") or "java")
    nodes: list[Node] = field(default_factory=list)
    fast_failover: bool = True  # with brokers > 1: apply FAST_FAILOVER (False: Kafka's defaults)
    hosts: list[str] = field(default_factory=list)  # one address per node (empty: loopback)
    launch_prefix: Callable[[Node], list[str]] | None = None  # words before each node's command

    @property
    def bootstrap_servers(self) -> str:
        """Return the host:port list clients connect to."""
        return ",".join(f"{n.host}:{n.port}" for n in self.nodes)

    def start(self, timeout_s: float = 90.0) -> str:
        """Fetch jars if needed, format storage once, start every node and wait until served."""
        jars = fetch_jars()
        self.nodes = self._plan_nodes()
        cluster_id = self._cluster_id()
        for node in self.nodes:
            self._write_config(node)
            self._format(jars, node, cluster_id)
        for node in self.nodes:
            node.process = self._launch(jars, node)
        try:
            self._wait_started(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self.bootstrap_servers

    def _plan_nodes(self) -> list[Node]:
        if self.hosts:  # a host of its own each: the same ports everywhere
            if len(self.hosts) != self.brokers:
                raise KafkaLocalError(f"{self.brokers} nodes but {len(self.hosts)} hosts")
            ports = self.ports or [9092] * self.brokers
            return [
                Node(i + 1, ports[i], 9093, self.data_dir / f"node-{i + 1}", host=host)
                for i, host in enumerate(self.hosts)
            ]
        ports = self.ports or [free_port() for _ in range(self.brokers)]
        return [
            Node(i + 1, ports[i], free_port(), self.data_dir / f"node-{i + 1}")
            for i in range(self.brokers)
        ]

    def relaunch(self, timeout_s: float = 90.0) -> str:
        """Start the nodes again after `stop()`, on the same ports and data (a broker restart)."""
        jars = fetch_jars()
        for node in self.nodes:
            if node.process is None or node.process.poll() is not None:
                node.process = self._launch(jars, node)
        self._wait_started(timeout_s)
        return self.bootstrap_servers

    def _cluster_id(self) -> str:
        marker = self.data_dir / "cluster.id"
        if marker.exists():
            return marker.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cluster_id = urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        marker.write_text(cluster_id)
        return cluster_id

    def _write_config(self, node: Node) -> None:
        voters = ",".join(f"{n.node_id}@{n.host}:{n.controller_port}" for n in self.nodes)
        replicas = min(3, self.brokers)
        min_isr = min(2, self.brokers)
        settings = {
            "process.roles": "broker,controller",
            "node.id": node.node_id,
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://{node.host}:{node.port},CONTROLLER://{node.host}:"
            f"{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{node.host}:{node.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": node.data_dir / "log",
            "num.partitions": 3,
            "default.replication.factor": replicas,
            "min.insync.replicas": min_isr,
            "offsets.topic.replication.factor": replicas,
            "offsets.topic.num.partitions": 10,
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_isr,
            "transaction.state.log.num.partitions": 10,
            "group.initial.rebalance.delay.ms": 0,
            "auto.create.topics.enable": "false",
            "log.cleaner.min.compaction.lag.ms": 0,
        }
        if self.brokers > 1 and self.fast_failover:
            settings |= FAST_FAILOVER
        node.data_dir.mkdir(parents=True, exist_ok=True)
        text = "".join(f"{key}={value}\n" for key, value in settings.items())
        (node.data_dir / "server.properties").write_text(text)

    def _java(self, jars: Path, node: Node, main: str, *args: str) -> list[str]:
        return [
            self.java,
            f"-Xmx{self.heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={jars / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={node.data_dir}",
            "-cp",
            f"{jars}/*",
            main,
            *args,
        ]

    def _format(self, jars: Path, node: Node, cluster_id: str) -> None:
        if (node.data_dir / "log" / "meta.properties").exists():
            return  # already formatted: keep the data of earlier runs
        command = self._java(
            jars,
            node,
            "kafka.tools.StorageTool",
            "format",
            f"--cluster-id={cluster_id}",  # one token: an id may start with "-"
            "-c",
            str(node.data_dir / "server.properties"),
        )
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise KafkaLocalError(
                f"formatting node {node.node_id} failed: {result.stdout}{result.stderr}"
            )

    def _launch(self, jars: Path, node: Node) -> subprocess.Popen[bytes]:
        command = self._java(jars, node, "kafka.Kafka", str(node.data_dir / "server.properties"))
        if self.launch_prefix is not None:
            command = self.launch_prefix(node) + command
        log_file = node.data_dir / "server.log"
        node.log_offset = log_file.stat().st_size if log_file.exists() else 0
        out = (node.data_dir / "stdout.log").open("ab")
        # preexec_fn only calls prctl and setsid, both safe between fork and exec.
        return subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # noqa: PLW1509
        )

    def _wait_started(self, timeout_s: float, nodes: list[Node] | None = None) -> None:
        deadline = time.monotonic() + timeout_s
        pending = list(self.nodes if nodes is None else nodes)
        while pending:
            for node in list(pending):
                assert node.process is not None
                if node.process.poll() is not None:
                    tail = (node.data_dir / "stdout.log").read_text(errors="replace")[-2000:]
                    raise KafkaLocalError(f"node {node.node_id} exited: {tail}")
                if node.has_started():
                    pending.remove(node)
            if time.monotonic() > deadline:
                raise KafkaLocalError(f"Kafka did not start within {timeout_s:.0f}s")
            time.sleep(0.2)

    def stop_node(self, node: Node, timeout_s: float = 30.0) -> None:
        """Stop one node: SIGTERM for a controlled shutdown, SIGKILL if it hangs."""
        process = node.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        process.send_signal(signal.SIGCONT)  # a paused node handles SIGTERM only once resumed
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self) -> None:
        """Stop every node (all at once, so a lone survivor does not wait for quorum)."""
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
                node.process.send_signal(signal.SIGCONT)
        for node in self.nodes:
            self.stop_node(node)

    def node(self, node_id: int) -> Node:
        """Return the node with this id (1-based)."""
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise KafkaLocalError(f"no node {node_id} (nodes: {[n.node_id for n in self.nodes]})")

    def control(self, action: str, node_id: int, timeout_s: float = 90.0) -> str:
        """Apply one of ACTIONS to one node; returns what was done, for the operator."""
        node = self.node(node_id)
        running = node.process is not None and node.process.poll() is None
        if action == "restart":
            self.stop_node(node)
            node.process = self._launch(fetch_jars(), node)
            self._wait_started(timeout_s, [node])
            return f"node {node_id} restarted (pid {node.process.pid})"
        if not running:
            raise KafkaLocalError(f"node {node_id} is not running (use restart)")
        assert node.process is not None
        if action == "stop":
            self.stop_node(node)
        elif action == "kill":
            node.process.kill()
            node.process.wait()
        elif action in ("pause", "resume"):
            node.process.send_signal(signal.SIGSTOP if action == "pause" else signal.SIGCONT)
        else:
            raise KafkaLocalError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
        return f"node {node_id}: {action} done (pid {node.process.pid})"

    def active_controller(self) -> int | None:
        """Return the node that last became the active KRaft controller (highest epoch, from the
        nodes' logs), or None before any did."""
        found = re.compile(
            rb"\[QuorumController id=(\d+)\] Becoming the active controller at epoch (\d+)"
        )
        best: tuple[int, int] | None = None
        for node in self.nodes:
            log_file = node.data_dir / "server.log"
            if log_file.exists():
                for match in found.finditer(log_file.read_bytes()):
                    epoch, node_id = int(match.group(2)), int(match.group(1))
                    best = max(best or (epoch, node_id), (epoch, node_id))
        return None if best is None else best[1]
