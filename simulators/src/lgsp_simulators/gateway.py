"""The simulators' HTTP client of the gateway: publish (one event or a batch) and verify.

Like a careful integrator it retries what the gateway says to retry: 429 and 503 after
`Retry-After`, a batch's items that got 503 alone; and, for a short warm-up after onboarding,
401/403 (a new key or approval reaches the gateway through the registry's change topic a
moment after the registry answered). Every call is a client span whose W3C `traceparent` goes
in the request headers, so one trace follows an event from the simulator to the KPI.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from opentelemetry import propagate, trace

from lgsp_simulators.departments.drafts import Draft, Identity

BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"
IMPORT_RUN_HEADER = "lgsp-import-run"  # the batch is a historical import run (issue 16)
RETRYABLE = {429, 503}
WARMUP_STATUSES = {401, 403}


@dataclass(frozen=True, slots=True)
class Outcome:
    """The gateway's final word on one event: 202, a refusal, or 0 when it never answered."""

    status: int
    problem: dict[str, Any] | None = None
    time: datetime | None = None


def structured(draft: Draft, source: str, sent_at: datetime) -> dict[str, Any]:
    """Return a draft as a structured-mode CloudEvent."""
    return {
        "specversion": "1.0",
        "id": draft.event_id,
        "source": f"/sources/{source}",
        "type": draft.event_type,
        "time": sent_at.isoformat(),
        "datacontenttype": "application/json",
        "data": draft.payload,
    }


def _retry_after(response: httpx.Response | None, attempt: int) -> float:
    if response is not None:
        try:
            seconds = float(str(response.headers.get("retry-after", "")))
            return float(max(0.2, min(30.0, seconds)))
        except ValueError:
            pass
    return min(5.0, 0.2 * (1 << min(attempt, 8)))


def _problem(response: httpx.Response) -> dict[str, Any] | None:
    try:
        found = response.json()
    except ValueError:
        return {"title": response.text[:200]}
    return found if isinstance(found, dict) else None


class GatewayClient:
    """Publishes and verifies through one gateway."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        tracer: trace.Tracer,
        *,
        warmup_s: float = 60.0,
        attempts: int = 20,
    ) -> None:
        self._http = http
        self._tracer = tracer
        self._warm_until = time.monotonic() + warmup_s
        self._attempts = attempts
        self._abandoned = False

    def abandon(self) -> None:
        """Stop retrying: calls in flight end with the answer they get (the run is stopping)."""
        self._abandoned = True

    def _warming(self) -> bool:
        return time.monotonic() < self._warm_until

    async def _post(
        self, name: str, path: str, headers: dict[str, str], body: bytes | None = None,
        json_body: Any = None, *, safe_to_repeat: bool = True,
    ) -> httpx.Response | None:  # fmt: skip
        """POST with retries; None when the gateway never answered.

        A call that is not `safe_to_repeat` (a verification: each one leaves an outcome event)
        is repeated only after a clear refusal, never after a 503 or a lost connection.
        """
        response: httpx.Response | None = None
        retry_on = RETRYABLE if safe_to_repeat else set()
        for attempt in range(self._attempts):
            with self._tracer.start_as_current_span(name, kind=trace.SpanKind.CLIENT) as span:
                sent = dict(headers)
                propagate.inject(sent)
                try:
                    response = await self._http.post(path, content=body, json=json_body,
                                                     headers=sent)  # fmt: skip
                except httpx.TransportError:
                    response = None
                    span.set_attribute("error.type", "transport")
                else:
                    span.set_attribute("http.response.status_code", response.status_code)
            if self._abandoned or (response is None and not safe_to_repeat):
                return response
            if response is not None and not (
                response.status_code in retry_on
                or (response.status_code in WARMUP_STATUSES and self._warming())
            ):
                return response
            await asyncio.sleep(_retry_after(response, attempt))
        return response

    async def publish_one(self, topic: str, key: str, source: str, draft: Draft) -> Outcome:
        """Publish one event in binary mode (payload as body, attributes in ce-* headers)."""
        sent_at = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "x-api-key": key,
            "ce-specversion": "1.0",
            "ce-id": draft.event_id,
            "ce-source": f"/sources/{source}",
            "ce-type": draft.event_type,
            "ce-time": sent_at.isoformat(),
        }
        body = httpx.Request("POST", "/", json=draft.payload).content
        response = await self._post(f"POST {topic} event", f"/v1/topics/{topic}/events",
                                    headers, body)  # fmt: skip
        if response is None:
            return Outcome(0)
        problem = None if response.status_code == 202 else _problem(response)
        return Outcome(response.status_code, problem, sent_at)

    async def publish_batch(
        self, topic: str, key: str, source: str, drafts: Sequence[Draft],
        *, times: Sequence[datetime] | None = None, import_run: str | None = None,
    ) -> list[Outcome]:  # fmt: skip
        """Publish events in one batch; items the broker did not ack (503) are sent again.

        `times` are the events' own times (else when sent); `import_run` declares the batch a
        historical import run (the `lgsp-import-run` header).
        """
        outcomes: dict[int, Outcome] = {}
        pending = list(range(len(drafts)))
        headers = {"content-type": BATCH_MEDIA_TYPE, "x-api-key": key}
        if import_run is not None:
            headers[IMPORT_RUN_HEADER] = import_run
        for attempt in range(self._attempts):
            sent_at = datetime.now(UTC)
            body = [structured(drafts[i], source, times[i] if times else sent_at) for i in pending]
            response = await self._post(f"POST {topic} batch", f"/v1/topics/{topic}/batches",
                                        headers, json_body=body)  # fmt: skip
            if response is None or response.status_code not in (202, 207):
                status = 0 if response is None else response.status_code
                problem = None if response is None else _problem(response)
                return [outcomes.get(i, Outcome(status, problem)) for i in range(len(drafts))]
            again = []
            for item in response.json()["items"]:
                index = pending[int(item["index"])]
                if item["status"] == 503:
                    again.append(index)
                else:
                    outcomes[index] = Outcome(int(item["status"]), item.get("problem"), sent_at)
            if not again or self._abandoned:
                break
            pending = again
            await asyncio.sleep(_retry_after(None, attempt))
        return [outcomes.get(i, Outcome(503)) for i in range(len(drafts))]

    async def verify(self, consumer_key: str, identity: Identity) -> tuple[int, dict[str, Any]]:
        """Verify a citizen through the gateway; returns (status, answer or problem)."""
        body = {
            "cccd": identity.cccd,
            "full_name": identity.full_name,
            "date_of_birth": identity.date_of_birth,
        }
        headers = {"x-api-key": consumer_key}
        response = await self._post("POST /v1/population/verify", "/v1/population/verify",
                                    headers, json_body=body, safe_to_repeat=False)  # fmt: skip
        if response is None:
            return 0, {}
        return response.status_code, _problem(response) or {}
