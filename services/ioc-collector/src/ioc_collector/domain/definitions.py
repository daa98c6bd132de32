"""KPI definitions: the declarative catalogue (YAML) the Steering Committee's KPIs come from.

One file per KPI in `kpis/`, named after its id, for example::

    id: online-dossier-rate
    title_vi: Tỷ lệ hồ sơ thủ tục hành chính nộp trực tuyến
    title_en: Online dossier submission rate
    topic: tthc.dossier.v1
    filter: {where: [{field: status, op: eq, value: submitted}]}   # AND; optional ce_type
    measure:                       # count | sum | average | distinct_count | ratio
      kind: ratio                  # numerator / denominator in %, each with its own filter;
      numerator: {kind: count, filter: {where: [{field: channel, op: eq, value: online}]}}
      denominator: {kind: count}   # or {kind: reference} with a top-level `reference` block
    dimensions: [level, district_code]
    time_field: submitted_at       # default: the CloudEvent time
    window: month                  # hour | day | month, in Asia/Ho_Chi_Minh
    allowed_lateness: P1D          # ISO 8601 (no years/months) or seconds
    idle_timeout: PT1H             # wall-clock grace before a quiet window closes anyway
    target: {value: 40, direction: gte, source: "where the figure comes from",
             period: year, group: digital_government}   # assessed over month | quarter | year
    unit: "%"

Fields are payload names or RFC 6901 JSON Pointers. Unknown keys are errors, and every error
names the file and the field. YAML turns unquoted `yes`, `no`, `on`, `off` and digit-only
codes into booleans and numbers: quote such values (`value: "747"`) in conditions.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Set
from datetime import date, timedelta
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

JsonScalar = str | int | float | bool | None
WindowSize = Literal["hour", "day", "month"]
TargetPeriod = Literal["month", "quarter", "year"]
TargetGroup = Literal["digital_government", "digital_economy", "digital_society"]
Operator = Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "exists"]

SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
# A payload field: a top-level name, or an RFC 6901 JSON Pointer for nested values.
FIELD_REF = r"^(?:[A-Za-z_][A-Za-z0-9_]*|(?:/(?:[^~/]|~[01])*)+)$"
# Weeks, days and clock units only: years and months have no fixed length.
_ISO_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


class CatalogueError(ValueError):
    """A KPI catalogue that cannot be used; the message names the file and the field."""


def _timedelta(**parts: float) -> timedelta:
    try:
        return timedelta(**parts)
    except (OverflowError, ValueError) as exc:  # inf, nan or beyond timedelta's range
        raise ValueError(f"duration out of range: {parts}") from exc


def parse_duration(value: Any) -> timedelta:
    """Parse an ISO 8601 duration (PnWnDTnHnMnS) or a number of seconds into a timedelta."""
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = _timedelta(seconds=float(value))
    elif isinstance(value, str) and (match := _ISO_DURATION.match(value)):
        parts = {k: float(v) for k, v in match.groupdict().items() if v is not None}
        if not parts or value.endswith("T"):
            raise ValueError(f"invalid ISO 8601 duration {value!r}")
        result = _timedelta(**parts)
    else:
        raise ValueError(
            f"expected an ISO 8601 duration such as 'PT1H' or 'P2D' (no years or months) "
            f"or a number of seconds, got {value!r}"
        )
    if result < timedelta(0):
        raise ValueError("a duration cannot be negative")
    return result


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
FieldRef = Annotated[str, Field(pattern=FIELD_REF, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    """One filter condition on a payload field."""

    field: FieldRef
    op: Operator
    value: JsonScalar | list[JsonScalar] = None

    @model_validator(mode="after")
    def _value_fits_operator(self) -> Condition:
        value = self.value
        if self.op in {"in", "not_in"}:
            if not isinstance(value, list) or not value:
                raise ValueError(f"op '{self.op}' needs a non-empty list as value")
        elif isinstance(value, list):
            raise ValueError(f"op '{self.op}' needs a single value, not a list")
        elif self.op in {"gt", "gte", "lt", "lte"}:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError(f"op '{self.op}' needs a number or a string as value")
        elif self.op == "exists" and not isinstance(value, bool | None):
            raise ValueError("op 'exists' takes true, false or no value (meaning true)")
        return self


class Filter(_Strict):
    """Conditions that must all hold (AND), and optionally the CloudEvent type."""

    ce_type: str | None = Field(default=None, min_length=1)
    where: tuple[Condition, ...] = ()


class CountMeasure(_Strict):
    """Number of matching events."""

    kind: Literal["count"]


class SumMeasure(_Strict):
    """Sum of a numeric field over matching events."""

    kind: Literal["sum"]
    field: FieldRef


class AverageMeasure(_Strict):
    """Mean of a numeric field over matching events."""

    kind: Literal["average"]
    field: FieldRef


class DistinctCountMeasure(_Strict):
    """Exact number of distinct values of a field."""

    kind: Literal["distinct_count"]
    field: FieldRef


class CountTerm(CountMeasure):
    """A ratio term counting events that also match its own filter."""

    filter: Filter = Filter()


class SumTerm(SumMeasure):
    """A ratio term summing a field over events that also match its own filter."""

    filter: Filter = Filter()


class DistinctCountTerm(DistinctCountMeasure):
    """A ratio term counting distinct values over events that also match its own filter."""

    filter: Filter = Filter()


class ReferenceTerm(_Strict):
    """A ratio denominator fixed by the KPI's `reference` (e.g. registered establishments)."""

    kind: Literal["reference"]


