"""Who may change what, and how keys and the operator token are made and kept."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from lgsp_registry.adapters.operator_token import load_operator_token, token_path
from lgsp_registry.domain.access import (
    OPERATOR,
    Principal,
    PrincipalKind,
    acts_for,
    may_manage_key,
    may_write_subject,
)
from lgsp_registry.domain.credentials import hash_api_key, new_api_key, parse_api_key
from lgsp_registry.settings import RegistrySettings

ORG = Principal(PrincipalKind.ORGANISATION, "so-tai-chinh", "so-tai-chinh", key_id="k_00000001")
SOURCE = Principal(
    PrincipalKind.SOURCE, "stc", "so-tai-chinh", "finance.budget-revenue.v1", key_id="k_00000002"
)
CONSUMER = Principal(PrincipalKind.CONSUMER, "ioc", "ioc-org", "x.y.v1", key_id="k_00000003")


def test_operator_acts_for_everyone_organisations_for_themselves() -> None:
    assert acts_for(OPERATOR, "anyone")
    assert acts_for(ORG, "so-tai-chinh")
    assert not acts_for(ORG, "so-y-te")
    assert not acts_for(SOURCE, "so-tai-chinh")  # a source key does not administer its org
    assert not acts_for(CONSUMER, "ioc-org")


def test_subject_writers_are_operator_owner_and_the_topics_sources() -> None:
    topic = "finance.budget-revenue.v1"
    assert may_write_subject(OPERATOR, None, topic)
    assert may_write_subject(ORG, "so-tai-chinh", topic)
    assert not may_write_subject(ORG, None, topic)  # an unowned topic: only the operator
    assert not may_write_subject(ORG, "so-y-te", topic)
    assert may_write_subject(SOURCE, "so-tai-chinh", topic)
    assert not may_write_subject(SOURCE, "so-tai-chinh", "finance.investment-spending.v1")
    assert not may_write_subject(CONSUMER, "ioc-org", "x.y.v1")


def test_a_key_is_managed_by_the_operator_its_organisation_its_owner_or_itself() -> None:
    assert may_manage_key(OPERATOR, "k_1", None, "source:stc")
    assert may_manage_key(ORG, "k_9", "so-tai-chinh", "source:stc")
    assert not may_manage_key(ORG, "k_9", "so-y-te", "source:syt")
    assert may_manage_key(CONSUMER, "k_00000003", "ioc-org", "consumer:ioc")
    assert may_manage_key(CONSUMER, "k_00000004", "ioc-org", "consumer:ioc")
    assert not may_manage_key(CONSUMER, "k_00000004", "ioc-org", "consumer:other")
    assert not may_manage_key(SOURCE, "k_5", "so-tai-chinh", "organisation:so-tai-chinh")


def test_new_keys_are_random_parseable_and_never_shown_in_repr() -> None:
    first, second = new_api_key(), new_api_key()
    assert first.key != second.key and first.id != second.id
    assert parse_api_key(first.key) == first.id
    assert first.key_hash == hash_api_key(first.key) != hash_api_key(second.key)
    secret = first.key.split("_", 2)[2]
    assert len(secret) == 43
    assert secret not in repr(first) and secret not in str(first)


def test_operator_token_file_is_made_once_private_and_reused(tmp_path: Path) -> None:
    settings = RegistrySettings(data_dir=tmp_path)
    token = load_operator_token(settings)
    path = token_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(token) >= 40
    assert load_operator_token(settings) == token


def test_operator_token_from_the_environment_wins_and_must_be_long(tmp_path: Path) -> None:
    good = RegistrySettings(data_dir=tmp_path, operator_token="a-long-enough-operator-token")
    assert load_operator_token(good) == "a-long-enough-operator-token"
    assert not token_path(good).exists()
    with pytest.raises(ValueError, match="at least 24"):
        load_operator_token(RegistrySettings(data_dir=tmp_path, operator_token="short"))
