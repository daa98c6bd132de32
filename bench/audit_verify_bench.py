"""How fast `lgsp audit verify` checks a clean trail: 100,000 records built in memory, verified.

Run: `uv run --frozen python bench/audit_verify_bench.py [--records N] [--full]
[--growth-records N | --no-growth] [--json PATH]`. Builds one chain with a real AuditTrail
(Ed25519, a checkpoint every 1,000 records and one at the end), then verifies it with only the
public key, and prints records/s. `--full` also checks every record's own signature (Ed25519
verification dominates then).

Growth (`growth.py`), on the data size axis: records/s verifying a chain of 1x, 2x and 4x
`--growth-records` records (each chain built apart, only the verification timed); no
baseline. A flat curve means verification is linear in the trail's length.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from figures import Figure, finish
from growth import Growth, Point, grow

from lgsp_common.audit import verify_chain
from lgsp_common.audit_format import PublishedKey, load_public_key, public_key_b64
from lgsp_common.audit_memory import write_chain

KEY = b"bench-audit-key-not-a-secret"


def verify(count: int, full: bool) -> tuple[int, int, float, float, list[object]]:
    """Build a clean chain of `count` records and verify it: records, checkpoints, seconds to
    build, seconds to verify, findings."""
    started = time.perf_counter()
    records, checkpoints = asyncio.run(write_chain(count, KEY))
    built = time.perf_counter() - started
    # As `--keys-from` reads them: with a validity window, so each record's time is checked too.
    since = datetime(1970, 1, 1, tzinfo=UTC)
    keys = {"k1": PublishedKey("k1", load_public_key(public_key_b64(KEY)), valid_from=since)}
    started = time.perf_counter()
    findings = verify_chain(records, keys, checkpoints=checkpoints, full=full)
    return len(records), len(checkpoints), built, time.perf_counter() - started, list(findings)


def verify_growth(base: int, full: bool) -> Growth:
    """Records/s verifying chains of 1x, 2x and 4x `base` records."""

    def point(count: int) -> Point:
        records, _, _, took, findings = verify(count, full)
        return Point(records / took, errors=len(findings) + (records != count))

    return grow("audit verify records/s", "records/s", "data size", "records", base, point)


def main() -> None:
    """Build, verify, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--full", action="store_true", help="check every record's signature")
    parser.add_argument("--growth-records", type=int, help="growth base (default: --records)")
    parser.add_argument("--growth", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--json", type=Path, help="write the figures here (run_all.py)")
    args = parser.parse_args()
    records, checkpoints, built, took, findings = verify(args.records, args.full)
    if findings:
        print(f"a clean trail failed: {findings[:3]}")
    print(
        f"built {records:,} records and {checkpoints} checkpoints in {built:.1f} s; "
        f"verified in {took:.2f} s: {records / took:,.0f} records/s"
        + (" (every signature checked)" if args.full else "")
    )
    name = "audit verify records/s" + (" (every signature)" if args.full else "")
    found = [Figure(name, records / took, "records/s", errors=len(findings))]
    growth = [verify_growth(args.growth_records or args.records, args.full)] if args.growth else []
    sys.exit(finish("audit verify", found, args.json, growth))


if __name__ == "__main__":
    main()
