"""The bench's pull readers: follow a consumer's cursors through the gateway, 500 per request.

Three HTTP clients (`--client`), every one decoding each answer with orjson:

- `ahead` (the default): aiohttp (its C HTTP parser, as aiokafka parses records in C) following
  each answer's `Link: rel="next"` as soon as its headers arrive, so the next page is asked for
  while this one is decoded: one page ahead, as aiokafka's fetcher fetches ahead of the
  application that reads the baseline;
- `aiohttp`: the same client, one request at a time (the next asked for once this one is
  decoded);
- `httpx`: httpx (pure-Python HTTP/1.1 parsing), one request at a time.

Any answer but 200 raises: only successful answers count.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
import orjson
from figures import percentile
from share_pull_support import PAGE

CLIENTS = ("ahead", "aiohttp", "httpx")


@dataclass
class Pulled:
    """What the readers of one throughput measurement read, together."""

    records: int
    seconds: float
    answers: int
    latencies: list[float] = field(default_factory=list)  # ms per answer

    @property
    def rate(self) -> float:
        """Return records/s of all readers together."""
        return self.records / self.seconds

    @property
    def p99_ms(self) -> float | None:
        """Return the p99 of one answer's time (ms)."""
        return percentile(self.latencies, 0.99) if self.latencies else None


async def pull_throughput(
    url: str, topic: str, key: str, count: int, client: str = "ahead", readers: int = 1
) -> Pulled:
    """Read `count` records by following cursors, 500 per request, with each of `readers`
    concurrent readers (one HTTP client each, own cursors from the beginning), with `client`
    (see the module's doc). Any answer but 200 raises.
    """
    latencies: list[float] = []
    if client == "ahead":
        return await _pull_ahead(url, topic, key, count, readers, latencies)
    get = _aiohttp_reader if client == "aiohttp" else _httpx_reader
    async with AsyncExitStack() as stack:
        fetches = [await stack.enter_async_context(get(url, key)) for _ in range(readers)]
        started = time.monotonic()
        done = await asyncio.gather(*(_follow(f, topic, count, latencies) for f in fetches))
        elapsed = time.monotonic() - started
    return Pulled(sum(r for r, _ in done), elapsed, sum(a for _, a in done), latencies)


async def _follow(fetch: Fetch, topic: str, count: int, latencies: list[float]) -> tuple[int, int]:
    """Follow the cursors from the beginning until `count` records are read; (read, answers)."""
    read, answers, position = 0, 0, "earliest"
    while read < count:
        asked = time.perf_counter()
        status, content = await fetch(
            f"/v1/topics/{topic}/records",
            {"position": position, "max_records": PAGE, "wait_ms": 1000},
        )
        if status != 200:
            raise RuntimeError(f"answer {status}: {content.decode(errors='replace')[:200]}")
        body = orjson.loads(content)
        latencies.append((time.perf_counter() - asked) * 1000)
        read += len(body["records"])
        answers += 1
        position = body["next"]
    return read, answers


async def _pull_ahead(
    url: str, topic: str, key: str, count: int, readers: int, latencies: list[float]
) -> Pulled:
    """`pull_throughput` with the `ahead` client: a session per reader, each noting when its
    next request is on the wire (aiohttp's request tracing)."""
    timeout = aiohttp.ClientTimeout(total=60)
    async with AsyncExitStack() as stack:
        tracing = aiohttp.TraceConfig()

        async def on_sent(_: Any, context: Any, __: Any) -> None:
            sent = (context.trace_request_ctx or {}).get("sent")
            if sent is not None and not sent.done():
                sent.set_result(None)

        tracing.on_request_headers_sent.append(on_sent)
        sessions = [
            await stack.enter_async_context(
                aiohttp.ClientSession(
                    url, headers={"x-api-key": key}, timeout=timeout, trace_configs=[tracing]
                )
            )
            for _ in range(readers)
        ]
        started = time.monotonic()
        done = await asyncio.gather(
            *(_follow_ahead(http, topic, count, latencies) for http in sessions)
        )
        elapsed = time.monotonic() - started
    return Pulled(sum(r for r, _ in done), elapsed, sum(a for _, a in done), latencies)


async def _follow_ahead(
    http: aiohttp.ClientSession, topic: str, count: int, latencies: list[float]
) -> tuple[int, int]:
    """Follow the `Link: rel="next"` of each answer as soon as its headers arrive, decoding the
    page while the next one is asked for (one page ahead, as aiokafka's fetcher)."""
    read, answers = 0, 0
    params = {"position": "earliest", "max_records": PAGE, "wait_ms": 1000}
    asked = time.perf_counter()
    pending = asyncio.ensure_future(http.get(f"/v1/topics/{topic}/records", params=params))
    try:
        while read < count:
            answer = await pending
            async with answer:
                if answer.status != 200:
                    text = await answer.text()
                    raise RuntimeError(f"answer {answer.status}: {text[:200]}")
                nxt = answer.links.get("next")
                if nxt is None:
                    raise RuntimeError("answer without a Link rel=next")
                following = time.perf_counter()
                sent = asyncio.get_running_loop().create_future()
                pending = asyncio.ensure_future(
                    http.get(str(nxt["url"]), trace_request_ctx={"sent": sent})
                )
                await asyncio.wait([sent, pending], return_when=asyncio.FIRST_COMPLETED)
                body = orjson.loads(await answer.read())
            latencies.append((time.perf_counter() - asked) * 1000)
            asked = following
            read += len(body["records"])
            answers += 1
    finally:
        pending.cancel()
        with contextlib.suppress(BaseException):
            (await pending).close()
    return read, answers


Fetch = Callable[[str, dict[str, Any]], Awaitable[tuple[int, bytes]]]


@asynccontextmanager
async def _httpx_reader(url: str, key: str) -> AsyncIterator[Fetch]:
    async with httpx.AsyncClient(base_url=url, headers={"x-api-key": key}, timeout=60) as http:

        async def fetch(path: str, params: dict[str, Any]) -> tuple[int, bytes]:
            answer = await http.get(path, params=params)
            return answer.status_code, answer.content

        yield fetch


@asynccontextmanager
async def _aiohttp_reader(url: str, key: str) -> AsyncIterator[Fetch]:
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(url, headers={"x-api-key": key}, timeout=timeout) as http:

        async def fetch(path: str, params: dict[str, Any]) -> tuple[int, bytes]:
            async with http.get(path, params=params) as answer:
                return answer.status, await answer.read()

        yield fetch
