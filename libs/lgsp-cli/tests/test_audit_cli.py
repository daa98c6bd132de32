"""`lgsp audit`: public-key prints what the registry publishes; verify_rows judges with it."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lgsp_cli.audit_cli import verify_rows
from lgsp_cli.audit_sources import keys_from_file
from lgsp_cli.main import app
from lgsp_common.audit import Problem
from lgsp_common.audit_format import public_key_b64
from lgsp_common.audit_memory import write_chain

KEY = b"cli-audit-key-0123456789"
LATER = datetime.now(UTC) + timedelta(hours=1)
Rows = list[tuple[int, int, dict[str, Any]]]


def _rows(records: list[dict[str, Any]], partition: int = 0) -> Rows:
    return [(partition, offset, record) for offset, record in enumerate(records)]


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    """A keys file in the registry's own answer format."""
    path = tmp_path / "keys.json"
    entry = {"key_id": "k1", "public_key": public_key_b64(KEY), "alg": "EdDSA"}
    path.write_text(json.dumps({"keys": [entry | {"valid_from": "2020-01-01T00:00:00Z"}]}))
    return path


def test_public_key_prints_the_raw_key_from_the_option_or_env() -> None:
    runner = CliRunner()
    given = runner.invoke(app, ["audit", "public-key", "--key", KEY.decode()])
    assert given.exit_code == 0, given.output
    assert given.output.strip() == public_key_b64(KEY)
    from_env = runner.invoke(app, ["audit", "public-key"], env={"LGSP_AUDIT_KEY": KEY.decode()})
    assert from_env.output.strip() == public_key_b64(KEY)
    assert runner.invoke(app, ["audit", "public-key"], env={"LGSP_AUDIT_KEY": ""}).exit_code != 0


def test_a_plain_keys_file_is_read_too(tmp_path: Path) -> None:
    path = tmp_path / "plain.json"
    path.write_text(json.dumps({"k1": public_key_b64(KEY)}))
    assert set(keys_from_file(path)) == {"k1"}


async def test_clean_rows_pass_and_each_cut_is_located(keys_file: Path) -> None:
    records, checkpoints = await write_chain(30, KEY, checkpoint_every=10)
    keys = keys_from_file(keys_file)
    assert verify_rows(_rows(records), keys, checkpoints=checkpoints, now=LATER) == []

    tampered = copy.deepcopy(records)
    tampered[3]["status_code"] = 403
    [altered] = verify_rows(_rows(tampered), keys, checkpoints=checkpoints, now=LATER)
    assert (altered.finding.problem, altered.partition, altered.offset) == (Problem.ALTERED, 0, 3)

    [cut] = verify_rows(_rows(records[:20]), keys, checkpoints=checkpoints, now=LATER)
    assert (cut.finding.problem, cut.finding.seq, cut.finding.last_seq) == (
        Problem.TRUNCATED,
        20,
        29,
    )
    assert cut.offset is None  # no record to point at


async def test_a_time_range_skips_the_completeness_checks(keys_file: Path) -> None:
    records, _ = await write_chain(5, KEY)
    since = datetime.fromisoformat(records[2]["timestamp"])
    found = verify_rows(_rows(records[2:]), keys_from_file(keys_file), since, checkpoints=[])
    assert found == []
