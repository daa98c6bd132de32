"""One HTTP attempt to a webhook URL: the host checked again, no redirect followed.

A host name is resolved (cached briefly) and refused when any of its addresses is loopback,
private or link-local (`lgsp_common.webhooks.address_refusal`); the registry could only judge
literal addresses. Redirects are never followed: a 3xx is a failed attempt.

The client is aiohttp's: with dozens of deliveries in flight, httpx's connection pool cost
more CPU than everything else of a delivery together (measured with bench/share_webhook_bench.py).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from lgsp_common.webhooks import address_refusal, url_refusal

CACHE_S = 30.0


@dataclass(frozen=True)
class Attempt:
    """What one attempt gave: a status, or why no answer; a Retry-After; whether to retry."""

    status: int | None
    reason: str
    retry_after: str | None = None
    final: bool = False

    @property
    def delivered(self) -> bool:
        """Tell whether the receiver acknowledged (2xx)."""
        return self.status is not None and 200 <= self.status < 300


class WebhookSender:
    """POSTs signed bodies with one pooled HTTP client."""

    def __init__(self, client: aiohttp.ClientSession, allow_loopback: bool) -> None:
        self._client = client
        self._allow_loopback = allow_loopback
        self._hosts: dict[str, tuple[float, str | None]] = {}

    async def _host_refusal(self, url: str) -> str | None:
        cached = self._hosts.get(url)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        found = await self._judge(url)
        if len(self._hosts) > 10_000:
            self._hosts.clear()
        self._hosts[url] = (time.monotonic() + CACHE_S, found)
        return found

    async def _judge(self, url: str) -> str | None:
        refusal = url_refusal(url, self._allow_loopback)
        host = urlsplit(url).hostname or ""
        if refusal is not None:
            return refusal
        try:
            ipaddress.ip_address(host)
            return None  # a literal address was judged by url_refusal
        except ValueError:
            pass
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except OSError:
            return None  # unresolvable: the attempt fails as a connection error and is retried
        found = None
        for info in infos:
            found = address_refusal(ipaddress.ip_address(info[4][0]), self._allow_loopback)
            if found:
                break
        return found

    async def post(self, url: str, body: str, headers: dict[str, str]) -> Attempt:
        """Make one attempt; never raises for the receiver's failures."""
        refusal = await self._host_refusal(url)
        if refusal is not None:
            return Attempt(None, "url_refused", final=True)
        try:
            async with self._client.post(
                url, data=body.encode(), headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                status = response.status
                retry_after = response.headers.get("retry-after")
        except TimeoutError:
            return Attempt(None, "timeout")
        except aiohttp.ClientConnectionError:
            return Attempt(None, "connect_error")
        except aiohttp.ClientError:
            return Attempt(None, "http_error")
        reason = "ok" if 200 <= status < 300 else f"http_{status}"
        return Attempt(status, reason, retry_after)
