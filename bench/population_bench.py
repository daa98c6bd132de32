"""Population adapter: verifications/s and p99, cold and warm cache, against the upstream alone;
and the department's path, through the gateway (connect once), against the adapter alone.

    uv run python bench/population_bench.py [--count 100000] [--generate 1000000]
        [--seconds 10] [--connections 32] [--latency-ms 0] [--growth-seconds S | --no-growth]
        [--no-through-gateway]

Measures, on this machine:
1. the time to generate `--generate` synthetic citizens (the generator alone, then generator +
   SQLite store with its index, i.e. `lgsp population build-db`);
2. the baseline: POST /citizens/verify straight to the simulated upstream process;
3. the adapter process (gateway token, registry consumer check, audit record and verification
   event acknowledged by Kafka on every call) with a cold cache (every id read from the
   upstream) and a warm cache (the same ids again);
4. through the gateway (`--through-gateway`, the default; one more window of `--seconds`):
   the gateway started as its own process (`gateway_process.py`) with its own registry topic
   (the bench consumer, approved for the population resource with its purpose, and its API key),
   audit and DLQ topics named per run, rate limits too high to refuse, and the adapter's URL and
   shared token; wrk posts the warm run's bodies (the same file, so the adapter's cache holds
   every id) to `POST /v1/population/verify` with the consumer's key, at the same connections.
   Each call is authenticated by the gateway, relayed to the adapter (which audits it on its own
   chain) and audited by the gateway, whose answer waits for its audit record. Its
   verifications/s is compared with the adapter's warm figure of the same run (target
   >= 3,000/s, p99 < 20 ms); a gateway that does not start gives invalid figures.
Load comes from `wrk` (apt-get install wrk; only 2xx answers count, see `wrk_load.py`), each
request a distinct id in the baseline and the cold run (a run that would repeat an id is
invalid), and each scenario reads its own citizens (the cold run finds no upstream page warmed
by the baseline). `--json PATH` writes the figures; the exit status is 1 if any is invalid. Starts
a local Kafka unless KAFKA_BOOTSTRAP_SERVERS is set. wrk, adapter, upstream and broker share the
machine's cores, so the figures are a floor, comparable only within one run.

Growth (`growth.py`), on the load axis: the warm cache's verifications/s and p99 at 1x, 2x and
4x `--connections`, each factor preceded by the upstream alone at the same connections over
the same ids (the warm run's citizens, so both sides read warm pages) for `--growth-seconds`
(default `--seconds`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import httpx
from figures import Figure, Target, finish, invalid
from gateway_process import start_gateway_process
from growth import Growth, Point, grow
from population_bench_support import (
    PURPOSE,
    SEED,
    TOKEN,
    Result,
    bodies_file,
    identity,
    kafka_bootstrap,
    prepare_gateway,
    prepare_kafka,
    report_generation,
    start_adapter,
)
from wrk_load import run_wrk

from lgsp_common.settings import KafkaSettings
from lgsp_simulators.national_population.generator import generate_citizens
from lgsp_simulators.national_population.process import UpstreamProcess
from lgsp_simulators.national_population.store import build_database
from lgsp_vn.citizen import Citizen

ROOT = Path(__file__).resolve().parents[1]
HOT = 1000  # citizens of the warm-cache run, each verified once through the adapter first
PRIME_PER_CONNECTION = 4  # calls per connection through a fresh gateway before its window
THROUGH_RATE = "through the gateway, warm cache verifications/s"
THROUGH_P99 = "through the gateway p99"
THROUGH_RATE_TARGET, THROUGH_P99_TARGET = Target(">=", 3000), Target("<", 20)


# Each wrk thread walks its own stride of the bodies file; `wrk_load.COUNTING` (appended by
# run_wrk) numbers the threads and counts 2xx answers apart from the others.
WRK_REQUEST = """
function request()
  local body = bodies[(i % #bodies) + 1]
  i = i + stride
  return wrk.format("POST", nil, headers, body)
end
"""
WRK_INIT = """
function init(args)
  bodies = {}
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  stride, i = tonumber(args[2]), tid
  headers = {["Content-Type"] = "application/json", %s}
end
"""
# The adapter's call as the gateway makes it: shared token, consumer and purpose.
ADAPTER_HEADERS = (
    '["X-LGSP-Gateway-Token"] = args[3], ["X-LGSP-Consumer"] = "bench", '
    '["X-LGSP-Purpose"] = args[4]'
)
WRK_SCRIPT = WRK_INIT % ADAPTER_HEADERS + WRK_REQUEST
# A department's call through the gateway: its consumer key. The gateway takes the consumer's
# purpose from the registry (and sends it on to the adapter); the purpose header is sent as a
# department's client would, the gateway does not read it.
GATEWAY_WRK_SCRIPT = (
    WRK_INIT % '["X-API-Key"] = args[3], ["X-LGSP-Purpose"] = args[4]' + WRK_REQUEST
)


def wrk(
    name: str,
    url: str,
    bodies: Path,
    seconds: int,
    connections: int,
    distinct: bool,
    key: str | None = None,
) -> Result:
    """Drive POSTs of the bodies file at a URL with wrk (2 threads); return the figures.

    With `distinct`, every request must carry an id not sent before: a run that would wrap
    around the file is an error (the figure is invalid), never a silent cache hit. With `key`
    (a consumer's API key) the requests are the gateway's (X-API-Key), else the adapter's
    (the gateway's shared token and consumer headers).
    """
    threads = min(2, connections)
    script, secret = (GATEWAY_WRK_SCRIPT, key) if key else (WRK_SCRIPT, TOKEN)
    found = run_wrk(url, script, seconds, connections, [str(bodies), str(threads), secret, PURPOSE])
    lines = sum(1 for _ in bodies.open(encoding="utf-8"))
    wrapped = max(0, found.requests - lines) if distinct else 0
    return Result(name, found.ok, found.rate, found.p50_ms, found.p99_ms, found.errors + wrapped)


def through_gateway(
    kafka: KafkaSettings, settings: dict[str, str], key: str, seconds: int, connections: int
) -> Callable[[Path], Result]:
    """Return the gateway window: start the gateway, prime it, drive wrk at its verify route
    with the bodies given (the warm run's), stop it.

    Priming posts the first `PRIME_PER_CONNECTION` x `connections` bodies once (the key's
    lookup cached, the pooled connections to the adapter opened), as the adapter was warm when
    it was measured. A gateway that does not start, or refuses a primed call five times, gives
    an invalid result (errors=1, the reason in its note), not a crash of the whole bench.
    """

    def window(bodies: Path) -> Result:
        name = "through the gateway, warm"
        try:
            process, url = start_gateway_process(kafka, settings)
        except RuntimeError as exc:
            return Result(name, 0, 0.0, 0.0, 0.0, 1, note=f"gateway: {exc}")
        verify = f"{url}/v1/population/verify"
        lines = bodies.read_text(encoding="utf-8").splitlines()
        primed = [json.loads(line) for line in lines[: PRIME_PER_CONNECTION * connections]]
        headers = {"X-API-Key": key, "X-LGSP-Purpose": PURPOSE}
        try:
            try:
                asyncio.run(post_each(verify, primed, connections, headers))
            except (RuntimeError, httpx.HTTPError) as exc:
                return Result(name, 0, 0.0, 0.0, 0.0, 1, note=f"gateway priming: {exc}"[:300])
            return wrk(name, verify, bodies, seconds, connections, distinct=False, key=key)
        finally:
            process.terminate()
            process.wait(30)

    return window


def measure(
    upstream: str,
    adapter: str,
    citizens: list[Citizen],
    seconds: int,
    connections: int,
    through: Callable[[Path], Result] | None = None,
) -> list[Result]:
    """Run the baseline, the cold and the warm scenarios on disjoint ids; return the results.

    The baseline, the cold run and the warm run each read their own citizens, so the cold run
    finds neither the adapter's cache nor the upstream's pages warmed by an earlier run; the
    warm run's ids are fetched once through the adapter first (its cache then holds them).
    `through` (the gateway window) runs last, on the warm run's bodies file; its result is
    appended.
    """
    folder = Path(tempfile.mkdtemp(prefix="population-wrk-"))
    hot, rest = citizens[:HOT], citizens[HOT:]
    base_ids, cold_ids = rest[: len(rest) // 2], rest[len(rest) // 2 :]
    hot_bodies = bodies_file(folder, "hot", hot)
    asyncio.run(warm_up(f"{adapter}/v1/verify", hot, connections))
    results = [
        wrk("upstream alone (baseline)", f"{upstream}/citizens/verify",
            bodies_file(folder, "base", base_ids), seconds, connections, distinct=True),
        wrk("adapter, cold cache", f"{adapter}/v1/verify",
            bodies_file(folder, "cold", cold_ids), seconds, connections, distinct=True),
        wrk("adapter, warm cache", f"{adapter}/v1/verify", hot_bodies, seconds, connections,
            distinct=False),
    ]  # fmt: skip
    if through is not None:
        results.append(through(hot_bodies))
    return results


def warm_growth(
    upstream: str, adapter: str, citizens: list[Citizen], seconds: int, base: int
) -> Growth:
    """Warm-cache verifications/s and p99 at 1x, 2x, 4x `base` connections, against the
    upstream alone at each over the same (already warmed) citizens."""
    hot = bodies_file(Path(tempfile.mkdtemp(prefix="population-growth-")), "hot", citizens[:HOT])

    def point(connections: int) -> Point:
        alone = wrk("upstream, same ids", f"{upstream}/citizens/verify", hot, seconds,
                    connections, distinct=False)  # fmt: skip
        warm = wrk("adapter, warm cache", f"{adapter}/v1/verify", hot, seconds, connections,
                   distinct=False)  # fmt: skip
        return Point(warm.rate, warm.p99_ms, alone.rate, alone.p99_ms, warm.errors + alone.errors)

    return grow("adapter warm cache verifications/s", "req/s", "load", "connections", base,
                point, "upstream alone, same ids")  # fmt: skip


async def warm_up(url: str, citizens: list[Citizen], connections: int) -> None:
    """Verify every citizen once through the adapter, so that its cache holds them all."""
    headers = {"X-LGSP-Gateway-Token": TOKEN, "X-LGSP-Consumer": "bench", "X-LGSP-Purpose": PURPOSE}
    await post_each(url, [identity(c) for c in citizens], connections, headers)


async def post_each(
    url: str, bodies: list[dict[str, str]], connections: int, headers: dict[str, str]
) -> None:
    """POST every body once from `connections` concurrent clients; raise unless all answer 200."""
    queue = list(bodies)
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:

        async def worker() -> None:
            while queue:
                body = queue.pop()
                for _ in range(5):  # a 503 (upstream deadline on a loaded box) is retried
                    answer = await http.post(url, json=body, headers=headers)
                    if answer.status_code == 200:
                        break
                else:
                    raise RuntimeError(f"warm-up answered {answer.status_code}: {answer.text}")

        await asyncio.gather(*(worker() for _ in range(connections)))


def population_figures(results: list[Result]) -> list[Figure]:
    """Return the figures: cold against the upstream alone, warm with its absolute targets, and
    (a fourth result) through the gateway against the adapter's warm figure."""
    base, cold, warm, *through = results
    return [
        Figure("upstream alone verifications/s", base.rate, "req/s", errors=base.errors,
               note=f"p99 {base.p99_ms:.1f} ms"),
        Figure("adapter cold cache verifications/s", cold.rate, "req/s", base.rate,
               "upstream alone", Target(">=", 0.5, "ratio"), cold.errors + base.errors),
        Figure("adapter cold cache p99", cold.p99_ms, "ms", base.p99_ms, "upstream alone",
               errors=cold.errors),
        Figure("adapter warm cache verifications/s", warm.rate, "req/s", base.rate,
               "upstream alone", Target(">=", 5000), warm.errors),
        Figure("adapter warm cache p99", warm.p99_ms, "ms", base.p99_ms, "upstream alone",
               Target("<", 10), warm.errors),
        *(gateway_figures(warm, through[0]) if through else []),
    ]  # fmt: skip


def gateway_figures(warm: Result, through: Result) -> list[Figure]:
    """Return the gateway path's figures; the adapter's warm run (same ids, run) is the baseline."""
    if through.note:
        return [invalid(THROUGH_RATE, "req/s", through.note, THROUGH_RATE_TARGET),
                invalid(THROUGH_P99, "ms", through.note, THROUGH_P99_TARGET)]  # fmt: skip
    return [
        Figure(THROUGH_RATE, through.rate, "req/s", warm.rate, "adapter warm cache",
               THROUGH_RATE_TARGET, through.errors + warm.errors),
        Figure(THROUGH_P99, through.p99_ms, "ms", warm.p99_ms, "adapter warm cache",
               THROUGH_P99_TARGET, through.errors),
    ]  # fmt: skip


def run(args: argparse.Namespace) -> tuple[list[Figure], list[Growth]]:
    """Prepare everything, measure, print the figures; return them and the growth."""
    folder = Path(tempfile.mkdtemp(prefix="population-bench-"))
    if args.generate:
        report_generation(args.generate, folder)
    db = ROOT / "var" / "bench" / f"population-{args.count}-s{SEED}.sqlite"
    state = "built" if build_database(db, args.count, SEED).built else "reused"
    print(f"Population database: {args.count:,} citizens ({state}: {db})")
    citizens = list(generate_citizens(SEED, args.count))
    with ExitStack() as stack:
        bootstrap = kafka_bootstrap(stack, folder)
        kafka = KafkaSettings(bootstrap_servers=bootstrap)
        run_id = uuid.uuid4().hex[:8]
        env = asyncio.run(prepare_kafka(kafka, run_id))
        quiet = {"POPULATION_UPSTREAM_LOG_LEVEL": "WARNING"}
        upstream = stack.enter_context(UpstreamProcess(db, folder / "upstream.log", env=quiet))
        if args.latency_ms:
            upstream.set_faults(latency_ms=args.latency_ms)
        process, adapter = start_adapter(bootstrap, upstream.url, env, folder / "adapter.log")
        stack.callback(lambda: (process.terminate(), process.wait(15)))
        through = None
        if args.through_gateway:
            settings, key = asyncio.run(prepare_gateway(kafka, run_id, adapter))
            through = through_gateway(kafka, settings, key, args.seconds, args.connections)
        results = measure(upstream.url, adapter, citizens, args.seconds, args.connections, through)
        seconds = args.growth_seconds or args.seconds
        growth = (
            [warm_growth(upstream.url, adapter, citizens, seconds, args.connections)]
            if args.growth
            else []
        )
    print(
        f"Verifications (wrk, {args.connections} connections, {args.seconds:g} s each, "
        f"upstream latency {args.latency_ms:g} ms):"
    )
    for result in results[:3]:
        print("  " + result.line(None if result is results[0] else results[0]))
    for result in results[3:]:
        print("  " + result.line(results[2]) + "  [ratio: to the adapter, warm cache]")
    print(f"  (logs in {folder})")
    return population_figures(results), growth


def main() -> None:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="citizens served")
    parser.add_argument("--generate", type=int, default=1_000_000, help="0: skip timing it")
    parser.add_argument("--seconds", type=int, default=10, help="per scenario")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="upstream latency to inject")
    parser.add_argument("--growth-seconds", type=int, help="per growth point (default --seconds)")
    parser.add_argument("--growth", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--through-gateway", action=argparse.BooleanOptionalAction, default=True,
        help="also verify the warm ids through the gateway (one more window of --seconds)",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="write the figures here (run_all.py)")
    args = parser.parse_args()
    figures, growth = run(args)
    sys.exit(finish("population", figures, args.json, growth))


if __name__ == "__main__":
    main()
