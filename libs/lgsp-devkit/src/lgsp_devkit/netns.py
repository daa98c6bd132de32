"""Test hosts in Linux network namespaces, on the project's own private test subnet.

`TestNetwork` makes a bridge in the root namespace and one namespace per host, each joined to the
bridge by a veth pair, with addresses from `SUBNET` (10.251.0.0/24; the bridge itself is
`CONTROL_ADDRESS`, where the test process stands). A host's namespace has its loopback, its
`eth0` and one route: the subnet's. There is no default route, so a process on a test host can
reach the other test hosts and nothing else. IPv6 is off on every interface of the harness.

Every name starts with a per-run prefix, `lgm` and four hex digits (`lgm3f2a-k1`: interface
names stay within Linux's 15 characters). One harness runs at a time on a machine (a lock
file); at start it removes what an earlier run left behind (namespaces and links of the
`lgm????-` scheme), on exit everything it made. Needs root (`ip netns`, `ip link`).

A host runs processes (`Host.run`, `ip netns exec`), is killed whole (`Host.kill_all`: every
process in its namespace), is cut off (`Host.cut`: its link down) and healed (`Host.heal`).
`TrafficWatch` reads every frame on the harness's links (an AF_PACKET socket) and counts those
not between two addresses of the subnet: the check that nothing leaves it.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from lgsp_devkit.kafka_local import die_with_parent

log = logging.getLogger(__name__)
SUBNET = ipaddress.IPv4Network("10.251.0.0/24")
# IGMP membership reports go to 224.0.0.22, a link-local group no router forwards: on the link.
LINK_LOCAL_MULTICAST = ipaddress.ip_network("224.0.0.0/24")
CONTROL_ADDRESS = "10.251.0.1"  # the bridge: the test process's own address on the subnet
SCHEME = re.compile(r"^lgm[0-9a-f]{4}-")
LOCK_FILE = Path("/run/lock/lgsp-netns.lock")
ETH_P_ALL, ETH_P_IP, ETH_P_ARP = 0x0003, 0x0800, 0x0806


class NetnsError(RuntimeError):
    """A namespace, link or address of the harness could not be set up."""


def ip(*args: str, namespace: str | None = None, check: bool = True) -> str:
    """Run `ip ARGS` (inside `namespace` if given) and return its output."""
    command = ["ip", *(("-n", namespace) if namespace else ()), *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise NetnsError(f"{' '.join(command)}: {result.stderr.strip()}")
    return result.stdout


def _sysctl(name: str, value: str, namespace: str | None = None) -> None:
    prefix = ["ip", "netns", "exec", namespace] if namespace else []
    subprocess.run([*prefix, "sysctl", "-q", "-w", f"{name}={value}"], check=False)


def remove_stale() -> list[str]:
    """Delete namespaces and links of the `lgm????-` scheme (an earlier run's leftovers)."""
    removed = []
    for line in ip("netns", "list").splitlines():
        name = line.split()[0] if line.strip() else ""
        if SCHEME.match(name):
            kill_namespace(name)
            ip("netns", "delete", name, check=False)
            removed.append(name)
    for line in ip("-o", "link", "show").splitlines():
        found = re.match(r"^\d+: ([^:@]+)", line)
        if found and SCHEME.match(found.group(1)):
            ip("link", "delete", found.group(1), check=False)
            removed.append(found.group(1))
    return removed


def namespace_pids(namespace: str) -> list[int]:
    """Return the id of every process inside `namespace`."""
    return [int(p) for p in ip("netns", "pids", namespace, check=False).split()]


def kill_namespace(namespace: str, timeout_s: float = 10.0) -> int:
    """SIGKILL every process in `namespace` (SIGCONT too: a stopped one dies at once); wait."""
    deadline, killed = time.monotonic() + timeout_s, 0
    while pids := namespace_pids(namespace):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        if time.monotonic() > deadline:
            raise NetnsError(f"processes of {namespace} survive SIGKILL: {pids}")
        time.sleep(0.05)
    return killed


@dataclass
class Host:
    """One test host: a namespace with an address on the subnet, joined to the bridge."""

    name: str
    namespace: str
    address: str
    link: str  # the bridge's end of the host's veth pair
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def run(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start `command` inside the host; it dies with the test process (PR_SET_PDEATHSIG)."""
        out: IO[bytes] | int = subprocess.DEVNULL
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            out = log_path.open("ab")
        process = subprocess.Popen(
            self.exec_prefix() + list(command),
            env=dict(env) if env is not None else None,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # noqa: PLW1509 (prctl and setsid only)
        )
        self.processes.append(process)
        return process

    def exec_prefix(self) -> list[str]:
        """Return the words that run a command inside this host (`ip netns exec NS`)."""
        return ["ip", "netns", "exec", self.namespace]

    def pids(self) -> list[int]:
        """Return every process running inside the host."""
        return namespace_pids(self.namespace)

    def kill_all(self) -> int:
        """Kill the whole host: SIGKILL every process in its namespace; returns how many."""
        killed = kill_namespace(self.namespace)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
        return killed

    def cut(self) -> None:
        """Cut the host off the network: its link to the bridge goes down."""
        ip("link", "set", self.link, "down")

    def heal(self) -> None:
        """Bring the host's link up again."""
        ip("link", "set", self.link, "up")

    def routes(self) -> str:
        """Return the host's routing table (one route: the subnet's)."""
        return ip("route", "show", namespace=self.namespace)


@dataclass
class TestNetwork:
    """The bridge and the hosts of one run; use as a context manager (or start/stop)."""

    prefix: str = field(default_factory=lambda: f"lgm{secrets.token_hex(2)}")
    hosts: dict[str, Host] = field(default_factory=dict)
    _lock: IO[bytes] | None = None

    __test__ = False  # not a pytest test class

    @property
    def bridge(self) -> str:
        """Return the bridge's interface name."""
        return f"{self.prefix}-br"

    def start(self, lock_timeout_s: float = 600.0) -> None:
        """Take the machine's harness lock, remove stale leftovers, make the bridge."""
        if os.geteuid() != 0:
            raise NetnsError("the multi-host harness needs root (ip netns, veth, bridges)")
        if not SCHEME.match(self.prefix + "-") or len(self.prefix) != 7:
            raise NetnsError(f"prefix {self.prefix!r} does not follow the lgm???? scheme")
        self._take_lock(lock_timeout_s)
        stale = remove_stale()
        if stale:
            log.warning("removed leftovers of an earlier harness run: %s", ", ".join(stale))
        ip("link", "add", self.bridge, "type", "bridge")
        _sysctl(f"net.ipv6.conf.{self.bridge}.disable_ipv6", "1")
        ip("addr", "add", f"{CONTROL_ADDRESS}/{SUBNET.prefixlen}", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")

    def _take_lock(self, timeout_s: float) -> None:
        LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
        handle = LOCK_FILE.open("ab")
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.close()
                    raise NetnsError(f"another harness run holds {LOCK_FILE}") from None
                time.sleep(0.5)
        self._lock = handle

    def add_host(self, name: str, address: str) -> Host:
        """Make host `name` (≤ 6 characters) at `address`, a free address of the subnet."""
        if not re.fullmatch(r"[a-z0-9]{1,6}", name) or name in self.hosts:
            raise NetnsError(f"bad or repeated host name {name!r}")
        chosen = ipaddress.ip_address(address)
        taken = {CONTROL_ADDRESS, *(h.address for h in self.hosts.values())}
        if chosen not in SUBNET or address in taken or chosen == SUBNET.broadcast_address:
            raise NetnsError(f"{address} is not a free host address of {SUBNET}")
        host = Host(name, f"{self.prefix}-{name}", address, f"{self.prefix}-{name}")
        peer = f"{host.link}p"
        ip("netns", "add", host.namespace)
        self.hosts[name] = host
        ip("link", "add", host.link, "type", "veth", "peer", "name", peer)
        _sysctl(f"net.ipv6.conf.{host.link}.disable_ipv6", "1")
        ip("link", "set", host.link, "master", self.bridge)
        ip("link", "set", peer, "netns", host.namespace)
        ns = host.namespace
        _sysctl("net.ipv6.conf.all.disable_ipv6", "1", ns)
        _sysctl("net.ipv6.conf.default.disable_ipv6", "1", ns)
        ip("link", "set", peer, "name", "eth0", namespace=ns)
        ip("addr", "add", f"{address}/{SUBNET.prefixlen}", "dev", "eth0", namespace=ns)
        ip("link", "set", "lo", "up", namespace=ns)
        ip("link", "set", "eth0", "up", namespace=ns)
        ip("link", "set", host.link, "up")
        return host

    def stop(self) -> None:
        """Kill every host's processes, delete the namespaces, links and bridge; free the lock."""
        for host in self.hosts.values():
            with contextlib.suppress(NetnsError):
                host.kill_all()
            ip("netns", "delete", host.namespace, check=False)
            ip("link", "delete", host.link, check=False)  # gone with its peer's namespace
        self.hosts.clear()
        ip("link", "delete", self.bridge, check=False)
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None

    def confined(self) -> list[str]:
        """Return what breaks confinement: a host route that leaves the subnet (none wanted)."""
        found = []
        for host in self.hosts.values():
            for route in host.routes().splitlines():
                target = route.split()[0] if route.strip() else ""
                if target and not inside_subnet(target):
                    found.append(f"{host.name}: {route}")
        return found

    def __enter__(self) -> TestNetwork:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class TrafficWatch:
    """Counts the frames on the harness's links and those not between two subnet addresses."""

    prefix: str
    frames: int = 0
    foreign: list[str] = field(default_factory=list)  # "link: what" of each foreign frame
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Start reading frames in a background thread."""
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._read, args=(sock,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop reading; the counts stay."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _read(self, sock: socket.socket) -> None:
        with sock:
            while not self._stop.is_set():
                try:
                    frame, (link, *_rest) = sock.recvfrom(65535)
                except TimeoutError:
                    continue
                if link.startswith(self.prefix):
                    self.frames += 1
                    what = foreign_part(frame)
                    if what and len(self.foreign) < 1000:
                        self.foreign.append(f"{link}: {what}")


def inside_subnet(target: str) -> bool:
    """Tell whether a route's target ("default", an address or a network) lies in SUBNET."""
    try:
        network = ipaddress.ip_network(target, strict=False)
    except ValueError:  # "default", "unreachable", ...
        return False
    return isinstance(network, ipaddress.IPv4Network) and network.subnet_of(SUBNET)


def foreign_part(frame: bytes) -> str | None:
    """Describe what in an Ethernet frame is not subnet-to-subnet IPv4 or ARP (None: nothing)."""
    kind = int.from_bytes(frame[12:14], "big")
    if kind == ETH_P_IP:
        source, target = frame[26:30], frame[30:34]
    elif kind == ETH_P_ARP:
        source, target = frame[28:32], frame[38:42]
    else:
        return f"ethertype 0x{kind:04x}"
    ends = [ipaddress.ip_address(source), ipaddress.ip_address(target)]
    on_link = ends[0] in SUBNET and ends[1] in LINK_LOCAL_MULTICAST
    outside = [] if on_link else [str(a) for a in ends if a not in SUBNET]
    return f"{ends[0]} -> {ends[1]}" if outside else None
