"""ASGI guard in front of every write: body size, media type, well-formed JSON, nesting depth.

It reads the body once (never more than the limit), answers the refusals itself as
problem+json, and replays the body to the application, so a route never sees a body that is
too large, not JSON, or nested deeper than the limit.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lgsp_common.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE, Problem
from lgsp_registry.domain.limits import json_depth

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Refusal(Exception):
    """A body refused before it reaches a route."""

    def __init__(self, status: int, title: str, detail: str, problem_type: str) -> None:
        super().__init__(detail)
        self.problem = Problem(
            type=PROBLEM_BASE + problem_type, title=title, status=status, detail=detail
        )


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def check_json(body: bytes, content_type: str, max_depth: int) -> Any:
    """Parse a request body, refusing a wrong media type, malformed JSON or deep nesting."""
    if not _is_json(content_type):
        raise Refusal(
            415, "Unsupported media type", "send application/json", "unsupported-media-type"
        )
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc) or "recursion" in str(exc).lower():
            detail = f"JSON nested deeper than {max_depth} levels"
            raise Refusal(422, "Too deeply nested", detail, "too-deeply-nested") from exc
        raise Refusal(
            400, "Malformed JSON", f"the body is not JSON: {exc}", "malformed-json"
        ) from exc
    depth = json_depth(value)
    if depth > max_depth:
        detail = f"JSON nested {depth} levels deep; the limit is {max_depth}"
        raise Refusal(422, "Too deeply nested", detail, "too-deeply-nested")
    return value


class BodyGuard:
    """Refuse oversized, non-JSON, malformed or too deeply nested bodies of write requests."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the body, then hand the request on with the body replayed."""
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(scope, receive)
            if body:
                headers = Headers(scope=scope)
                check_json(body, headers.get("content-type", ""), self.max_depth)
        except Refusal as refusal:
            await self._refuse(refusal, scope, receive, send)
            return
        if body is None:
            return  # the client went away
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, scope: Scope, receive: Receive) -> bytes | None:
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> Refusal:
        detail = f"the limit is {self.max_bytes} bytes"
        return Refusal(413, "Body too large", detail, "body-too-large")

    async def _refuse(self, refusal: Refusal, scope: Scope, receive: Receive, send: Send) -> None:
        problem = refusal.problem.model_copy(update={"instance": scope.get("path", "")})
        response = JSONResponse(
            problem.model_dump(exclude_none=True),
            status_code=problem.status,
            media_type=PROBLEM_MEDIA_TYPE,
        )
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
