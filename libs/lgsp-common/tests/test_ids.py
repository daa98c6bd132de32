"""Identifiers are valid, distinct UUIDv4s."""

import uuid

from lgsp_common.ids import new_id


def test_ids_are_distinct_version_4_uuids_across_pool_refills() -> None:
    ids = [new_id() for _ in range(1000)]  # several 4 KiB refills
    assert len(set(ids)) == 1000
    parsed = [uuid.UUID(i) for i in ids]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
