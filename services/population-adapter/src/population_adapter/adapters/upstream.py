"""The resilient client of the national population database (simulated upstream).

One read goes: TTL cache (a fresh record is served without asking) → circuit breaker (open:
fail fast) → bounded concurrency → HTTP with a per-attempt timeout → retries with full-jitter
exponential backoff (tenacity), all inside one deadline so a caller waits a bounded time.
Reads are idempotent, so retrying them is safe. The citizen id travels in the request body,
never in a URL: URLs end up in access logs, proxies and span attributes.
The cache never serves past its TTL (cachetools' TTLCache on the monotonic clock), whether the
upstream is up or down.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx
from cachetools import TTLCache
from opentelemetry import propagate, trace
from pydantic import ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from lgsp_vn.citizen import Citizen
from population_adapter.adapters.breaker import (
    BreakerOpenError,
    BreakerState,
    CircuitBreaker,
    Clock,
)
from population_adapter.metrics import AdapterMetrics
from population_adapter.settings import AdapterSettings

LOOKUP_PATH = "/citizens/lookup"


@dataclass(frozen=True, slots=True)
class ResiliencePolicy:
    """Timeouts, retries, breaker, concurrency and cache limits of upstream reads."""

    timeout_s: float = 1.0
    deadline_s: float = 3.0
    attempts: int = 3
    backoff_s: float = 0.05
    backoff_max_s: float = 0.5
    max_concurrency: int = 16
    breaker_threshold: int = 5
    breaker_reset_s: float = 10.0
    cache_ttl_s: float = 60.0
    cache_max_entries: int = 100_000
    retry_after_s: int = 2

    @classmethod
    def from_settings(cls, settings: AdapterSettings) -> ResiliencePolicy:
        """Read the policy from the service settings."""
        return cls(
            timeout_s=settings.upstream_timeout_s,
            deadline_s=settings.upstream_deadline_s,
            attempts=settings.upstream_attempts,
            backoff_s=settings.retry_backoff_s,
            backoff_max_s=settings.retry_backoff_max_s,
            max_concurrency=settings.max_concurrency,
            breaker_threshold=settings.breaker_failure_threshold,
            breaker_reset_s=settings.breaker_reset_s,
            cache_ttl_s=settings.cache_ttl_s,
            cache_max_entries=settings.cache_max_entries,
            retry_after_s=settings.retry_after_s,
        )


class UpstreamUnavailableError(Exception):
    """The national database could not answer in time; `retry_after` is in whole seconds."""

    def __init__(self, reason: str, retry_after: str) -> None:
        super().__init__(f"population database unavailable ({reason})")
        self.reason = reason
        self.retry_after = retry_after


class TransientUpstreamError(Exception):
    """One attempt failed in a way a retry may fix (timeout, connection, 5xx)."""


class UpstreamProtocolError(Exception):
    """The upstream answered something a retry will not fix."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """A read's result: the record (None when there is none) and whether the cache served it."""

    citizen: Citizen | None
    cached: bool


