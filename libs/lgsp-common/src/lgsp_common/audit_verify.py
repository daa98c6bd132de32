"""Replay audit chains and their checkpoints; pinpoint every record altered, missing or forged.

`verify_chain(records, keys)` checks each chain on its own (records in offset order): hashes,
links, sequence, signatures. Given `checkpoints` (from the registry or the compacted topic), it
also proves completeness, in the manner of Certificate Transparency:

- a checkpoint naming a seq beyond the chain's last record: the tail was **truncated**;
- a checkpoint whose head hash differs from the chain's record at that seq, two different
  records at one seq, two record 0s: the chain **forked** (or was rewritten);
- checkpoints of a chain none of whose records is left: the chain is **gone** (a whole
  partition emptied, say);
- records after the chain's last checkpoint once the next checkpoint is overdue (last record's
  time + `interval_s` + `grace_s` before `now`): an **unanchored** tail, whose completeness
  nothing proves (truncated, or the writer died before its checkpoint).

Speed: a verified checkpoint whose head matches authenticates, through the hash links, every
record below it, so those records' own signatures are not checked one by one (only that their
key is published and was in force); records beyond the last checkpoint are. `full=True` checks
every signature (one Ed25519 verification per record: a few thousand per second and core).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from lgsp_common.audit_checkpoints import checkpoint_problem, parse_time
from lgsp_common.audit_format import (
    EDDSA,
    GENESIS_HASH,
    HS256,
    KeyInput,
    PublishedKey,
    hash_matches,
    key_ring,
    sign_hash,
    verify_eddsa,
)

Record = Mapping[str, Any]


class Problem(StrEnum):
    """What a verifier found wrong with one chain position (or range)."""

    ALTERED = "altered"  # content no longer matches its hash
    BAD_SIGNATURE = "bad_signature"  # hash not signed by the named key
    UNKNOWN_KEY = "unknown_key"  # forged: signed by a key not published (or not in force then)
    UNKNOWN_ALG = "unknown_alg"  # e.g. HS256 without the shared secret
    BROKEN_LINK = "broken_link"  # prev_hash differs from the previous record's hash
    MISSING = "missing"  # a seq never seen: removed or never written
    REORDERED = "reordered"  # appears after a record with a higher seq
    DUPLICATE = "duplicate"  # the same record appears more than once
    FORKED = "forked"  # two different records claim one position, or a checkpoint disagrees
    TRUNCATED = "truncated"  # a checkpoint proves records beyond the chain's end
    UNANCHORED = "unanchored"  # records after the last checkpoint, the next one overdue
    CHAIN_GONE = "chain_gone"  # checkpoints of a chain whose records are all gone
    BAD_CHECKPOINT = "bad_checkpoint"  # a checkpoint not signed by a published key
    MALFORMED = "malformed"  # no writer or no integer seq


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one position (or the range seq..last_seq) of one chain."""

    writer: str
    seq: int | None
    problem: Problem
    detail: str
    last_seq: int | None = None


@dataclass(frozen=True, slots=True)
class Completeness:
    """What the completeness checks need: the checkpoints and when the next one is due."""

    checkpoints: list[Record]
    now: datetime
    interval_s: float = 10.0
    grace_s: float = 60.0


def verify_chain(
    records: Iterable[Record],
    keys: Mapping[str, KeyInput] | None = None,
    *,
    checkpoints: Iterable[Record] | None = None,
    now: datetime | None = None,
    interval_s: float = 10.0,
    grace_s: float = 60.0,
    full: bool = False,
) -> list[Finding]:
    """Replay records in offset order, per chain; return every problem found (empty: intact).

    `keys` maps key_id to key material (bytes), a public key or a `PublishedKey`; without keys
    only hashes and links are checked. With `checkpoints`, completeness is proven too.
    """
    ring = key_ring(keys)
    chains: dict[str, list[Record]] = {}
    findings: list[Finding] = []
    for record in records:
        writer, seq = record.get("writer"), record.get("seq")
        if not isinstance(writer, str) or not isinstance(seq, int) or isinstance(seq, bool):
            findings.append(Finding(str(writer), None, Problem.MALFORMED, "no writer or seq"))
            continue
        chains.setdefault(writer, []).append(record)
    complete = None
    if checkpoints is not None:
        complete = Completeness(list(checkpoints), now or datetime.now(UTC), interval_s, grace_s)
    by_chain, bad = _checkpoints_by_chain(complete, ring)
    findings += bad
    for writer, chain in chains.items():
        check = _Chain(writer, chain)
        findings += check.structure()
        if complete is not None:
            findings += check.completeness(by_chain.get(writer, []), complete)
        findings += check.signatures(ring, None if full else check.covered)
    for writer, cps in by_chain.items():
        if writer not in chains:
            top = max(int(cp["seq"]) for cp in cps)
            detail = f"checkpoints name records up to seq {top}; none of them is left"
            findings.append(Finding(writer, 0, Problem.CHAIN_GONE, detail, top))
    return sorted(findings, key=lambda f: (f.writer, f.seq if f.seq is not None else -1, f.problem))


def _checkpoints_by_chain(
    complete: Completeness | None, ring: Mapping[str, PublishedKey] | None
) -> tuple[dict[str, list[Record]], list[Finding]]:
    by_chain: dict[str, list[Record]] = {}
    bad: list[Finding] = []
    for cp in complete.checkpoints if complete is not None else []:
        reason = checkpoint_problem(cp, ring)
        if reason is None:
            by_chain.setdefault(str(cp["chain"]), []).append(cp)
        else:
            seq = cp.get("seq")
            at = seq if isinstance(seq, int) else None
            bad.append(Finding(str(cp.get("chain")), at, Problem.BAD_CHECKPOINT, reason))
    return by_chain, bad


