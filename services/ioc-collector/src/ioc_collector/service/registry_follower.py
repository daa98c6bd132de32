"""The collector follows the registry: its data topics and its KPIs come from `lgsp.registry`.

- Data topics: the topics of the active registered sources (kind `source`), or exactly
  `IOC_COLLECTOR_TOPICS` when that is set. A new one is created if missing and the group
  consumer re-subscribes: the group rebalances and every replica's listener moves the
  partitions' state through the store as on any rebalance.
- KPIs: the active KPI definitions of the registry (kind `kpi`), or the `kpis/` seed while the
  registry holds none. A new or changed KPI is applied from the next batch on (a backfill
  computes it over the topic's history); a removed one stops being served and its state is
  dropped. A definition the collector cannot use is logged, counted and skipped.

Each replica follows its own registry copy, so all of them converge on the same catalogue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ioc_collector.adapters.kpi_entities import fields_of, is_active, registry_kpis
from ioc_collector.adapters.kpi_files import contract_fields
from ioc_collector.domain.batch import BatchAggregator
from ioc_collector.domain.definitions import KpiDefinition
from ioc_collector.metrics import CollectorMetrics
from ioc_collector.settings import CollectorSettings
from ioc_collector.stream.exactly_once_loop import StreamProcessor
from lgsp_common.registry_copy import RegistryCopy

log = logging.getLogger(__name__)
FOLLOWED_KINDS = frozenset({"source", "kpi", "contract"})
ProvisionTopics = Callable[[CollectorSettings, Sequence[str]], Awaitable[None]]


class LiveCatalogue:
    """The data topics and KPIs in force; `version` changes whenever either does."""

    def __init__(
        self,
        settings: CollectorSettings,
        registry: RegistryCopy,
        seed: Sequence[KpiDefinition],
        metrics: CollectorMetrics,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._seed = list(seed)
        self._metrics = metrics
        self._reported: set[tuple[str, str]] = set()
        self.kpis: list[KpiDefinition] = list(seed)
        self.topics: list[str] = []
        self.invalid: dict[str, str] = {}
        self.version = 0

    def wanted_topics(self) -> list[str]:
        """Return the data topics to consume now."""
        if self._settings.topics:
            return list(self._settings.topics)
        sources = self._registry.items("source")
        return sorted({str(s["topic"]) for s in sources if s.get("topic") and is_active(s)})

    def _fields(self, topic: str) -> set[str] | None:
        found = self._registry.latest_contract(topic)
        schema: Any = found.get("schema") if found is not None else None
        if schema is not None:
            return fields_of(schema)
        return contract_fields(self._settings.contracts_dir, [topic]).get(topic)

    def wanted_kpis(self) -> list[KpiDefinition]:
        """Return the KPIs to serve now (the registry's, or the seed while it has none)."""
        entities = self._registry.items("kpi")
        if not entities:
            self.invalid = {}
            return list(self._seed)
        found = registry_kpis(entities, self._fields)
        self.invalid = found.invalid
        for kpi_id, reason in found.invalid.items():
            if (kpi_id, reason) not in self._reported:
                self._reported.add((kpi_id, reason))
                self._metrics.invalid_kpis.inc()
                log.warning("KPI definition skipped", extra={"kpi": kpi_id, "reason": reason})
        return found.kpis


class RegistryFollower:
    """Applies the registry's changes to the stream loop, in the background."""

    def __init__(
        self,
        live: LiveCatalogue,
        processor: StreamProcessor,
        settings: CollectorSettings,
        registry: RegistryCopy,
        provision: ProvisionTopics,
    ) -> None:
        self._live = live
        self._processor = processor
        self._settings = settings
        self._provision = provision
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        registry.subscribe(self._on_change)

    def _on_change(self, kind: str, entity_id: str, data: dict[str, Any] | None) -> None:
        if kind in FOLLOWED_KINDS:
            self._changed.set()

    def start(self) -> None:
        """Follow the registry in the background."""
        self._task = asyncio.create_task(self._run(), name="collector-registry-follower")

    async def stop(self) -> None:
        """Stop following."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._changed.wait()
            await asyncio.sleep(0.05)  # a burst of changes (a seed) is applied at once
            self._changed.clear()
            try:
                await self.refresh()
            except Exception:  # keep following; the next change (or this retry) applies it
                log.exception("registry change not applied; retrying")
                await asyncio.sleep(1.0)
                self._changed.set()

    async def refresh(self) -> None:
        """Apply the registry's current KPIs and topics to the stream loop."""
        live = self._live
        kpis = live.wanted_kpis()
        if kpis != live.kpis:
            await self._processor.set_aggregator(BatchAggregator(kpis))
            live.kpis = kpis
            live.version += 1
            log.info("KPI catalogue changed", extra={"kpis": [k.id for k in kpis]})
        topics = live.wanted_topics()
        if topics != live.topics:
            added = sorted(set(topics) - set(live.topics))
            if added:
                await self._provision(self._settings, added)
            self._processor.resubscribe([*topics, self._settings.dlq_topic])
            live.topics = topics
            live.version += 1
            log.info("data topics changed", extra={"topics": topics})
