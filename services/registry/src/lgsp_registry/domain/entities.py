"""The registry's entities and request bodies, exactly as the API and `lgsp.registry` carry them.

Request bodies refuse unknown fields, so a typo in a field name is an error, not a silent
default. Identifiers are lower-case slugs; topics follow `<domain>.<data-set>.v<major>`
(contracts/TOPICS.md).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from lgsp_common.access_tokens import Role
from lgsp_registry.domain.compatibility import CompatibilityMode, CompatibilityPolicy, Reason

SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
TOPIC = r"^[a-z0-9]+(?:-[a-z0-9]+)*\.[a-z0-9]+(?:-[a-z0-9]+)*\.v[1-9][0-9]*$"
AGENCY_CODE = r"^[0-9A-Z]{1,4}(?:\.[0-9A-Z]{1,4}){1,5}$"
POINTER = r"^(?:/(?:[^~/]|~[01])*)+$"

Slug = Annotated[str, StringConstraints(pattern=SLUG)]
Topic = Annotated[str, StringConstraints(pattern=TOPIC, max_length=200)]
AgencyCode = Annotated[str, StringConstraints(pattern=AGENCY_CODE)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Purpose = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
FieldPointer = Annotated[str, StringConstraints(pattern=POINTER, max_length=500)]


class Cadence(StrEnum):
    """How often a source publishes (drives freshness alerts)."""

    REALTIME = "realtime"
    DAILY = "daily"
    MONTHLY = "monthly"


class SourceStatus(StrEnum):
    """Whether a source may publish."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"


class ConsumerStatus(StrEnum):
    """Where a consumer's access request stands; the topic's owner decides."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    DELETED = "deleted"


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class Entity(BaseModel):
    """Base of the entities the API returns and `lgsp.registry` carries."""

    model_config = ConfigDict(populate_by_name=True)


class OrganisationIn(Body):
    """A department (Sở) joining the platform."""

    id: Slug = Field(examples=["so-tai-chinh"])
    code: AgencyCode = Field(description="Official agency code", examples=["000.00.17.H03"])
    name_vi: Label = Field(examples=["Sở Tài chính"])
    name_en: Label = Field(examples=["Department of Finance"])


class Organisation(Entity):
    """A registered organisation."""

    id: str
    code: str
    name_vi: str
    name_en: str
    created_at: datetime


class SourceIn(Body):
    """A data source: one department system publishing to one topic."""

    id: Slug = Field(examples=["so-tai-chinh-thu-ngan-sach"])
    organisation_id: Slug
    topic: Topic = Field(examples=["finance.budget-revenue.v1"])
    name: Label
    cadence: Cadence


class SourcePatch(Body):
    """A change to a source; absent fields stay as they are."""

    name: Label | None = None
    cadence: Cadence | None = None
    status: Literal[SourceStatus.ACTIVE, SourceStatus.SUSPENDED] | None = Field(
        default=None, description="active or suspended (deleting is DELETE, undoing it restore)"
    )


class Source(Entity):
    """A registered data source."""

    id: str
    organisation_id: str
    topic: str
    name: str
    cadence: Cadence
    status: SourceStatus
    created_at: datetime
    deleted_at: datetime | None = Field(default=None, description="Set while deleted")
    deleted_by: str | None = Field(default=None, description="Who deleted it")


class ContractExamples(Body):
    """Payloads that must pass (`valid`) and must fail (`invalid`) the schema."""

    valid: list[Any] = Field(default_factory=list, max_length=100)
    invalid: list[Any] = Field(default_factory=list, max_length=100)


class ContractIn(Body):
    """A contract version to check or register: a JSON Schema 2020-12 with its examples."""

    schema_: dict[str, Any] = Field(alias="schema")
    examples: ContractExamples = Field(default_factory=ContractExamples)


class Contract(Entity):
    """One registered version of a subject's contract."""

    id: str = Field(description="Schema id: the same for identical normalised content")
    subject: str
    version: int
    schema_: dict[str, Any] = Field(alias="schema")
    fingerprint: str
    compatibility: CompatibilityMode
    policy: CompatibilityPolicy
    examples: ContractExamples
    created_at: datetime


class CompatibilityConfig(Entity):
    """The compatibility rules in force (globally or for one subject)."""

    compatibility: CompatibilityMode
    policy: CompatibilityPolicy


class ConfigIn(Body):
    """A change of the compatibility rules; absent fields stay as they are."""

    compatibility: CompatibilityMode | None = None
    policy: CompatibilityPolicy | None = None


class CheckResult(Entity):
    """The dry-run verdict on a candidate contract version, with every reason against it."""

    subject: str
    compatible: bool
    compatibility: CompatibilityMode
    policy: CompatibilityPolicy
    checked_versions: list[int]
    registered_version: int | None = Field(
        default=None, description="Set when this exact schema is already registered"
    )
    reasons: list[Reason]


class ConsumerIn(Body):
    """An organisation's request to read a topic for a declared purpose."""

    id: Slug = Field(examples=["ioc-tthc-dashboard"])
    organisation_id: Slug
    topic: Topic
    purpose: Purpose = Field(examples=["ioc-kpi"])
    fields: list[FieldPointer] = Field(min_length=1, max_length=200, examples=[["/status"]])
    name: Label | None = Field(default=None, description="Human-readable name")


class Consumer(Entity):
    """A consumer and the owner's decision on its access."""

    id: str
    organisation_id: str
    topic: str
    purpose: str
    fields: list[str]
    name: str
    status: ConsumerStatus
    decided_by: str | None = None
    decided_at: datetime | None = None
    created_at: datetime
    deleted_at: datetime | None = Field(default=None, description="Set while deleted")
    deleted_by: str | None = Field(default=None, description="Who deleted it")


class ApiKeyInfo(Entity):
    """What anyone may see of an API key: never the secret, never its hash."""

    id: str
    source_id: str | None = None
    consumer_id: str | None = None
    organisation_id: str | None = None
    created_at: datetime
    revoked_at: datetime | None = None
    expires_at: datetime | None = None
    suspended_at: datetime | None = Field(
        default=None, description="Set while its owner is deleted (restoring clears it)"
    )


class ApiKeyCreated(ApiKeyInfo):
    """A new key, with its secret: shown once, in this answer only."""

    key: str = Field(description="The full key; it is not stored and cannot be shown again")


class RotateIn(Body):
    """How long the rotated key keeps working."""

    grace_period_s: int | None = Field(default=None, ge=0, le=30 * 86_400)


class AccessTokenIn(Body):
    """A person's access token to issue (operator only)."""

    name: str = Field(min_length=1, max_length=200, description="Who holds it (vi: người dùng)")
    role: Role = Field(description="viewer, operator or auditor (vi: vai trò)")
    organisation_id: str | None = Field(
        default=None, description="The organisation the holder works for, if any"
    )
    expires_at: datetime | None = Field(default=None, description="When it stops working")


class AccessTokenInfo(Entity):
    """What may be shown of an access token: never the secret, never its hash."""

    id: str
    name: str
    role: Role
    organisation_id: str | None = None
    created_at: datetime
    created_by: str
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class AccessTokenCreated(AccessTokenInfo):
    """A new token, with its secret: shown once, in this answer only."""

    token: str = Field(description="The full token; it is not stored and cannot be shown again")
