"""The hot routes, POST /v1/verify and POST /v1/lookup, served by plain ASGI in front of FastAPI.

Profiled on a warm cache, FastAPI's middleware stack, routing and dependency injection took
about 60 % of the adapter's CPU per verification, the use case itself about 12 %.
`FastLaneApp` answers the two routes itself with the same `PopulationService` calls as the
documented routes in `routes.py` (same caller headers, same 16 KiB body limit, same answers and
problem+json errors, one server span and the request latency metric), and hands every other
request, and every request before start-up, to FastAPI. `POPULATION_ADAPTER_FAST_LANE=false`
turns it off; the unit tests run both paths.
"""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI
from opentelemetry import propagate, trace
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from lgsp_common.problems import PROBLEM_MEDIA_TYPE, Problem, ProblemError
from population_adapter.api.deps import MAX_BODY_BYTES
from population_adapter.bootstrap import Runtime
from population_adapter.service.access_record import CallerHeaders

log = logging.getLogger(__name__)
ROUTES = {"/v1/verify": "verify", "/v1/lookup": "lookup"}
Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]
_JSON = [(b"content-type", b"application/json")]


class FastLaneApp(FastAPI):
    """FastAPI plus a fast lane for the two population routes."""

    fast_lane_tracer: trace.Tracer | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve POST /v1/verify and /v1/lookup directly; the rest goes through FastAPI."""
        runtime: Runtime | None = getattr(self.state, "runtime", None)
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and runtime is not None
            and runtime.settings.fast_lane
            and (operation := ROUTES.get(scope["path"])) is not None
        ):
            await self._serve(runtime, operation, scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def _serve(
        self, runtime: Runtime, operation: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        started = time.perf_counter()
        route = scope["path"]
        headers = _headers(scope)
        tracer = self.fast_lane_tracer or trace.get_tracer(__name__)
        with tracer.start_as_current_span(
            f"POST {route}",
            context=propagate.extract(headers),
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": "POST", "http.route": route},
        ) as span:
            status, body, extra = await _answer(runtime, operation, headers, receive, route)
            span.set_attribute("http.response.status_code", status)
        extra = [*extra, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": extra})
        await send({"type": "http.response.body", "body": body})
        self.state.http_latency.labels("POST", route, str(status)).observe(
            time.perf_counter() - started
        )


def _headers(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in scope["headers"]:
        found.setdefault(key.decode("latin-1"), value.decode("latin-1"))
    return found


async def _answer(
    runtime: Runtime, operation: str, headers: dict[str, str], receive: Receive, path: str
) -> Answer:
    caller = CallerHeaders(
        headers.get("x-lgsp-gateway-token"),
        headers.get("x-lgsp-consumer"),
        headers.get("x-lgsp-purpose"),
    )
    try:
        body = await _read(receive)
        if len(body) > MAX_BODY_BYTES:
            raise ProblemError(413, "Body too large", f"the limit is {MAX_BODY_BYTES} bytes")
        service = runtime.population
        answer: BaseModel = await (
            service.verify(caller, body) if operation == "verify" else service.lookup(caller, body)
        )
    except ProblemError as problem:
        return _problem(problem.problem, path, problem.headers)
    except Exception:
        log.exception("unhandled error on %s", path)
        failure = Problem(title="Internal error", status=500, detail="The error was logged.")
        return _problem(failure, path, {})
    return 200, answer.__pydantic_serializer__.to_json(answer), _JSON


async def _read(receive: Receive) -> bytes:
    """Read the body, stopping once it is past the limit (the answer is a 413 then)."""
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = message.get("more_body", False) and size <= MAX_BODY_BYTES
    return b"".join(chunks)


def _problem(problem: Problem, path: str, headers: dict[str, str]) -> Answer:
    rendered = problem.model_copy(update={"instance": problem.instance or path})
    extra = [(b"content-type", PROBLEM_MEDIA_TYPE.encode())]
    extra += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    return problem.status, rendered.model_dump_json(exclude_none=True).encode(), extra
