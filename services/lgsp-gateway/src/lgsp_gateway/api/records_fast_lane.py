"""The default pull-read path: `GET /v1/topics/{topic}/records` answered in front of FastAPI.

FastAPI's routing, dependency injection and middleware cost about as much as the read itself on
a 500-record page (profiled: a sixth of the gateway's CPU). `FastLaneApp`
(`publish/fast_lane.py`) hands a read here when it is well formed, and this module calls the same
`PullRecords.read` as the documented FastAPI route in `records.py`, with the same registry
freshness check (`deps.fresh_runtime`), the same problem+json answers, a server span named after
the route and the same `http_request_duration_seconds` observation.

Identical answers by construction: `match_read` takes a request only when its query is one the
fast lane parses exactly as FastAPI would (each parameter at most once, integers as plain ASCII
digits within bounds, a position of allowed length); anything else (an invalid value, a repeated
parameter, a topic name the route refuses) goes to FastAPI, which answers it as always.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

import orjson
from fastapi import FastAPI, Request
from opentelemetry import propagate, trace
from starlette.datastructures import Headers
from starlette.types import Scope, Send

from lgsp_common.problems import PROBLEM_MEDIA_TYPE, Problem, ProblemError
from lgsp_gateway.api.deps import fresh_runtime
from lgsp_gateway.api.records import (
    DEFAULT_MAX_RECORDS,
    DEFAULT_POSITION,
    DEFAULT_WAIT_MS,
    MAX_RECORDS,
    MAX_WAIT_MS,
    next_link,
)
from lgsp_gateway.bootstrap import Runtime
from lgsp_gateway.domain.cursor import MAX_CURSOR_CHARS

log = logging.getLogger(__name__)
ROUTE = "/v1/topics/{topic}/records"
_PATH = re.compile(r"^/v1/topics/([A-Za-z0-9._-]{1,249})/records$")
_DIGITS = re.compile(r"[0-9]{1,9}")
_NAMES = frozenset({"position", "max_records", "wait_ms"})
_JSON = [(b"content-type", b"application/json")]

Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]


@dataclass(frozen=True)
class ReadRequest:
    """A read the fast lane takes: the topic and its query, parsed as FastAPI would."""

    topic: str
    position: str
    max_records: int
    wait_ms: int


def _bounded(raw: str | None, default: int, low: int, high: int) -> int | None:
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def parse_read(topic: str, query_string: bytes) -> ReadRequest | None:
    """Return the read if its query is valid as FastAPI parses it; None to leave it to FastAPI."""
    values: dict[str, str] = {}
    # Starlette's own parse of the query string, so that values are decoded alike.
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name in _NAMES:
            if name in values:
                return None  # repeated: FastAPI's choice of value is its own business
            values[name] = value
    position = values.get("position", DEFAULT_POSITION)
    if not 1 <= len(position) <= MAX_CURSOR_CHARS:
        return None
    max_records = _bounded(values.get("max_records"), DEFAULT_MAX_RECORDS, 1, MAX_RECORDS)
    wait_ms = _bounded(values.get("wait_ms"), DEFAULT_WAIT_MS, 0, MAX_WAIT_MS)
    if max_records is None or wait_ms is None:
        return None
    return ReadRequest(topic, position, max_records, wait_ms)


def match_read(scope: Scope) -> ReadRequest | None:
    """Return the read if this GET is one the fast lane answers, else None."""
    found = _PATH.match(scope["path"])
    if found is None:
        return None
    return parse_read(found.group(1), scope.get("query_string", b""))


async def serve_read(
    app: FastAPI,
    runtime: Runtime,
    tracer: trace.Tracer,
    read: ReadRequest,
    scope: Scope,
    send: Send,
) -> None:
    """Answer one read as the FastAPI route would, traced and timed alike."""
    started = time.perf_counter()
    headers = Headers(scope=scope)
    with tracer.start_as_current_span(
        f"GET {ROUTE}",
        context=propagate.extract(headers),
        kind=trace.SpanKind.SERVER,
        attributes={"http.request.method": "GET", "http.route": ROUTE},
    ) as span:
        status, body, extra = await _answer(app, runtime, read, headers, scope)
        span.set_attribute("http.response.status_code", status)
    extra.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": extra})
    await send({"type": "http.response.body", "body": body})
    app.state.http_latency.labels("GET", ROUTE, str(status)).observe(time.perf_counter() - started)


async def _answer(
    app: FastAPI, runtime: Runtime, read: ReadRequest, headers: Headers, scope: Scope
) -> Answer:
    path = scope["path"]
    try:
        await fresh_runtime(Request({**scope, "app": app}), runtime)
        answer = await runtime.pull.read(
            read.topic, headers, read.position, read.max_records, read.wait_ms
        )
    except ProblemError as problem:
        return _problem(problem.problem, path, problem.headers)
    except Exception:  # as the app's catch-all handler answers it (lgsp_common.problems)
        log.exception("unhandled error on %s", path)
        failure = Problem(title="Internal error", status=500, detail="The error was logged.")
        return _problem(failure, path, {})
    link = next_link(path, answer.next, read.max_records, read.wait_ms)
    return 200, answer.body, [*_JSON, (b"link", link.encode())]


def _problem(problem: Problem, path: str, headers: dict[str, str]) -> Answer:
    body = problem.model_copy(update={"instance": problem.instance or path})
    extra = [(b"content-type", PROBLEM_MEDIA_TYPE.encode())]
    extra += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    return problem.status, orjson.dumps(body.model_dump(exclude_none=True)), extra
