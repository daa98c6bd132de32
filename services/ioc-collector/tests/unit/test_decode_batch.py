"""Decoding a batch gives, record by record, what `event_from_record` gives."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ioc_collector.adapters.decode import (
    ContractValidators,
    Poison,
    decode_batch,
    event_from_record,
)

ROOT = Path(__file__).resolve().parents[4]
TOPIC = "tthc.dossier.v1"
VALID = json.loads(
    (ROOT / f"contracts/topics/{TOPIC}/examples/valid/online-submitted-province.json").read_text()
)


@dataclass
class FakeRecord:
    value: bytes | None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    topic: str = TOPIC
    partition: int = 1
    offset: int = 0
    timestamp: int = 1_727_000_000_000
    key: bytes | None = b"k"


VALIDATORS = ContractValidators(lambda topic: None, ROOT / "contracts")
ABSENT = object()
offsets = st.sampled_from([UTC, timezone(timedelta(hours=7)), timezone(timedelta(minutes=-210))])
ODD_TIMES = [
    "2024-09-24T08:02:31+07:00",
    "2024-09-24T01:02:31.5Z",
    "2024-09-24T08:02:31-00:00",
    "2024-02-30T08:00:00+07:00",
    "2024-09-24 08:02:31+07:00",
    "2024-09-24",
    "1727000000",
    "2024-09-24T24:00:00Z",
    "0001-01-01T00:00:00+07:00",
    "9999-12-31T23:59:59.999999Z",
]
times = st.one_of(
    st.datetimes(timezones=offsets).map(lambda at: at.isoformat()),
    st.datetimes(timezones=offsets).map(lambda at: at.isoformat().replace("+00:00", "Z")),
    st.from_regex(
        r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,8})?(Z|z|[+-]\d{2}:\d{2})?\Z", fullmatch=True
    ),
    st.sampled_from(ODD_TIMES),
    st.text(max_size=30),
).map(str.encode)


def mostly(usual: Any, *others: Any) -> st.SearchStrategy[Any]:
    """Draw `usual` nine times in ten, else one of `others`."""
    return st.sampled_from([usual] * 9 * len(others) + list(others))


attribute = {
    "ce_specversion": mostly(b"1.0", ABSENT, b"0.3", b"", None),
    "ce_id": mostly(b"e-1", b"", b"\xff\xfe", None, b"id with space"),
    "ce_source": mostly(b"/sources/dvc", ABSENT, b"/sources/a b", b"", None),
    "ce_type": mostly(b"t.submitted", ABSENT, b"", None),
    "ce_time": st.one_of(st.just(ABSENT), times, times, times, st.none()),
    "ce_subject": mostly(ABSENT, b"s", None),
    "content-type": mostly(b"application/json", ABSENT, b"\xff"),
    "traceparent": mostly(ABSENT, b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    "ce_partnerid": mostly(ABSENT, b"x"),
    "x-other": mostly(ABSENT, b"1"),
}  # fmt: skip
PLAIN = json.dumps(VALID).encode()
values = st.sampled_from(
    [
        *[PLAIN] * 3,
        json.dumps({**VALID, "channel": "fax"}).encode(),
        json.dumps({**VALID, "note": "\u00e9"}).encode(),
        b"[1, 2]",
        b"{oops",
        b"",
        None,
        b"null",
    ]
)


@st.composite
def records(draw: st.DrawFn) -> FakeRecord:
    headers = [
        (name, value)
        for name, strategy in attribute.items()
        if (value := draw(strategy)) is not ABSENT
    ]
    if draw(st.booleans()) and headers:  # a repeated header: the last non-null one counts
        name, _ = draw(st.sampled_from(headers))
        headers.append((name, draw(attribute[name])))  # type: ignore[arg-type]
        headers = [(n, v) for n, v in headers if v is not ABSENT]
    return FakeRecord(draw(values), headers, timestamp=draw(st.integers(0, 2**41)))


@settings(max_examples=1500, deadline=None)
@given(batch=st.lists(records(), min_size=1, max_size=4))
def test_records_decode_as_the_exact_decoder_says(batch: list[FakeRecord]) -> None:
    for offset, record in enumerate(batch):
        record.offset = offset
    decoded = decode_batch(TOPIC, 1, batch, VALIDATORS)
    events, poison = decoded.events, {r.offset: p for r, p in decoded.poison}
    position = 0
    for record in batch:
        view = event_from_record(record, VALIDATORS)
        if isinstance(view, Poison):
            assert poison[record.offset] == view
            continue
        assert record.offset not in poison and events.offsets[position] == record.offset
        assert events.payloads[position] == view.payload
        assert (events.ce_types[position], events.sources[position]) == (view.ce_type, view.source)
        assert events.received_ms[position] == record.timestamp
        when = events.time(position)
        assert when == view.time and when.isoformat() == view.time.isoformat()
        if any(name == "ce_id" and value is not None for name, value in record.headers):
            assert events.event_ids[position] == view.event_id  # else a random id each time
        position += 1
    assert position == len(events)


def test_a_batch_keeps_the_order_and_sets_poison_aside() -> None:
    plain = [("ce_id", b"1"), ("ce_source", b"/sources/a"), ("ce_type", b"t")]
    batch = [
        FakeRecord(json.dumps(VALID).encode(), plain, offset=4),
        FakeRecord(b"{oops", plain, offset=5),
        FakeRecord(json.dumps({**VALID, "channel": "fax"}).encode(), plain, offset=6),
        FakeRecord(json.dumps(VALID).encode(), [*plain[:2], ("ce_type", b"u")], offset=7),
    ]
    decoded = decode_batch(TOPIC, 1, batch, VALIDATORS)
    assert decoded.events.offsets == [4, 7]
    assert decoded.events.ce_types == ["t", "u"]
    assert decoded.events.event_ids == ["/sources/a 1", "/sources/a 1"]
    assert [(r.offset, p.reason) for r, p in decoded.poison] == [(5, "not_json"), (6, "contract")]
