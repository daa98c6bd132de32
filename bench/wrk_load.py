"""HTTP load with `wrk` where only 2xx answers count: a Lua script tallies the others.

wrk's own `Requests/sec` includes non-2xx answers; the script here counts every answer by
status in `response()` and prints one JSON line in `done()`: requests, 2xx answers, non-2xx
answers, socket errors (connect, read, write, timeout), the run's duration and the latency
percentiles (measured by wrk from the moment each request is written). `WrkResult.rate` is
2xx answers per second, and `errors` is everything else: any error makes a figure invalid.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# `request()` is left to the caller's part of the script (or wrk's default with wrk.body).
COUNTING = """
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function response(status, headers, body)
  if status >= 200 and status < 300 then ok = (ok or 0) + 1 else bad = (bad or 0) + 1 end
end
function done(summary, latency, requests)
  local ok_all, bad_all = 0, 0
  for _, t in ipairs(threads) do
    ok_all = ok_all + (t:get("ok") or 0)
    bad_all = bad_all + (t:get("bad") or 0)
  end
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %d, "ok": %d, "non2xx": %d, "socket_errors": %d, '
    .. '"seconds": %f, "p50": %f, "p99": %f}\\n', summary.requests, ok_all, bad_all,
    e.connect + e.read + e.write + e.timeout, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests: int
    ok: int
    non2xx: int
    socket_errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        """Return 2xx answers per second."""
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        """Return every request that did not end in a 2xx answer."""
        return self.non2xx + self.socket_errors


def parse_result(stdout: str) -> WrkResult:
    """Read the RESULT line the counting script prints."""
    if "RESULT " not in stdout:
        raise RuntimeError(f"wrk printed no result: {stdout[-500:]}")
    found = json.loads(stdout.split("RESULT ", 1)[1].splitlines()[0])
    return WrkResult(
        found["requests"],
        found["ok"],
        found["non2xx"],
        found["socket_errors"],
        found["seconds"],
        found["p50"],
        found["p99"],
    )


def run_wrk(
    url: str, script: str, seconds: float, connections: int, args: list[str] | None = None
) -> WrkResult:
    """Run wrk (2 threads at most) with `script` plus the counting part; return the figures."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    path = Path(tempfile.mkdtemp(prefix="wrk-")) / "load.lua"
    path.write_text(script + COUNTING, encoding="utf-8")
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "-s", str(path), url]
    if args:
        command += ["--", *args]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if os.environ.get("BENCH_DEBUG"):
        print(out)
    return parse_result(out)
