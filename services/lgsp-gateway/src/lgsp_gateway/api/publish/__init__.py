"""Publishing events over HTTP: two entry points onto the same use cases.

- `fast_lane.py`: the default path of `POST /v1/topics/{topic}/events`, a plain ASGI handler in
  front of FastAPI (for throughput; `LGSP_GATEWAY_FAST_LANE=false` turns it off).
- `routes.py`: the FastAPI routes: the same single-event route (documented in OpenAPI, served
  when the fast lane is off) and the batch route.

Both call `service/publish_after_ack.py`, which answers 202 only after the broker's ack of the
event and of its audit record (503 `audit-unavailable` otherwise).
"""
