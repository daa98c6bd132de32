"""How fast `lgsp audit verify` checks a clean trail: 100,000 records built in memory, verified.

Run: `uv run --frozen python bench/audit_verify_bench.py [--records N] [--full]`. Builds one
chain with a real AuditTrail (Ed25519, a checkpoint every 1,000 records and one at the end),
then verifies it with only the public key, and prints records/s. `--full` also checks every
record's own signature (Ed25519 verification dominates then).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from figures import Figure, finish

from lgsp_common.audit import verify_chain
from lgsp_common.audit_format import PublishedKey, load_public_key, public_key_b64
from lgsp_common.audit_memory import write_chain

KEY = b"bench-audit-key-not-a-secret"


def main() -> None:
    """Build, verify, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--full", action="store_true", help="check every record's signature")
    parser.add_argument("--json", type=Path, help="write the figures here (run_all.py)")
    args = parser.parse_args()
    started = time.perf_counter()
    records, checkpoints = asyncio.run(write_chain(args.records, KEY))
    built = time.perf_counter() - started
    # As `--keys-from` reads them: with a validity window, so each record's time is checked too.
    since = datetime(1970, 1, 1, tzinfo=UTC)
    keys = {"k1": PublishedKey("k1", load_public_key(public_key_b64(KEY)), valid_from=since)}
    started = time.perf_counter()
    findings = verify_chain(records, keys, checkpoints=checkpoints, full=args.full)
    took = time.perf_counter() - started
    if findings:
        print(f"a clean trail failed: {findings[:3]}")
    print(
        f"built {len(records):,} records and {len(checkpoints)} checkpoints in {built:.1f} s; "
        f"verified in {took:.2f} s: {len(records) / took:,.0f} records/s"
        + (" (every signature checked)" if args.full else "")
    )
    name = "audit verify records/s" + (" (every signature)" if args.full else "")
    found = [Figure(name, len(records) / took, "records/s", errors=len(findings))]
    sys.exit(finish("audit verify", found, args.json))


if __name__ == "__main__":
    main()