class CitizenSource:
    """Reads citizens from the upstream with cache, breaker, retries and bounded concurrency."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        policy: ResiliencePolicy,
        metrics: AdapterMetrics,
        tracer: trace.Tracer,
        clock: Clock = time.monotonic,
    ) -> None:
        self._client = client
        self._policy = policy
        self._metrics = metrics
        self._tracer = tracer
        self._cache: TTLCache[str, Citizen] = TTLCache(
            policy.cache_max_entries, policy.cache_ttl_s, timer=clock
        )
        self._semaphore = asyncio.Semaphore(policy.max_concurrency)
        self.breaker = CircuitBreaker(
            policy.breaker_threshold, policy.breaker_reset_s, clock, self._on_breaker_change
        )
        metrics.breaker_state.set_function(lambda: float(self.breaker.state))
        metrics.cache_entries.set_function(lambda: float(len(self._cache)))

    async def fetch(self, cccd: str) -> Fetched:
        """Return the citizen (or None), from the cache while fresh, else from the upstream."""
        cached = self._cache.get(cccd)
        if cached is not None:
            self._metrics.cache_hits.inc()
            return Fetched(cached, cached=True)
        self._metrics.cache_misses.inc()
        citizen = await self._read_upstream(cccd)
        if citizen is not None and self._policy.cache_ttl_s > 0:
            self._cache[cccd] = citizen
        return Fetched(citizen, cached=False)

    async def _read_upstream(self, cccd: str) -> Citizen | None:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._policy.attempts),
            wait=wait_random_exponential(
                multiplier=self._policy.backoff_s, max=self._policy.backoff_max_s
            ),
            retry=retry_if_exception_type(TransientUpstreamError),
            before_sleep=self._count_retry,
            reraise=True,
        )
        retry_after = str(self._policy.retry_after_s)
        with self._tracer.start_as_current_span(
            "population.upstream.lookup", kind=trace.SpanKind.CLIENT
        ) as span:
            span.set_attribute("url.template", LOOKUP_PATH)
            try:
                async with asyncio.timeout(self._policy.deadline_s):
                    return await retrying(self._attempt, cccd)
            except BreakerOpenError as exc:
                span.set_attribute("population.upstream.failure", "circuit_open")
                raise UpstreamUnavailableError("circuit_open", exc.retry_after_header) from None
            except TimeoutError:
                span.set_attribute("population.upstream.failure", "deadline")
                raise UpstreamUnavailableError("deadline", retry_after) from None
            except (TransientUpstreamError, UpstreamProtocolError) as exc:
                span.set_attribute("population.upstream.failure", type(exc).__name__)
                raise UpstreamUnavailableError("upstream_error", retry_after) from None

    async def _attempt(self, cccd: str) -> Citizen | None:
        # Waiting for a slot is outside the breaker: local saturation is not an upstream fault.
        async with self._semaphore:
            with self.breaker.guard():
                self._metrics.upstream_in_flight.inc()
                started = time.perf_counter()
                try:
                    return await self._call(cccd)
                finally:
                    self._metrics.upstream_in_flight.dec()
                    self._metrics.upstream_latency.observe(time.perf_counter() - started)

    async def _call(self, cccd: str) -> Citizen | None:
        headers: dict[str, str] = {}
        propagate.inject(headers)
        try:
            response = await self._client.post(LOOKUP_PATH, json={"cccd": cccd}, headers=headers)
        except httpx.TimeoutException:
            self._metrics.upstream_calls.labels("timeout").inc()
            raise TransientUpstreamError("timeout") from None
        except httpx.TransportError as exc:
            self._metrics.upstream_calls.labels("transport_error").inc()
            raise TransientUpstreamError(type(exc).__name__) from None
        return self._parse(response)

    def _parse(self, response: httpx.Response) -> Citizen | None:
        status = response.status_code
        if status == 404:
            self._metrics.upstream_calls.labels("not_found").inc()
            return None
        if status == 429 or status >= 500:
            self._metrics.upstream_calls.labels("server_error").inc()
            raise TransientUpstreamError(f"status {status}")
        if status != 200:
            self._metrics.upstream_calls.labels("unexpected").inc()
            raise UpstreamProtocolError(f"status {status}")
        try:
            citizen = Citizen.model_validate_json(response.content)
        except ValidationError:
            self._metrics.upstream_calls.labels("unexpected").inc()
            raise UpstreamProtocolError("the record does not parse") from None
        self._metrics.upstream_calls.labels("ok").inc()
        return citizen

    def _count_retry(self, _: RetryCallState) -> None:
        self._metrics.upstream_retries.inc()

    def _on_breaker_change(self, state: BreakerState) -> None:
        self._metrics.breaker_transitions.labels(state.name.lower()).inc()
