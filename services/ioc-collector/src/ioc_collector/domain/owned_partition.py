"""The live state of one partition this replica owns, and the stored revision it extends."""

from __future__ import annotations

from dataclasses import dataclass, field

from ioc_collector.domain.activity import PartitionActivity
from ioc_collector.domain.state import AggregationState
from ioc_collector.domain.stored_parts import StoredParts


@dataclass
class OwnedPartition:
    """State, source activity and position of an assigned partition, not yet or already stored.

    `revision` is the store row's revision this state was loaded at or last committed as (None:
    no row yet); `dirty` says the state moved on since then; `stored` what the store's rows hold
    of it, so a commit writes only the windows and ids that changed.
    """

    state: AggregationState
    activity: PartitionActivity
    position: int = 0
    revision: int | None = None
    dirty: bool = False
    stored: StoredParts = field(default_factory=StoredParts)
