"""The default single-event publish path: a plain ASGI handler in front of FastAPI's routing.

FastAPI's dependency injection, routing and middleware cost more per request than all of the
gateway's own checks (profiled: about a third of the CPU of a single-event publish).
`FastLaneApp` answers `POST /v1/topics/{topic}/events` itself, calling the same
`PublishAfterAck.publish` as the documented FastAPI route in `routes.py` beside this module
(likewise the population reads, `POST /v1/population/verify|lookup`, through the same
`PopulationReads.relay` and freshness check as `api/population.py`), and
hands every other request to FastAPI. Behaviour is identical: the integration tests run against
both paths (setting `LGSP_GATEWAY_FAST_LANE`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable

import orjson
from fastapi import FastAPI, Request
from opentelemetry import propagate, trace
from starlette.types import Receive, Scope, Send

from lgsp_common.problems import PROBLEM_MEDIA_TYPE, Problem, ProblemError
from lgsp_common.telemetry import SpanScope
from lgsp_gateway.api.deps import fresh_runtime
from lgsp_gateway.api.records_fast_lane import match_read, serve_read
from lgsp_gateway.bootstrap import Runtime
from lgsp_gateway.service.population_reads import READ_BODY_LIMIT
from lgsp_gateway.service.publish_after_ack import PublishAfterAck

log = logging.getLogger(__name__)
ROUTE = "/v1/topics/{topic}/events"
_PATH = re.compile(r"^/v1/topics/([A-Za-z0-9._-]{1,249})/events$")
_POPULATION = re.compile(r"^/v1/population/(verify|lookup)$")
Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]


class FastLaneApp(FastAPI):
    """FastAPI plus the fast lanes for single-event publishing and pull reads."""

    fast_lane_tracer: trace.Tracer | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve single-event publishes and pull reads directly; the rest goes through FastAPI."""
        runtime: Runtime | None = getattr(self.state, "runtime", None)
        if scope["type"] == "http" and runtime is not None and runtime.settings.fast_lane:
            if scope["method"] == "POST":
                found = _PATH.match(scope["path"])
                if found:
                    await self._publish(runtime.publish, found.group(1), scope, receive, send)
                    return
                found = _POPULATION.match(scope["path"])
                if found:
                    await self._population(runtime, found.group(1), scope, receive, send)
                    return
            elif scope["method"] == "GET" and (read := match_read(scope)) is not None:
                tracer = self.fast_lane_tracer or trace.get_tracer(__name__)
                await serve_read(self, runtime, tracer, read, scope, send)  # records_fast_lane.py
                return
        await super().__call__(scope, receive, send)

    async def _publish(
        self, publish: PublishAfterAck, topic: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        async def handle(headers: dict[str, str]) -> Answer:
            return await _answer(publish, topic, headers, receive, scope["path"])

        await self._serve_post(ROUTE, scope, send, handle)

    async def _population(
        self, runtime: Runtime, operation: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Relay a population read as `api/population.py`'s route does (same freshness check,
        answers, span and latency metric), without FastAPI's routing."""

        async def handle(headers: dict[str, str]) -> Answer:
            try:
                await fresh_runtime(Request({**scope, "app": self}), runtime)
                body = await _read(receive, READ_BODY_LIMIT)
                relayed = await runtime.reads.relay(operation, headers, body)
            except ProblemError as problem:
                instance = {"instance": scope["path"]}
                return _problem(problem.problem.model_copy(update=instance), problem.headers)
            except Exception:
                log.exception("unhandled error on the population fast lane")
                failure = Problem(title="Internal error", status=500, detail="It was logged.")
                return _problem(failure.model_copy(update={"instance": scope["path"]}), {})
            content_type = relayed.content_type.encode("latin-1")
            return relayed.status, relayed.body, [(b"content-type", content_type)]

        await self._serve_post(f"/v1/population/{operation}", scope, send, handle)

    async def _serve_post(
        self,
        route: str,
        scope: Scope,
        send: Send,
        handle: Callable[[dict[str, str]], Awaitable[Answer]],
    ) -> None:
        """Answer one POST on a fast lane: server span and latency metric as the routes'."""
        started = time.perf_counter()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        tracer = self.fast_lane_tracer or trace.get_tracer(__name__)
        with SpanScope(
            tracer,
            f"POST {route}",
            context=propagate.extract(headers),
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": "POST", "http.route": route},
        ) as span:
            status, body, extra = await handle(headers)
            span.set_attribute("http.response.status_code", status)
        await _send(send, status, body, extra)
        self.state.http_latency.labels("POST", route, str(status)).observe(
            time.perf_counter() - started
        )


async def _read(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = message.get("more_body", False) and size <= limit
    return b"".join(chunks)[: limit + 1]


async def _answer(
    publish: PublishAfterAck, topic: str, headers: dict[str, str], receive: Receive, path: str
) -> Answer:
    try:
        body = await _read(receive, publish.settings.max_body_bytes)
        accepted = await publish.publish(topic, headers, body)
    except ProblemError as problem:
        return _problem(problem.problem.model_copy(update={"instance": path}), problem.headers)
    except Exception:
        log.exception("unhandled error on the publish fast lane")
        failure = Problem(title="Internal error", status=500, detail="It was logged.")
        return _problem(failure.model_copy(update={"instance": path}), {})
    payload = {
        "id": accepted.id,
        "topic": accepted.topic,
        "partition": accepted.partition,
        "offset": accepted.offset,
    }
    return 202, orjson.dumps(payload), [(b"content-type", b"application/json")]


def _problem(problem: Problem, headers: dict[str, str]) -> Answer:
    body = orjson.dumps(problem.model_dump(exclude_none=True))
    extra = [(b"content-type", PROBLEM_MEDIA_TYPE.encode())]
    extra += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return problem.status, body, extra


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
