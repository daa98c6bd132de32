"""Scenario files (YAML): how much each department sends, in which shares, with which faults.

A scenario is data: `scenarios/default.yaml` reproduces the shares the seeds report (about
53.6% of dossiers online, 476 accommodation establishments filing under Circular
18/2021/TT-BVHTTDL, the chip CCCD at clinics). Every key is checked; unknown keys are errors.
The same seed gives the same events (ids aside, which also take the run id).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Department = Literal["finance", "health", "tourism", "tthc"]
DEPARTMENTS: tuple[Department, ...] = ("finance", "health", "tourism", "tthc")
Share = float


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_weights(
    weights: dict[str, float], what: str, allowed: tuple[str, ...], *, shares: bool = False
) -> None:
    unknown = sorted(set(weights) - set(allowed))
    if unknown:
        raise ValueError(f"{what}: unknown keys {unknown}; use {list(allowed)}")
    if any(w < 0 or (shares and w > 1) for w in weights.values()):
        raise ValueError(f"{what}: values must be between 0 and {1 if shares else 'any'}")
    if not shares and sum(weights.values()) <= 0:
        raise ValueError(f"{what}: weights must not all be zero")


IDENTIFICATION = ("cccd_chip", "insurance_card", "vneid", "other")
PAYMENT = ("insurance_only", "cashless", "cash")
ACTIONS = ("submitted", "processed", "returned")
LEVELS = ("province", "district", "commune")
CHANNELS = ("online", "paper")


class DepartmentMix(_Strict):
    """Relative weight of each department in the event stream (0 leaves one out)."""

    finance: float = Field(default=0.15, ge=0)
    health: float = Field(default=0.35, ge=0)
    tourism: float = Field(default=0.15, ge=0)
    tthc: float = Field(default=0.35, ge=0)

    @model_validator(mode="after")
    def _some(self) -> DepartmentMix:
        _check_weights(self.model_dump(), "departments", DEPARTMENTS)
        return self


class FinanceMix(_Strict):
    """Finance (Sở Tài chính): revenue records and investment disbursements, per district."""

    revenue_share: Share = Field(default=0.7, ge=0, le=1)
    projects: int = Field(default=24, ge=1, le=500)
    # Report dates are yesterday (the Treasury import runs the day after); this share is the day
    # before, imported late. Both stay within the KPIs' two days of allowed lateness.
    day_before_share: Share = Field(default=0.1, ge=0, le=1)


class HealthMix(_Strict):
    """Health (Sở Y tế): medical visits, the chip CCCD verified through the gateway."""

    facilities: int = Field(default=40, ge=1, le=999)
    identification: dict[str, float] = Field(
        default_factory=lambda: {
            "cccd_chip": 0.45,
            "insurance_card": 0.38,
            "vneid": 0.12,
            "other": 0.05,
        }
    )
    verify_share: Share = Field(default=0.8, ge=0, le=1, description="Chip visits verified.")
    no_match_share: Share = Field(default=0.03, ge=0, le=1)
    telemedicine_share: Share = Field(default=0.06, ge=0, le=1)
    e_prescription_share: Share = Field(default=0.65, ge=0, le=1)
    payment: dict[str, float] = Field(
        default_factory=lambda: {"insurance_only": 0.55, "cashless": 0.18, "cash": 0.27}
    )
    max_age_s: float = Field(
        default=90, ge=0, le=1800, description="Visits started up to this long before sending."
    )

    @model_validator(mode="after")
    def _weights(self) -> HealthMix:
        _check_weights(self.identification, "health.identification", IDENTIFICATION)
        _check_weights(self.payment, "health.payment", PAYMENT)
        return self


class TourismMix(_Strict):
    """Tourism (Sở VHTTDL): one monthly report per filing establishment."""

    establishments: int = Field(default=476, ge=1, le=9999)
    filing_share: Share = Field(default=0.88, ge=0, le=1)
    late_share: Share = Field(default=0.1, ge=0, le=1, description="Filers who file last.")
    # auto: the month before until the 15th (reports come in during the following month),
    # then the month in progress, so the reported month's window is still open in the IOC.
    period: Literal["auto", "previous", "current"] = "auto"


class TthcMix(_Strict):
    """Administrative procedures (TTHC): dossiers submitted, processed, returned."""

    online_share: Share = Field(default=0.536, ge=0, le=1)
    actions: dict[str, float] = Field(
        default_factory=lambda: {"submitted": 0.45, "processed": 0.2, "returned": 0.35}
    )
    levels: dict[str, float] = Field(
        default_factory=lambda: {"province": 0.3, "district": 0.4, "commune": 0.3}
    )
    digitised: dict[str, Share] = Field(
        default_factory=lambda: {"province": 0.72, "district": 0.66, "commune": 0.55}
    )
    paid_online: dict[str, Share] = Field(default_factory=lambda: {"online": 0.65, "paper": 0.18})

    @model_validator(mode="after")
    def _weights(self) -> TthcMix:
        _check_weights(self.actions, "tthc.actions", ACTIONS)
        _check_weights(self.levels, "tthc.levels", LEVELS)
        _check_weights(self.digitised, "tthc.digitised", LEVELS, shares=True)
        _check_weights(self.paid_online, "tthc.paid_online", CHANNELS, shares=True)
        if set(self.digitised) != set(LEVELS) or set(self.paid_online) != set(CHANNELS):
            raise ValueError("tthc: digitised needs every level, paid_online every channel")
        return self


class PopulationLink(_Strict):
    """Where the simulated citizens come from and how Health is registered to verify them."""

    seed: int = Field(default=6, description="Seed of the upstream's population (same DB).")
    count: int = Field(default=100_000, ge=1, description="Citizens in the upstream DB.")
    pool: int = Field(default=5_000, ge=1, description="First citizens drawn from.")
    resource: str = Field(
        default="population.citizen.v1",
        description="The consumer `topic` the gateway and adapter accept for population reads.",
    )
    purpose: str = "health_insurance_check"
    consumer_id: str = "syt-kiem-tra-the-bhyt"


class Silence(_Strict):
    """One department stops publishing after it sent this many events (freshness alerts)."""

    department: Department
    after_events: int = Field(ge=0)


class Faults(_Strict):
    """Faults to exercise: broken events (refused, to the DLQ) and a silent department."""

    invalid_share: Share = Field(default=0.0, ge=0, le=1)
    silence: Silence | None = None


class Scenario(_Strict):
    """A whole scenario."""

    name: str = Field(default="default", min_length=1)
    description: str = ""
    seed: int = 2024
    rate: float = Field(default=50.0, gt=0, description="Events per second.")
    events: int | None = Field(default=None, ge=0, description="None: until stopped.")
    batch_size: int | None = Field(
        default=None, ge=1, le=1000, description="None: single events up to 20/s, else batches."
    )
    departments: DepartmentMix = DepartmentMix()
    finance: FinanceMix = FinanceMix()
    health: HealthMix = HealthMix()
    tourism: TourismMix = TourismMix()
    tthc: TthcMix = TthcMix()
    population: PopulationLink = PopulationLink()
    faults: Faults = Faults()

    def weights(self) -> dict[Department, float]:
        """Return each department's weight in the stream."""
        mix = self.departments
        return {"finance": mix.finance, "health": mix.health, "tourism": mix.tourism,
                "tthc": mix.tthc}  # fmt: skip

    def chosen_batch_size(self, rate: float) -> int:
        """Return the batch size: the scenario's, else single events at gentle rates."""
        if self.batch_size is not None:
            return self.batch_size
        return 1 if rate <= 20 else max(2, min(500, int(rate / 5)))


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the key."""


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping at the top level")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"{path}: {'.'.join(str(p) for p in e['loc']) or '(scenario)'}: {e['msg']}"
            for e in exc.errors()
        ]
        raise ScenarioError("\n".join(lines)) from exc
