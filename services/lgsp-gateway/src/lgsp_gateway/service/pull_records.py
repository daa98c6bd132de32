"""Pull reads: an approved consumer reads its topic, trimmed to its fields, every read audited.

`read` authorises the consumer key (approved, for this topic), turns `position` into every
partition's next offset (`earliest`, `latest`, `committed` or a signed cursor), then waits (long
poll, bounded by `wait_ms`) until some partition has records there, fetching with a pooled
reader. The authorisation is checked again each time the poll wakes (at least every
`RECHECK_S`) and once more just before answering, with the fields in force at that moment: a
revocation or a narrowed approval takes effect within the registry copy's delay plus
`RECHECK_S`. The answer is sent only after its audit record (consumer, purpose, partitions and
offset ranges, count, fields disclosed by name) is acknowledged by Kafka; otherwise `503`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import KafkaError

from lgsp_common.minimise import FieldSelection
from lgsp_gateway.adapters.audit_log import AckedAudit, AuditUnavailableError
from lgsp_gateway.adapters.directory import Directory
from lgsp_gateway.adapters.offsets import ConsumerOffsets, group_of
from lgsp_gateway.adapters.reader_pool import ReaderPool, TopicFeed
from lgsp_gateway.domain.callers import Caller
from lgsp_gateway.domain.credentials import api_key_from
from lgsp_gateway.domain.cursor import Cursor, CursorError, decode_cursor, encode_cursor
from lgsp_gateway.domain.read_batch import ReadBatch, answer_body, batch_of
from lgsp_gateway.domain.rejections import Rejection, forbidden, unauthenticated
from lgsp_gateway.service.gatekeeper import Call
from lgsp_gateway.service.outcomes import Outcomes
from lgsp_gateway.service.read_ahead import Prepared, ReadAhead, page_key, render_slices
from lgsp_gateway.service.read_tracing import ReadTracing
from lgsp_gateway.settings import GatewaySettings

RECHECK_S = 0.25
KEYWORDS = ("earliest", "latest", "committed")
READ_ACTION = "event.read"
COMMIT_ACTION = "event.commit"
# Loop turns that carry the audit record onto the wire (signed, handed to the producer, sent)
# before the answer is rendered, so that its round trip overlaps the rendering.
AUDIT_HEAD_START = 3
PREFETCH_WAIT_MS = 300  # a read-ahead fetch waits this long at most for records (as a read does)
# Pages prepared ahead of a backlog reader: two, so that the loop has the next one to render
# while the answer before it waits for its audit ack and the client asks for it.
READ_AHEAD_PAGES = 2


@dataclass(frozen=True)
class PullAnswer:
    """One answer: its JSON body (`{"records": [...], "next": ...}`), the cursor after the
    records, the positions it encodes and how many records it holds."""

    body: bytes
    next: str
    positions: dict[int, int]
    count: int


def cursor_problem(error: CursorError) -> Rejection:
    """A cursor that is tampered with, malformed or issued to someone else: 400."""
    return Rejection(400, error.reason.replace("-", "_"), "The cursor cannot be used", error.detail)


def audit_unavailable(retry_after: int, why: str = "") -> Rejection:
    """The read's audit record was not acknowledged: nothing is disclosed."""
    return Rejection(
        503,
        "audit_unavailable",
        "The read cannot be audited now",
        f"no read is answered without its audit record{why}; retry later",
        headers={"Retry-After": str(retry_after)},
    )


def kafka_unavailable(retry_after: int, detail: str) -> Rejection:
    """Kafka did not answer the read or the commit."""
    return Rejection(
        503,
        "kafka_unavailable",
        "The topic cannot be read now",
        detail,
        headers={"Retry-After": str(retry_after)},
    )


