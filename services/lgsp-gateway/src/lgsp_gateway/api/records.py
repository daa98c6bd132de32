"""Pull reads (FastAPI): an approved consumer reads its topic by cursor, and commits a cursor.

The answer is a JSON object `{"records": [...], "next": "<cursor>"}`: each record a structured
CloudEvent (JSON format) with the extension attributes `kafkapartition` and `kafkaoffset`, its
`data` trimmed to the consumer's approved fields. The use case is `service/pull_records.py`.

The answer's `Link` header (RFC 8288, `rel="next"`) names the next page: the same read from the
`next` cursor. A client can ask for it as soon as the headers arrive and decode this page while
the gateway prepares the next one, as aiokafka's fetcher fetches ahead of its application
(`httpx` and `aiohttp` parse the header as `response.links`).

The read route documented here is also served, by default, in front of FastAPI
(`records_fast_lane.py`, setting `LGSP_GATEWAY_FAST_LANE`) with the same answers.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from lgsp_common.problems import problem_responses
from lgsp_gateway.api.deps import PullDep
from lgsp_gateway.domain.cursor import MAX_CURSOR_CHARS

router = APIRouter(prefix="/v1/topics", tags=["reads"])
TOPIC_PATTERN = r"^[A-Za-z0-9._-]{1,249}$"
TOPIC = Path(pattern=TOPIC_PATTERN, description="The topic to read")
# The read's query bounds, shared with the fast lane (`records_fast_lane.py`).
DEFAULT_POSITION, DEFAULT_MAX_RECORDS, DEFAULT_WAIT_MS = "committed", 100, 0
MAX_RECORDS, MAX_WAIT_MS = 1000, 30_000


def next_link(path: str, cursor: str, max_records: int, wait_ms: int) -> str:
    """Return the `Link` header naming the next page: this read from the `next` cursor."""
    query = urlencode({"position": cursor, "max_records": max_records, "wait_ms": wait_ms})
    return f'<{path}?{query}>; rel="next"'


class ReadRecord(BaseModel):
    """One record as a structured CloudEvent, its data trimmed to the approved fields."""

    model_config = ConfigDict(extra="allow")

    specversion: str = Field(examples=["1.0"])
    id: str
    source: str
    type: str
    time: str | None = None
    subject: str | None = None
    dataschema: str | None = None
    datacontenttype: str | None = Field(default=None, examples=["application/json"])
    kafkapartition: int = Field(description="Extension attribute: the record's Kafka partition")
    kafkaoffset: int = Field(description="Extension attribute: the record's Kafka offset")
    data: Any = Field(description="The payload, only the fields the consumer was approved for")


class RecordsPage(BaseModel):
    """Records from the requested position, and the cursor to continue from."""

    records: list[ReadRecord]
    next: str = Field(description="Opaque signed cursor: pass it as `position` next time")


class CommitBody(BaseModel):
    """The cursor whose positions become the consumer's committed position."""

    model_config = ConfigDict(extra="forbid")

    cursor: str = Field(min_length=1, max_length=MAX_CURSOR_CHARS)


class Committed(BaseModel):
    """The committed positions (partition → next offset) of group `lgsp.consumer.<id>`."""

    group: str
    positions: dict[str, int]


@router.get(
    "/{topic}/records",
    response_model=RecordsPage,
    responses=problem_responses(400, 401, 403, 422, 503),
    summary="Đọc dữ liệu được chia sẻ (read a topic's records, approved fields only)",
)
async def read_records(
    request: Request,
    pull: PullDep,
    topic: Annotated[str, TOPIC],
    position: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_CURSOR_CHARS,
            description="`earliest`, `latest`, `committed` or the `next` cursor of an answer",
        ),
    ] = DEFAULT_POSITION,
    max_records: Annotated[
        int, Query(ge=1, le=MAX_RECORDS, description="Most records answered")
    ] = DEFAULT_MAX_RECORDS,
    wait_ms: Annotated[
        int,
        Query(ge=0, le=MAX_WAIT_MS, description="Long poll: wait this long for a first record"),
    ] = DEFAULT_WAIT_MS,
) -> Response:
    """Answer records after the position; every read is audited before it is answered."""
    answer = await pull.read(topic, request.headers, position, max_records, wait_ms)
    link = next_link(request.url.path, answer.next, max_records, wait_ms)
    return Response(answer.body, media_type="application/json", headers={"link": link})


@router.put(
    "/{topic}/records/committed",
    response_model=Committed,
    responses=problem_responses(400, 401, 403, 422, 503),
    summary="Ghi nhận vị trí đã đọc (commit a cursor as the consumer's position)",
)
async def commit_records(
    request: Request, pull: PullDep, topic: Annotated[str, TOPIC], body: CommitBody
) -> Committed:
    """Store the cursor's positions as the Kafka group offsets of `lgsp.consumer.<id>`."""
    group, positions = await pull.commit(topic, request.headers, body.cursor)
    return Committed(group=group, positions={str(p): o for p, o in positions.items()})
