"""Who may change what in the registry.

Four kinds of caller, each proven by a credential:

- the **operator** (token `LGSP_REGISTRY_OPERATOR_TOKEN`): everything;
- an **organisation** (its own API key): its sources and their keys, the contracts of topics it
  owns, decisions on consumers of those topics, and consumer requests in its own name;
- a **source** (a source's API key): the contracts of its own topic, rotating or revoking its
  own keys;
- a **consumer** (an approved consumer's key): rotating or revoking its own keys;
- a **person** (an access token the operator issued, `lgsp_at_...`) with a role: `operator`
  acts as the operator, `auditor` reads every listing, `viewer` only reads the IOC dashboard.

An organisation owns a topic once it has a source on it; another organisation cannot add one.
Reads of what the data owners publish (organisations, sources, contracts, KPIs, the catalogue)
and the dry-run compatibility check need no credential: they change nothing and never show a
secret or a hash. Who reads whose data is not public: listing consumers needs the operator, an
auditor, or the organisation concerned (see `may_see_consumer`); keys are seen by who manages
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lgsp_common.access_tokens import Role


class PrincipalKind(StrEnum):
    """What a credential stands for."""

    OPERATOR = "operator"
    ORGANISATION = "organisation"
    SOURCE = "source"
    CONSUMER = "consumer"
    PERSON = "person"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    kind: PrincipalKind
    id: str
    organisation_id: str | None = None
    topic: str | None = None
    key_id: str | None = None
    role: Role | None = None  # a person's role (their access token's)

    @property
    def name(self) -> str:
        """Return how decisions and logs name the caller (never a secret)."""
        return "operator" if self.kind is PrincipalKind.OPERATOR else f"{self.kind}:{self.id}"

    @property
    def is_operator(self) -> bool:
        """Tell whether this is the operator, or a person holding an operator token."""
        return self.kind is PrincipalKind.OPERATOR or self.role is Role.OPERATOR

    @property
    def reads_everything(self) -> bool:
        """Tell whether every registry listing is open to the caller (operator or auditor)."""
        return self.is_operator or self.role is Role.AUDITOR

    @property
    def organisation(self) -> str | None:
        """Return the organisation the caller speaks for: its own key, or a person's token."""
        if self.kind in (PrincipalKind.ORGANISATION, PrincipalKind.PERSON):
            return self.organisation_id
        return None


OPERATOR = Principal(PrincipalKind.OPERATOR, "operator")


def acts_for(principal: Principal, organisation_id: str | None) -> bool:
    """Tell whether the caller is the operator or that organisation itself."""
    if principal.is_operator:
        return True
    return principal.kind is PrincipalKind.ORGANISATION and principal.id == organisation_id


def may_write_subject(principal: Principal, owner_id: str | None, subject: str) -> bool:
    """Tell whether the caller may register contracts or rules for a subject (topic)."""
    if acts_for(principal, owner_id) and (owner_id is not None or principal.is_operator):
        return True
    return principal.kind is PrincipalKind.SOURCE and principal.topic == subject


def may_manage_key(
    principal: Principal, key_id: str, owner_organisation_id: str | None, owner: str
) -> bool:
    """Tell whether the caller may see, rotate or revoke a key.

    The operator, the responsible organisation, the key itself, or another key of the same
    owner (`owner` is "source:<id>", "consumer:<id>" or "organisation:<id>"), so a source can
    revoke its old key with the new one.
    """
    if acts_for(principal, owner_organisation_id) or principal.key_id == key_id:
        return True
    return principal.key_id is not None and principal.name == owner


def may_see_consumer(principal: Principal, organisation_id: str, topic_owner: str | None) -> bool:
    """Tell whether the caller may see a consumer: operator, auditor, the consumer's organisation
    or the organisation owning the topic it reads (which decides on it)."""
    if principal.reads_everything:
        return True
    own = principal.organisation
    return own is not None and own in (organisation_id, topic_owner)


def audit_actor(principal: Principal) -> dict[str, str]:
    """Return how an audit record names the caller (`actor` of lgsp.audit; never a secret).

    The audit schema's actor kinds have no `organisation`, so an organisation's key is named as
    `service` with id `organisation:<id>` until the schema gains the kind.
    """
    if principal.kind is PrincipalKind.ORGANISATION:
        return {"kind": "service", "id": f"organisation:{principal.id}"}
    if principal.kind is PrincipalKind.PERSON:
        kind = "operator" if principal.is_operator else "service"
        return {"kind": kind, "id": f"token:{principal.id}"}
    return {"kind": str(principal.kind), "id": principal.id}