class PullRecords:
    """Serves pull reads and commits of approved consumers."""

    def __init__(
        self,
        settings: GatewaySettings,
        directory: Directory,
        pool: ReaderPool,
        offsets: ConsumerOffsets,
        audit: AckedAudit,
        outcomes: Outcomes,
        tracing: ReadTracing,
    ) -> None:
        self._settings = settings
        self._directory = directory
        self._pool = pool
        self._offsets = offsets
        self._audit = audit
        self._outcomes = outcomes
        self._tracing = tracing
        self._key = settings.cursor_key.get_secret_value().encode()
        self._selections: dict[tuple[str, ...], FieldSelection] = {}
        self._ahead = ReadAhead()

    def authorise(self, headers: Mapping[str, str], topic: str) -> Caller:
        """Return the consumer if its key is valid and it is approved for this topic."""
        key = api_key_from(headers)
        caller = self._directory.authenticate(key) if key else None
        if caller is None or caller.kind != "consumer":
            raise unauthenticated()
        if caller.topic != topic:
            raise forbidden(f"consumer {caller.id!r} is not registered for {topic}")
        if not caller.approved:
            raise forbidden(f"consumer {caller.id!r} is not approved (or no longer) for {topic}")
        return caller

    def _selection(self, caller: Caller) -> FieldSelection:
        found = self._selections.get(caller.fields)
        if found is None:
            if len(self._selections) > 10_000:
                self._selections.clear()
            found = self._selections[caller.fields] = FieldSelection(caller.fields)
        return found

    async def _start(self, position: str, caller: Caller, feed: TopicFeed) -> dict[int, int]:
        if position in ("earliest", "latest"):
            return await feed.bounds(position)
        if position == "committed":
            found = await self._offsets.committed(caller.id, feed.topic, feed.partitions)
        else:
            try:
                cursor = decode_cursor(position, self._key, consumer_id=caller.id, topic=feed.topic)
            except CursorError as error:
                raise cursor_problem(error) from error
            found = {p: cursor.positions.get(p) for p in feed.partitions}
        if all(offset is not None for offset in found.values()):
            return {p: o for p, o in found.items() if o is not None}
        earliest = await feed.bounds("earliest")  # a partition never read (or added) starts there
        return {p: earliest[p] if o is None else o for p, o in found.items()}

    async def _poll(
        self, feed: TopicFeed, call: Call, start: dict[int, int], max_records: int, wait_ms: int
    ) -> tuple[Caller, dict[int, Sequence[Any]]]:
        deadline = time.monotonic() + wait_ms / 1000
        while True:
            changed = feed.changed()
            self.authorise(call.headers, call.topic)
            for p in feed.partitions:
                start.setdefault(p, 0)  # a partition added during the poll
            remaining = deadline - time.monotonic()
            if feed.has_data(start):
                fetch_ms = int(min(max(remaining * 1000, 300), 1000))
                fetched = await feed.fetch(start, max_records, fetch_ms)
                if any(fetched.values()):
                    return self.authorise(call.headers, call.topic), fetched
                remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self.authorise(call.headers, call.topic), {}
            waiting = self._outcomes.metrics.read_waiting.labels(call.topic)
            waiting.inc()
            try:
                with contextlib.suppress(TimeoutError):  # not wait_for: it can lose a cancel
                    async with asyncio.timeout(min(remaining, RECHECK_S)):
                        await changed.wait()
            finally:
                waiting.dec()

    async def read(
        self, topic: str, headers: Mapping[str, str], position: str, max_records: int, wait_ms: int
    ) -> PullAnswer:
        """Answer one pull: records from the position, the next cursor; audited before it."""
        call = Call(topic, headers, b"", datetime.now(UTC))
        caller: Caller | None = None
        fetched: Mapping[int, Sequence[Any]]
        try:
            caller = self.authorise(headers, topic)
            try:
                feed = await self._pool.feed(topic)
                start = await self._start(position, caller, feed)
                key = page_key(caller.id, topic, start, max_records)
                prepared = await self._ahead.take(key)
                if prepared is None:
                    caller, fetched = await self._poll(
                        feed, call, dict(start), max_records, wait_ms
                    )
                else:  # the check just before answering, as after a poll
                    caller, fetched = self.authorise(headers, topic), prepared.fetched
            except (KafkaError, LookupError) as exc:
                raise kafka_unavailable(self._settings.retry_after_s, repr(exc)) from exc
            selection = self._selection(caller)
            if prepared is not None and prepared.selection is selection:
                batch, events = prepared.batch, prepared.events
            else:
                batch, events = batch_of(start, fetched, selection), None
            audit = asyncio.create_task(self._audit_read(call, caller, batch))
            try:  # render while the audit record travels; answer only once it is acknowledged
                token = encode_cursor(Cursor(caller.id, topic, batch.positions), self._key)
                for _ in range(AUDIT_HEAD_START):
                    await asyncio.sleep(0)
                if events is None:
                    events = await render_slices(batch, selection)
                body = answer_body(events, token)
                # The next page is fetched and rendered while the audit record travels and the
                # client digests this answer: the event loop never waits idle for the ack.
                self._read_ahead(feed, caller, selection, batch.positions, max_records)
            finally:
                await audit
        except Rejection as rejection:
            await self._refused(call, caller, rejection, READ_ACTION)
            raise
        self._tracing.read(caller.id, topic, batch, feed.lag(batch.positions))
        return PullAnswer(body, token, batch.positions, batch.count)

    def _read_ahead(
        self,
        feed: TopicFeed,
        caller: Caller,
        selection: FieldSelection,
        positions: dict[int, int],
        max_records: int,
        depth: int = READ_AHEAD_PAGES,
    ) -> None:
        """Prepare the next `depth` pages, one after the other, while the topic holds more and
        a pooled reader is free."""
        if depth <= 0 or not feed.has_data(positions) or feed.idle_readers == 0:
            return
        after = dict(positions)
        task = self._ahead.prepare(
            page_key(caller.id, feed.topic, after, max_records),
            lambda: feed.fetch(after, max_records, PREFETCH_WAIT_MS),
            after,
            selection,
        )
        if depth > 1:
            task.add_done_callback(
                lambda done: self._read_further(done, feed, caller, selection, max_records, depth)
            )

    def _read_further(
        self,
        done: asyncio.Task[Prepared | None],
        feed: TopicFeed,
        caller: Caller,
        selection: FieldSelection,
        max_records: int,
        depth: int,
    ) -> None:
        page = None if done.cancelled() or done.exception() else done.result()
        if page is not None:
            after = page.batch.positions
            self._read_ahead(feed, caller, selection, after, max_records, depth - 1)

    async def _audit_read(self, call: Call, caller: Caller, batch: ReadBatch) -> None:
        fields: dict[str, Any] = {
            "timestamp": call.received_at.isoformat(),
            "actor": {"kind": "consumer", "id": caller.id},
            "action": READ_ACTION,
            "topic": call.topic,
            "purpose": caller.purpose or None,
            "result": "success",
            "status_code": 200,
            "event_ids": [],
            "record_count": batch.count,
            "offsets": batch.audit_ranges(),
            "disclosed_fields": sorted(batch.disclosed),
            "trace_id": self._tracing.trace_id(),
        }
        try:  # bounded by AUDIT_TIMEOUT_S and AUDIT_MAX_PENDING; counted by reason
            await self._audit.record(**fields)
        except AuditUnavailableError as exc:  # no ack: the records are not disclosed
            why = f" ({exc.reason}: {exc.detail})"
            raise audit_unavailable(self._settings.retry_after_s, why) from exc

    async def _refused(
        self, call: Call, caller: Caller | None, rejection: Rejection, action: str
    ) -> None:
        who = caller.id if caller else "anonymous"
        self._outcomes.metrics.rejected.labels(who, call.topic, rejection.reason).inc()
        if rejection.reason == "audit_unavailable":
            return  # the trail is what failed; the failure is counted
        purpose = caller.purpose if caller else None
        await self._outcomes.audit_refusal(
            call, caller, rejection, [], action=action, purpose=purpose
        )

    async def commit(
        self, topic: str, headers: Mapping[str, str], token: str
    ) -> tuple[str, dict[int, int]]:
        """Store a cursor's positions as the consumer's committed group offsets."""
        call = Call(topic, headers, b"", datetime.now(UTC))
        caller: Caller | None = None
        try:
            caller = self.authorise(headers, topic)
            try:
                cursor = decode_cursor(token, self._key, consumer_id=caller.id, topic=topic)
            except CursorError as error:
                raise cursor_problem(error) from error
            try:
                await self._offsets.commit(caller.id, topic, cursor.positions)
            except KafkaError as exc:
                raise kafka_unavailable(self._settings.retry_after_s, repr(exc)) from exc
        except Rejection as rejection:
            await self._refused(call, caller, rejection, COMMIT_ACTION)
            raise
        try:
            await self._outcomes.audit(
                call, caller, "success", 200, [], action=COMMIT_ACTION, purpose=caller.purpose
            )
        except AuditUnavailableError as exc:
            stored = "the positions were stored, committing again is safe"
            why = f" ({exc.reason}: {exc.detail}; {stored})"
            raise audit_unavailable(self._settings.retry_after_s, why) from exc
        return group_of(caller.id), dict(cursor.positions)
