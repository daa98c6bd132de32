"""verify_chain with checkpoints and public keys only: each way a trail can be cut or forged."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lgsp_common.audit import Problem, verify_chain
from lgsp_common.audit_format import (
    PublishedKey,
    load_public_key,
    public_key_b64,
    record_hash,
    sign_eddsa,
    sign_hash,
    signing_key,
)
from lgsp_common.audit_memory import write_chain

KEY = b"test-audit-key-0123456789"
ROGUE = b"someone-elses-key"
PUBLIC = {"k1": load_public_key(public_key_b64(KEY))}
LATER = datetime.now(UTC) + timedelta(hours=1)  # every checkpoint is overdue by then
Trail = tuple[list[dict[str, Any]], list[dict[str, Any]]]


@pytest.fixture
async def trail() -> Trail:
    """A 50-record chain, a checkpoint every 10 records (the last one at seq 49)."""
    return await write_chain(50, KEY, checkpoint_every=10)


def _found(records: list[dict[str, Any]], checkpoints: list[dict[str, Any]]) -> set[Any]:
    findings = verify_chain(records, PUBLIC, checkpoints=checkpoints, now=LATER)
    return {(f.seq, f.problem) for f in findings}


def test_a_clean_trail_passes_with_public_keys_only(trail: Trail) -> None:
    records, checkpoints = trail
    assert [c["seq"] for c in checkpoints] == [9, 19, 29, 39, 49]
    assert verify_chain(records, PUBLIC, checkpoints=checkpoints, now=LATER) == []
    assert verify_chain(records, PUBLIC, checkpoints=checkpoints, now=LATER, full=True) == []


def test_one_altered_record_is_pinpointed(trail: Trail) -> None:
    records, checkpoints = trail
    tampered = copy.deepcopy(records)
    tampered[17]["result"] = "denied"
    assert _found(tampered, checkpoints) == {(17, Problem.ALTERED)}


def test_one_record_removed_from_the_middle_is_missing(trail: Trail) -> None:
    records, checkpoints = trail
    assert _found(records[:23] + records[24:], checkpoints) == {(23, Problem.MISSING)}


def test_the_last_ten_removed_are_truncated_per_the_checkpoint(trail: Trail) -> None:
    records, checkpoints = trail
    findings = verify_chain(records[:40], PUBLIC, checkpoints=checkpoints, now=LATER)
    assert [(f.seq, f.last_seq, f.problem) for f in findings] == [(40, 49, Problem.TRUNCATED)]


def test_a_tail_past_its_overdue_checkpoint_is_unanchored(trail: Trail) -> None:
    records, checkpoints = trail
    # The last checkpoint (and the compacted topic with it) is gone: records 40..49 unproven.
    findings = verify_chain(records, PUBLIC, checkpoints=checkpoints[:-1], now=LATER)
    assert [(f.seq, f.last_seq, f.problem) for f in findings] == [(40, 49, Problem.UNANCHORED)]
    # Before the next checkpoint is due, the same tail is fine.
    assert verify_chain(records, PUBLIC, checkpoints=checkpoints[:-1]) == []


def test_a_record_signed_with_an_unpublished_key_is_forged(trail: Trail) -> None:
    records, checkpoints = trail
    forged = copy.deepcopy(records)
    forged[49].update(result="denied", key_id="rogue")  # re-signed by someone else's key
    forged[49]["hash"] = record_hash(forged[49])
    forged[49]["signature"] = sign_eddsa(forged[49]["hash"].encode(), signing_key(ROGUE))
    found = _found(forged, checkpoints)
    assert (49, Problem.UNKNOWN_KEY) in found
    assert (49, Problem.FORKED) in found  # and the anchored head disagrees


async def test_a_chain_rewritten_with_a_rogue_key_is_caught() -> None:
    records, checkpoints = await write_chain(20, KEY, checkpoint_every=10)
    rogue, _ = await write_chain(21, ROGUE, key_id="rogue", checkpoint_every=10)
    forged = [dict(r, writer=records[0]["writer"]) for r in rogue]  # same chain id, new history
    found = _found(forged, checkpoints)
    assert (0, Problem.UNKNOWN_KEY) in found  # the rogue key is not published
    assert (9, Problem.FORKED) in found  # the anchored head disagrees
    # Even if the rogue key id were published, an Ed25519 check fails the rehashed records.
    published = {"k1": PublishedKey("k1", PUBLIC["k1"])}
    resigned = [dict(r, key_id="k1") for r in forged]
    findings = verify_chain(resigned, published, checkpoints=checkpoints, now=LATER)
    assert {f.problem for f in findings} >= {Problem.ALTERED, Problem.FORKED}


async def test_two_chains_with_the_same_id_are_a_fork() -> None:
    first, checkpoints = await write_chain(5, KEY, writer="lgsp-gateway/gw-1")
    second, _ = await write_chain(5, KEY, writer="lgsp-gateway/gw-1")
    clash = [dict(r, writer=first[0]["writer"]) for r in second]  # e.g. a reused name
    found = verify_chain(first + clash, PUBLIC, checkpoints=checkpoints, now=LATER)
    assert {(f.seq, f.problem) for f in found if f.problem is Problem.FORKED} >= {
        (0, Problem.FORKED)
    }
    assert verify_chain(first + clash, PUBLIC)  # a fork shows without checkpoints too


async def test_a_whole_partition_emptied_leaves_its_chains_gone() -> None:
    kept, kept_checkpoints = await write_chain(5, KEY, writer="svc/a")
    _, gone_checkpoints = await write_chain(5, KEY, writer="svc/b")
    findings = verify_chain(kept, PUBLIC, checkpoints=kept_checkpoints + gone_checkpoints)
    assert [(f.writer, f.problem, f.last_seq) for f in findings] == [
        (gone_checkpoints[0]["chain"], Problem.CHAIN_GONE, 4)
    ]


def test_a_checkpoint_not_signed_by_a_published_key_is_reported(trail: Trail) -> None:
    records, checkpoints = trail
    forged = dict(checkpoints[-1], seq=60)  # claims more than was signed
    assert (60, Problem.BAD_CHECKPOINT) in _found(records, [*checkpoints, forged])


def test_a_retired_key_stays_valid_for_records_signed_before(trail: Trail) -> None:
    records, checkpoints = trail
    retired = PublishedKey("k1", PUBLIC["k1"], retired_at=LATER)
    assert verify_chain(records, {"k1": retired}, checkpoints=checkpoints, now=LATER) == []
    too_early = PublishedKey("k1", PUBLIC["k1"], retired_at=datetime(2020, 1, 1, tzinfo=UTC))
    found = verify_chain(records, {"k1": too_early}, checkpoints=checkpoints, now=LATER)
    assert {f.problem for f in found} >= {Problem.UNKNOWN_KEY, Problem.BAD_CHECKPOINT}


def test_reordered_records_are_reported(trail: Trail) -> None:
    records, checkpoints = trail
    moved = [*records[:5], records[6], records[5], *records[7:]]
    assert _found(moved, checkpoints) == {(5, Problem.REORDERED)}


def test_legacy_hs256_records_verify_with_the_secret_only() -> None:
    record: dict[str, Any] = {"writer": "old/gw", "seq": 0, "prev_hash": "0" * 64, "key_id": "k1"}
    record["hash"] = record_hash(record)
    record["signature"] = sign_hash(record["hash"], KEY)
    assert verify_chain([record], {"k1": KEY}) == []
    assert [f.problem for f in verify_chain([record], PUBLIC)] == [Problem.UNKNOWN_ALG]
