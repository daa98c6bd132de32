"""The purpose catalogue: which citizen fields each declared purpose may receive, and why.

Decree 13/2023/NĐ-CP on personal data protection requires processing for a declared purpose
and no more data than it needs. Every lookup therefore names a purpose; the fields it may return
are fixed here, together with the legal basis an auditor would ask for. The CCCD number itself is
never disclosed: the caller already holds it, and echoing it back would only widen exposure.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class CitizenField(StrEnum):
    """Fields of the citizen record that some purpose may receive."""

    FULL_NAME = "full_name"
    SEX = "sex"
    DATE_OF_BIRTH = "date_of_birth"
    BIRTH_PROVINCE_CODE = "birth_province_code"
    PERMANENT_ADDRESS = "permanent_address"
    ELECTRONIC_IDENTITY = "electronic_identity"
    HEALTH_INSURANCE_NUMBER = "health_insurance_number"


NEVER_DISCLOSED_FIELDS = frozenset({"cccd"})
_FIELD_NAMES = frozenset(f.value for f in CitizenField)


class RefusalReason(StrEnum):
    """Why a requested field was refused."""

    NOT_ALLOWED_FOR_PURPOSE = "FIELD_NOT_ALLOWED_FOR_PURPOSE"
    NEVER_DISCLOSED = "FIELD_NEVER_DISCLOSED"
    UNKNOWN_FIELD = "FIELD_UNKNOWN"
    NOT_APPROVED_FOR_CONSUMER = "FIELD_NOT_APPROVED_FOR_CONSUMER"


@dataclass(frozen=True, slots=True)
class Purpose:
    """A declared purpose of processing and the fields it may receive."""

    code: str
    label_vi: str
    label_en: str
    legal_basis: str
    allowed_fields: frozenset[CitizenField]


@dataclass(frozen=True, slots=True)
class FieldRefusal:
    """One requested field that is not granted, with a stable reason and an English message."""

    field: str
    reason: RefusalReason
    message: str


@dataclass(frozen=True, slots=True)
class FieldAuthorization:
    """The outcome of checking requested fields against a purpose."""

    purpose: Purpose
    granted: tuple[CitizenField, ...]
    refused: tuple[FieldRefusal, ...]

    @property
    def fully_granted(self) -> bool:
        """Tell whether every requested field was granted."""
        return not self.refused


class UnknownPurposeError(LookupError):
    """The declared purpose is not in the catalogue."""

    def __init__(self, code: str) -> None:
        super().__init__(f"unknown purpose {code!r}; known: {', '.join(sorted(PURPOSES))}")
        self.code = code


_F = CitizenField
_PDP = "Nghị định 13/2023/NĐ-CP (bảo vệ dữ liệu cá nhân)"

_CATALOGUE = (
    Purpose(
        code="identity_verification",
        label_vi="Xác thực thông tin công dân",
        label_en="Identity verification (match / no match only)",
        legal_basis=f"Nghị định 59/2022/NĐ-CP (định danh và xác thực điện tử); {_PDP}",
        allowed_fields=frozenset(),
    ),
    Purpose(
        code="health_insurance_check",
        label_vi="Khám chữa bệnh BHYT",
        label_en="Medical visit under health insurance",
        legal_basis=(
            "Luật Bảo hiểm y tế; Quyết định 06/QĐ-TTg (Đề án 06: dùng thẻ CCCD thay thẻ BHYT); "
            f"{_PDP}"
        ),
        allowed_fields=frozenset(
            {_F.FULL_NAME, _F.DATE_OF_BIRTH, _F.SEX, _F.HEALTH_INSURANCE_NUMBER}
        ),
    ),
    Purpose(
        code="administrative_procedure",
        label_vi="Giải quyết thủ tục hành chính",
        label_en="Handling an administrative procedure",
        legal_basis=(
            "Luật Cư trú 2020; Nghị định 104/2022/NĐ-CP (bỏ yêu cầu sổ hộ khẩu, sổ tạm trú); "
            f"{_PDP}"
        ),
        allowed_fields=frozenset({_F.FULL_NAME, _F.DATE_OF_BIRTH, _F.SEX, _F.PERMANENT_ADDRESS}),
    ),
    Purpose(
        code="social_welfare",
        label_vi="Chi trả trợ cấp, an sinh xã hội",
        label_en="Social welfare and social assistance payments",
        legal_basis=f"Nghị định 20/2021/NĐ-CP (chính sách trợ giúp xã hội); {_PDP}",
        allowed_fields=frozenset({_F.FULL_NAME, _F.DATE_OF_BIRTH, _F.SEX, _F.PERMANENT_ADDRESS}),
    ),
    Purpose(
        code="electronic_identity_status",
        label_vi="Kiểm tra mức định danh điện tử (VNeID)",
        label_en="Electronic identity (VNeID) level check",
        legal_basis=f"Nghị định 59/2022/NĐ-CP (định danh và xác thực điện tử); {_PDP}",
        allowed_fields=frozenset({_F.ELECTRONIC_IDENTITY}),
    ),
)

PURPOSES: Mapping[str, Purpose] = MappingProxyType({p.code: p for p in _CATALOGUE})


def get_purpose(code: str) -> Purpose:
    """Return the catalogue entry of a purpose code or raise UnknownPurposeError."""
    try:
        return PURPOSES[code]
    except KeyError:
        raise UnknownPurposeError(code) from None


def authorize_fields(
    purpose: str | Purpose, requested_fields: Iterable[str] | None = None
) -> FieldAuthorization:
    """Split requested fields into those the purpose grants and those refused, with reasons.

    ``None`` requests every field the purpose allows. Duplicates are collapsed; order is kept.
    """
    entry = purpose if isinstance(purpose, Purpose) else get_purpose(purpose)
    if requested_fields is None:
        granted = tuple(f for f in CitizenField if f in entry.allowed_fields)
        return FieldAuthorization(entry, granted, ())
    granted_list: list[CitizenField] = []
    refused: list[FieldRefusal] = []
    for name in dict.fromkeys(requested_fields):
        refusal = _refusal(entry, name)
        if refusal is None:
            granted_list.append(CitizenField(name))
        else:
            refused.append(refusal)
    return FieldAuthorization(entry, tuple(granted_list), tuple(refused))


def _refusal(purpose: Purpose, name: str) -> FieldRefusal | None:
    if name in NEVER_DISCLOSED_FIELDS:
        return FieldRefusal(
            name,
            RefusalReason.NEVER_DISCLOSED,
            f"field '{name}' is never disclosed; the caller already holds it",
        )
    if name not in _FIELD_NAMES:
        # The unknown name is not echoed: callers can put anything, identifiers included, there.
        return FieldRefusal(name, RefusalReason.UNKNOWN_FIELD, "no such citizen field")
    if CitizenField(name) not in purpose.allowed_fields:
        return FieldRefusal(
            name,
            RefusalReason.NOT_ALLOWED_FOR_PURPOSE,
            f"field '{name}' is not needed for purpose '{purpose.code}' "
            f"({purpose.label_en}); Decree 13/2023 limits data to what the purpose requires",
        )
    return None