class _Chain:
    """The checks of one chain's records."""

    def __init__(self, writer: str, records: list[Record]) -> None:
        self.writer = writer
        self.records = records
        self.by_seq: dict[int, Record] = {}
        self.intact: set[int] = set()
        self.covered: set[int] = set()
        self.highest = -1

    def _at(
        self, seq: int | None, problem: Problem, detail: str, last: int | None = None
    ) -> Finding:
        return Finding(self.writer, seq, problem, detail, last)

    def structure(self) -> list[Finding]:
        """Check sequence, hashes and links."""
        found: list[Finding] = []
        for record in self.records:
            seq: int = record["seq"]
            if seq in self.by_seq:
                same = self.by_seq[seq].get("hash") == record.get("hash")
                problem, what = (
                    (Problem.DUPLICATE, "seq seen before")
                    if same
                    else (Problem.FORKED, "two different records at this seq")
                )
                found.append(self._at(seq, problem, what))
                continue
            if seq < self.highest:
                found.append(self._at(seq, Problem.REORDERED, f"comes after seq {self.highest}"))
            self.by_seq[seq] = record
            self.highest = max(self.highest, seq)
            if hash_matches(record):
                self.intact.add(seq)
            else:
                found.append(self._at(seq, Problem.ALTERED, "content does not match its hash"))
        found += [
            self._at(seq, Problem.MISSING, "no record at this seq")
            for seq in range(self.highest + 1)
            if seq not in self.by_seq
        ]
        return found + self._links()

    def _links(self) -> list[Finding]:
        found: list[Finding] = []
        for seq, record in self.by_seq.items():
            previous = self.by_seq.get(seq - 1)
            if seq == 0:
                expected: object = GENESIS_HASH
            else:
                expected = None if previous is None else previous.get("hash")
            if expected is not None and record.get("prev_hash") != expected:
                found.append(
                    self._at(seq, Problem.BROKEN_LINK, "prev_hash is not the previous hash")
                )
        return found

    def completeness(self, checkpoints: list[Record], complete: Completeness) -> list[Finding]:
        """Check the chain against its (trusted) checkpoints; note what they cover."""
        found: list[Finding] = []
        heads: dict[int, object] = {}
        for cp in sorted(checkpoints, key=lambda c: -int(c["seq"])):
            seq, head = int(cp["seq"]), cp["head_hash"]
            if heads.setdefault(seq, head) != head:
                found.append(self._at(seq, Problem.FORKED, "two checkpoints, two heads at seq"))
            record = self.by_seq.get(seq)
            if record is not None and record.get("hash") != head:
                detail = f"checkpoint names head {str(head)[:12]}…, the record hashes otherwise"
                found.append(self._at(seq, Problem.FORKED, detail))
            elif record is not None:
                self._cover(seq)
        top = max(heads, default=-1)
        if top > self.highest:
            detail = f"a checkpoint proves seq {top} exists; the chain ends at {self.highest}"
            found.append(self._at(self.highest + 1, Problem.TRUNCATED, detail, top))
        elif self.highest > top:
            found += self._tail(top, complete)
        return found

    def _cover(self, seq: int) -> None:
        while seq >= 0 and seq not in self.covered and seq in self.intact:
            self.covered.add(seq)
            previous = self.by_seq.get(seq - 1)
            link = GENESIS_HASH if seq == 0 else (previous or {}).get("hash")
            if self.by_seq[seq].get("prev_hash") != link:
                return
            seq -= 1

    def _tail(self, top: int, complete: Completeness) -> list[Finding]:
        last = parse_time(self.by_seq[self.highest].get("timestamp"))
        due = timedelta(seconds=complete.interval_s + complete.grace_s)
        if last is None or last + due >= complete.now:
            return []  # the next checkpoint is not due yet
        detail = (
            f"no checkpoint covers seq {top + 1}..{self.highest} and one was due by "
            f"{(last + due).isoformat(timespec='seconds')}: the tail may be truncated"
        )
        return [self._at(top + 1, Problem.UNANCHORED, detail, self.highest)]

    def signatures(
        self, ring: Mapping[str, PublishedKey] | None, covered: set[int] | None
    ) -> list[Finding]:
        """Check each record's key and signature (not those a verified checkpoint covers)."""
        if ring is None:
            return []
        found: list[Finding] = []
        for seq, record in self.by_seq.items():
            problem = _signature_problem(record, ring, covered is not None and seq in covered)
            if problem is not None:
                found.append(self._at(seq, *problem))
        return found


def _signature_problem(
    record: Record, ring: Mapping[str, PublishedKey], covered: bool
) -> tuple[Problem, str] | None:
    key = ring.get(str(record.get("key_id", "")))
    if key is None:
        return Problem.UNKNOWN_KEY, f"signed by key {record.get('key_id')!r}, not published"
    alg = record.get("signature_alg", HS256)
    digest = str(record.get("hash", ""))
    if alg == EDDSA:
        if (key.valid_from or key.retired_at) and not key.valid_at(
            parse_time(record.get("timestamp"))
        ):
            return Problem.UNKNOWN_KEY, f"key {key.key_id!r} was not in force at that time"
        if covered or verify_eddsa(
            digest.encode("ascii", "replace"), record.get("signature"), key.public
        ):
            return None
        return Problem.BAD_SIGNATURE, "signature does not verify"
    if alg == HS256:
        if key.secret is None:
            return Problem.UNKNOWN_ALG, "HS256 records verify only with the shared secret (--key)"
        if hmac.compare_digest(str(record.get("signature", "")), sign_hash(digest, key.secret)):
            return None
        return Problem.BAD_SIGNATURE, "signature does not verify"
    return Problem.UNKNOWN_ALG, f"signature_alg {alg!r} is not known"
