"""Who may see a configured dataset: the ``access`` rules of the server's TOML (cohort.config)
applied to signed-in users (cohort.access)."""

from __future__ import annotations

import textwrap

import pytest

from cohort.access import NOBODY, PUBLIC_ACCESS, User, resolved, user_from_claims
from cohort.config import load_config


def configured_access(tmp_path, access_toml: str):
    """The access rule of one dataset configured with ``access_toml`` (and the config)."""
    (tmp_path / "x.csv").write_text("id\n1\n")
    path = tmp_path / "oligomet.toml"
    path.write_text(textwrap.dedent(f"""
        [sign_in]
        groups_claim = "roles"
        [datasets.registry]
        title = "Registry"
        provenance = "p"
        patients = "x.csv"
        reading = {{ mapping = {{ id = "patient_id" }} }}
        {access_toml}
    """))
    return load_config(path)


RULE = ('access = { emails = ["A.Lee@Hospital.org"], domains = ["partner.org"], '
        'groups = ["RadOnc"] }')


@pytest.mark.parametrize(("claims", "allowed"), [
    ({"email": "a.lee@hospital.org"}, True),
    ({"email": "A.LEE@HOSPITAL.ORG"}, True),  # addresses compare in lower case
    ({"email": "b.kim@hospital.org"}, False),
    ({"email": "anyone@partner.org"}, True),
    ({"email": "anyone@evil-partner.org"}, False),  # a domain is the part after '@', whole
    ({"email": "x@partner.org.evil.com"}, False),
    ({"email": "x@other.org", "roles": ["RadOnc"]}, True),
    ({"email": "x@other.org", "roles": ["radonc"]}, False),  # group names compare exactly
    ({"email": "x@other.org", "roles": "RadOnc"}, True),  # one group as a string
    ({"email": "x@other.org", "groups": ["RadOnc"]}, False),  # not the configured claim
    ({"email": "a.lee@hospital.org", "email_verified": False}, False),
    ({}, False),
])
def test_a_dataset_is_offered_only_to_those_listed(tmp_path, claims, allowed):
    config = configured_access(tmp_path, RULE)
    access = resolved(config.datasets["registry"].access, sign_in=True)
    assert access.allows(user_from_claims(claims, config.groups_claim)) is allowed


def test_nobody_signed_in_sees_only_public_datasets(tmp_path):
    listed = configured_access(tmp_path, RULE).datasets["registry"].access
    assert not resolved(listed, sign_in=True).allows(None)
    assert not resolved(listed, sign_in=False).allows(None)  # sign-in off: nobody identified
    public = configured_access(tmp_path, 'access = "public"').datasets["registry"].access
    assert resolved(public, sign_in=True).allows(None)


def test_without_access_a_dataset_is_public_only_while_sign_in_is_off(tmp_path):
    absent = configured_access(tmp_path, "").datasets["registry"].access
    assert absent is None
    assert resolved(absent, sign_in=False) == PUBLIC_ACCESS
    assert resolved(absent, sign_in=True) == NOBODY
    assert not NOBODY.allows(User("a.lee@hospital.org", frozenset({"RadOnc"})))


@pytest.mark.parametrize(("access_toml", "message"), [
    ('access = "everyone"', 'access: must be "public" or a table'),
    ('access = { emails = ["a@b.org"], roles = ["x"] }', "access.roles: unknown field"),
    ('access = { emails = ["not an address"] }', "is not an e-mail address"),
])
def test_a_wrong_access_value_names_the_file_dataset_and_field(tmp_path, access_toml, message):
    config = configured_access(tmp_path, access_toml)
    assert "registry" not in config.datasets
    assert any("oligomet.toml: [datasets.registry]" in p and message in p
               for p in config.problems), config.problems
