"""The harness itself on two test hosts: reachability, confinement, cut and heal, a host killed
whole, and the removal of an earlier run's leftovers (root; a few seconds)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from lgsp_devkit.netns import CONTROL_ADDRESS, TestNetwork, TrafficWatch, ip, remove_stale

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
FETCH = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=2).status)"


def fetch(prefix: list[str], url: str) -> subprocess.CompletedProcess[str]:
    """GET `url` from inside a host (`prefix`: its `ip netns exec` words)."""
    command = [*prefix, sys.executable, "-c", FETCH, url]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)


def wait_serving(prefix: list[str], url: str) -> None:
    """Wait (30 s at most) until `url` answers 200 from inside a host."""
    deadline = time.monotonic() + 30
    while fetch(prefix, url).stdout.strip() != "200":
        assert time.monotonic() < deadline, f"{url} does not answer"
        time.sleep(0.2)


def test_hosts_reach_each_other_and_nothing_else() -> None:
    with TestNetwork() as network:
        watch = TrafficWatch(network.prefix)
        watch.start()
        a, b = network.add_host("a", "10.251.0.201"), network.add_host("b", "10.251.0.202")
        server = b.run([sys.executable, "-m", "http.server", "--bind", b.address, "8000"])
        url = f"http://{b.address}:8000/"
        wait_serving(a.exec_prefix(), url)
        assert network.confined() == []
        assert "Network is unreachable" in fetch(a.exec_prefix(), "http://192.0.2.1/").stderr
        a.cut()
        assert fetch(a.exec_prefix(), url).returncode != 0
        a.heal()
        wait_serving(a.exec_prefix(), url)
        assert server.pid in b.pids()
        assert b.kill_all() >= 1 and server.poll() is not None and b.pids() == []
        watch.stop()
        assert watch.frames > 10 and watch.foreign == []
        prefix = network.prefix
    assert prefix not in ip("netns", "list") and prefix not in ip("-o", "link", "show")


def test_leftovers_of_an_earlier_run_are_removed() -> None:
    ip("netns", "add", "lgm0bad-x")
    ip("link", "add", "lgm0bad-y", "type", "veth", "peer", "name", "lgm0bad-z")
    with TestNetwork() as network:  # start() removes what an earlier run left behind
        assert "lgm0bad" not in ip("netns", "list") + ip("-o", "link", "show")
        assert ip("addr", "show", network.bridge).count(CONTROL_ADDRESS) == 1
    assert remove_stale() == []
