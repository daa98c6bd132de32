"""Token buckets shared by the worker processes of one host: a small hash table in a mapped file.

With `WORKERS` > 1 every worker maps the same file (in the run's directory that the parent
creates before it starts them, `lgsp_common.workers`) and takes tokens under an exclusive
`flock` on it, so a source gets its limit once per host, not once per worker. The critical
section is a few struct reads and writes (microseconds); the kernel drops the lock of a worker
that dies holding it. `time.monotonic` (CLOCK_MONOTONIC) is one clock for every process of the
host, so the buckets' timestamps mean the same in all of them.

The replica count the cluster-wide limit is divided by sits in the header: the worker that holds
the replica's membership in the group (`adapters/replica_membership.py`) writes it with `resize`,
and every worker's `acquire` reads it under the same lock, so the workers change share together.
0 there means no count was written yet: each worker then divides by its configured fallback.

Layout: a 24-byte header (magic, slot count, replica count), then `slots` slots of (key hash,
tokens, updated). A key's slot is found by linear probing over at most `PROBE` slots from its
hash; a new key takes an empty slot, else the stalest one in its window (a bucket untouched the
longest has almost surely refilled, which is the state a new bucket starts in). 4,096 slots hold
far more sources than a province registers.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from lgsp_gateway.domain.ratelimit import TokenBucket

MAGIC = b"LGSPTB02"
HEADER = struct.Struct("<8sQQ")  # magic, slots, replicas (0: none written yet)
REPLICAS_AT = struct.calcsize("<8sQ")
COUNT = struct.Struct("<Q")
SLOT = struct.Struct("<Qdd")  # key hash (0 = empty), tokens, updated (monotonic seconds)
PROBE = 32


class SharedBucketsError(RuntimeError):
    """The bucket file is not one this code wrote (another layout or size)."""


def key_hash(key: str) -> int:
    """Return the key's 64-bit slot hash, never 0 (0 marks an empty slot)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") or 1


class SharedBuckets:
    """Per-key token buckets in a file every worker maps; `acquire` as `RateLimiter`'s.

    `limit` is the cluster-wide rule; each take uses its share for the replica count in the
    header (`fallback` until one is written).
    """

    def __init__(
        self,
        path: Path,
        limit: TokenBucket,
        *,
        fallback: int = 1,
        slots: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._fallback = fallback
        self._shares: dict[int, TokenBucket] = {}
        self._slots = slots
        self._clock = clock
        self._hashes: dict[str, int] = {}
        self._where: dict[int, int] = {}  # key hash -> slot offset, checked under the lock
        size = HEADER.size + slots * SLOT.size
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                self._prepare(size)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._map = mmap.mmap(self._fd, size)
        except BaseException:
            os.close(self._fd)
            raise

    def _prepare(self, size: int) -> None:
        """Size and stamp a new file (the first worker to open it); check an existing one."""
        if os.fstat(self._fd).st_size == 0:
            os.ftruncate(self._fd, size)  # zero-filled: every slot empty
            os.pwrite(self._fd, HEADER.pack(MAGIC, self._slots, 0), 0)
            return
        magic, slots, _ = HEADER.unpack(os.pread(self._fd, HEADER.size, 0))
        if magic != MAGIC or slots != self._slots or os.fstat(self._fd).st_size != size:
            raise SharedBucketsError(f"not a bucket table of {self._slots} slots")

    def acquire(self, key: str, n: int = 1) -> float:
        """Take `n` tokens; return 0 when allowed, else the seconds until they would be."""
        hashed = self._hashes.get(key)
        if hashed is None:
            hashed = self._hashes[key] = key_hash(key)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            now = self._clock()  # read under the lock: updates stay in time order
            rule = self._rule(COUNT.unpack_from(self._map, REPLICAS_AT)[0])
            offset = self._slot(hashed, now, rule.burst)
            _, tokens, updated = SLOT.unpack_from(self._map, offset)
            tokens, wait = rule.take(tokens, updated, now, n)
            SLOT.pack_into(self._map, offset, hashed, tokens, max(now, updated))
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        return wait

    def _rule(self, written: int) -> TokenBucket:
        """Return the share of the limit for a replica count read from the header."""
        replicas = written or self._fallback
        rule = self._shares.get(replicas)
        if rule is None:
            rule = self._shares[replicas] = TokenBucket.share(
                self._limit.rate, self._limit.burst, replicas
            )
        return rule

    @property
    def replicas(self) -> int:
        """The replica count the limit is divided by now (the header's, else the fallback)."""
        return self.replicas_written or self._fallback

    @property
    def written(self) -> bool:
        """Whether a replica count was written (by this replica's member worker)."""
        return self.replicas_written > 0

    @property
    def replicas_written(self) -> int:
        """The count in the header (0: none written yet)."""
        written: int = COUNT.unpack_from(self._map, REPLICAS_AT)[0]
        return written

    def resize(self, replicas: int) -> None:
        """Divide the limit by `replicas` in every worker from their next take."""
        TokenBucket.share(self._limit.rate, self._limit.burst, replicas)  # refuses below 1
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            COUNT.pack_into(self._map, REPLICAS_AT, replicas)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _slot(self, hashed: int, now: float, burst: float) -> int:
        """Return the offset of the key's slot, claiming one (a full bucket) if it has none."""
        known = self._where.get(hashed)
        if known is not None and SLOT.unpack_from(self._map, known)[0] == hashed:
            return known
        start = hashed % self._slots
        stalest, stalest_at = -1, float("inf")
        for step in range(min(PROBE, self._slots)):
            offset = HEADER.size + ((start + step) % self._slots) * SLOT.size
            owner, _, updated = SLOT.unpack_from(self._map, offset)
            if owner == hashed:
                self._where[hashed] = offset
                return offset
            if owner == 0:
                stalest, stalest_at = offset, float("-inf")
                break
            if updated < stalest_at:
                stalest, stalest_at = offset, updated
        SLOT.pack_into(self._map, stalest, hashed, burst, now)
        self._where[hashed] = stalest
        return stalest

    def close(self) -> None:
        """Unmap the table and close the file (the run's directory removes it)."""
        self._map.close()
        os.close(self._fd)

    def __enter__(self) -> SharedBuckets:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