Term = Annotated[CountTerm | SumTerm | DistinctCountTerm, Field(discriminator="kind")]
DenominatorTerm = Annotated[
    CountTerm | SumTerm | DistinctCountTerm | ReferenceTerm, Field(discriminator="kind")
]


class RatioMeasure(_Strict):
    """Numerator over denominator, shown as a percentage."""

    kind: Literal["ratio"]
    numerator: Term
    denominator: DenominatorTerm


Measure = Annotated[
    CountMeasure | SumMeasure | AverageMeasure | DistinctCountMeasure | RatioMeasure,
    Field(discriminator="kind"),
]


class Target(_Strict):
    """The Steering Committee's target for a KPI, and where the figure comes from."""

    value: float = Field(allow_inf_nan=False)
    direction: Literal["gte", "lte"]
    source: str | None = Field(default=None, min_length=1)
    period: TargetPeriod = "month"
    group: TargetGroup | None = None


class Reference(_Strict):
    """A fixed denominator known outside the stream, with its provenance."""

    value: float = Field(gt=0, allow_inf_nan=False)
    source: str = Field(min_length=1)
    as_of: date | None = None


class KpiDefinition(_Strict):
    """One KPI: what to measure, over which events, by which dimensions, in which windows."""

    id: str = Field(pattern=SLUG, max_length=64)
    title_vi: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    topic: str = Field(min_length=1)
    filter: Filter = Filter()
    measure: Measure
    dimensions: tuple[FieldRef, ...] = ()
    time_field: FieldRef | None = None
    window: WindowSize
    allowed_lateness: Duration = timedelta(0)
    idle_timeout: Duration = timedelta(minutes=10)
    target: Target | None = None
    unit: str = Field(min_length=1)
    reference: Reference | None = None

    @model_validator(mode="after")
    def _consistent(self) -> KpiDefinition:
        if len(set(self.dimensions)) != len(self.dimensions):
            raise ValueError("dimensions must not repeat")
        measure = self.measure
        uses_reference = isinstance(measure, RatioMeasure) and isinstance(
            measure.denominator, ReferenceTerm
        )
        if uses_reference and self.reference is None:
            raise ValueError("a ratio with a 'reference' denominator needs a 'reference' block")
        if self.reference is not None and not uses_reference:
            raise ValueError("'reference' is set but the measure's denominator does not use it")
        if uses_reference and self.dimensions:
            # A province-wide constant divided into one district's count would mislead.
            raise ValueError("a ratio over a fixed reference cannot have dimensions")
        if isinstance(measure, RatioMeasure) and self.unit != "%":
            raise ValueError("a ratio is shown as a percentage: unit must be '%'")
        return self

    def state_fingerprint(self) -> str:
        """Return a digest of what shapes the aggregation state (not titles, targets, lateness)."""
        shape = self.model_dump_json(
            include={"topic", "filter", "measure", "dimensions", "time_field", "window"}
        )
        return hashlib.sha256(shape.encode()).hexdigest()[:16]

    def fields(self) -> set[str]:
        """Return every payload field reference the definition reads."""
        refs = {c.field for c in self.filter.where} | set(self.dimensions)
        if self.time_field is not None:
            refs.add(self.time_field)
        measure = self.measure
        terms: list[Any] = [measure]
        if isinstance(measure, RatioMeasure):
            terms = [measure.numerator, measure.denominator]
        for term in terms:
            if isinstance(term, SumMeasure | AverageMeasure | DistinctCountMeasure):
                refs.add(term.field)
            if isinstance(term, CountTerm | SumTerm | DistinctCountTerm):
                refs |= {c.field for c in term.filter.where}
        return refs


def top_level_name(ref: str) -> str:
    if not ref.startswith("/"):
        return ref
    return ref[1:].split("/", 1)[0].replace("~1", "/").replace("~0", "~")


def _format_errors(name: str, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(definition)"
        lines.append(f"{name}: {where}: {item['msg']}")
    return "\n".join(lines)


def parse_definition(name: str, text: str) -> KpiDefinition:
    """Parse one YAML document into a KPI definition; errors name `name` and the field."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{name}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogueError(f"{name}: expected a mapping at the top level")
    try:
        return KpiDefinition.model_validate(data)
    except ValidationError as exc:
        raise CatalogueError(_format_errors(name, exc)) from exc


def parse_catalogue(
    documents: Iterable[tuple[str, str]],
    known_topics: Set[str],
    known_fields: Mapping[str, Set[str]] | None = None,
) -> list[KpiDefinition]:
    """Validate (name, YAML text) pairs as one catalogue: unique ids, known topics and fields."""
    seen: dict[str, str] = {}
    catalogue: list[KpiDefinition] = []
    for name, text in documents:
        kpi = parse_definition(name, text)
        if kpi.id in seen:
            first = seen[kpi.id]
            raise CatalogueError(f"{name}: id: duplicate KPI id {kpi.id!r} (also in {first})")
        if kpi.topic not in known_topics:
            raise CatalogueError(f"{name}: topic: unknown topic {kpi.topic!r}")
        if known_fields is not None and kpi.topic in known_fields:
            unknown = sorted(
                ref for ref in kpi.fields() if top_level_name(ref) not in known_fields[kpi.topic]
            )
            if unknown:
                raise CatalogueError(f"{name}: fields not in topic {kpi.topic}: {unknown}")
        seen[kpi.id] = name
        catalogue.append(kpi)
    return catalogue
