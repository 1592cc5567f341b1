"""Who may see a configured dataset (cohort.access): addresses, domains, groups, public."""

from __future__ import annotations

import pytest

from cohort.access import (
    NOBODY,
    PUBLIC_ACCESS,
    AccessConfigError,
    User,
    parse_access,
    user_from_claims,
)

WHERE = "oligomet.toml, [datasets.registry]"
RULE = {"emails": ["A.Lee@Hospital.org"], "domains": ["@partner.org"], "groups": ["RadOnc"]}


@pytest.mark.parametrize(("claims", "allowed"), [
    ({"email": "a.lee@hospital.org"}, True),
    ({"email": "A.LEE@HOSPITAL.ORG"}, True),  # addresses compare in lower case
    ({"email": "b.kim@hospital.org"}, False),
    ({"email": "anyone@partner.org"}, True),
    ({"email": "anyone@evil-partner.org"}, False),  # a domain is the part after '@', whole
    ({"email": "x@partner.org.evil.com"}, False),
    ({"email": "x@other.org", "groups": ["RadOnc"]}, True),
    ({"email": "x@other.org", "groups": ["radonc"]}, False),  # group names compare exactly
    ({"email": "x@other.org", "groups": "RadOnc"}, True),  # one group as a string
    ({"email": "a.lee@hospital.org", "email_verified": False}, False),
    ({}, False),
])
def test_a_dataset_is_offered_only_to_those_listed(claims, allowed):
    access = parse_access(RULE, WHERE, sign_in=True)
    assert access.allows(user_from_claims(claims)) is allowed


def test_nobody_signed_in_sees_only_public_datasets():
    assert not parse_access(RULE, WHERE, sign_in=True).allows(None)
    assert parse_access("public", WHERE, sign_in=True).allows(None)


def test_without_an_access_table_a_dataset_is_public_only_while_sign_in_is_off():
    assert parse_access(None, WHERE, sign_in=False) == PUBLIC_ACCESS
    assert parse_access(None, WHERE, sign_in=True) == NOBODY
    assert not NOBODY.allows(User("a.lee@hospital.org", frozenset({"RadOnc"})))
    assert NOBODY.describe() == "nobody"


@pytest.mark.parametrize(("value", "message"), [
    ("everyone", "access must be"),
    ({"emails": "a@b.org", "roles": ["x"]}, "unknown access field(s) roles"),
    ({"emails": [1, 2]}, "access.emails must be a list of strings"),
])
def test_a_wrong_access_value_names_the_file_and_dataset(value, message):
    with pytest.raises(AccessConfigError, match="registry") as error:
        parse_access(value, WHERE, sign_in=True)
    assert message in str(error.value)
    assert str(error.value).startswith(WHERE)
