"""The Steering Committee's scorecard: targets met out of targets set, per group and overall.

The province reports its annual targets ("chỉ tiêu") by pillar, e.g. "33/39 targets met:
digital government 13/16, digital economy 6/8, digital society 14/15". Here each KPI with a
target is one target; it is met when its value over the target's period meets the threshold.
A target whose period has no data yet counts as set and not met. A target without a group
counts in the overall total only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ioc_collector.domain.definitions import TargetGroup
from ioc_collector.domain.queries import TargetStatus

GROUPS: tuple[TargetGroup, ...] = ("digital_government", "digital_economy", "digital_society")
GROUP_TITLES: dict[str, tuple[str, str]] = {
    "digital_government": ("Chính quyền số", "Digital government"),
    "digital_economy": ("Kinh tế số", "Digital economy"),
    "digital_society": ("Xã hội số", "Digital society"),
}


@dataclass(frozen=True, slots=True)
class Assessed:
    """One KPI's target as assessed: its group (if any) and status."""

    kpi_id: str
    group: TargetGroup | None
    status: TargetStatus


@dataclass(frozen=True, slots=True)
class Tally:
    """Targets met out of targets set, and which KPIs are not met."""

    met: int
    total: int
    not_met: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Scorecard:
    """The tally overall and for each of the three groups (always all three, maybe 0/0)."""

    overall: Tally
    groups: dict[TargetGroup, Tally]


def _tally(items: list[Assessed]) -> Tally:
    with_target = [item for item in items if item.status != "no_target"]
    met = sum(1 for item in with_target if item.status == "met")
    missed = tuple(sorted(item.kpi_id for item in with_target if item.status != "met"))
    return Tally(met=met, total=len(with_target), not_met=missed)


def scorecard(assessed: Iterable[Assessed]) -> Scorecard:
    """Count targets met out of targets set, per group and overall (KPIs without a target skip)."""
    items = list(assessed)
    groups = {group: _tally([i for i in items if i.group == group]) for group in GROUPS}
    return Scorecard(overall=_tally(items), groups=groups)
