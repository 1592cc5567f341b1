"""Who may see a configured dataset: allowed e-mail addresses, e-mail domains and OIDC groups.

A dataset's ``access`` in the server's TOML (read by :mod:`cohort.config`; README, "Hosting with
your registry")::

    access = { emails = ["a.lee@hospital.org"], domains = ["hospital.org"], groups = ["radonc"] }

or ``access = "public"``. A dataset without ``access`` is public only while sign-in is off: once
sign-in is on, a configured dataset nobody is listed for is shown to nobody (a forgotten access
table must not publish a registry); a dataset with a list is shown to nobody while sign-in is off
(no one can be identified). Addresses and domains compare in lower case, group names exactly; a
user's groups come from the OIDC claim named by ``[sign_in] groups_claim`` (default "groups").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PUBLIC = "public"
DEFAULT_GROUPS_CLAIM = "groups"


@dataclass(frozen=True)
class User:
    """A signed-in user: e-mail address (lower case; None when the provider gave none) and the
    groups of the configured claim."""

    email: str | None
    groups: frozenset[str] = frozenset()

    @property
    def domain(self) -> str | None:
        """The part of the address after '@', lower case."""
        if not self.email or "@" not in self.email:
            return None
        return self.email.rsplit("@", 1)[1]


@dataclass(frozen=True)
class Access:
    """Who may see one dataset. ``public``: everyone who can reach the app (signed in or not)."""

    public: bool = False
    emails: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    def allows(self, user: User | None) -> bool:
        """True when ``user`` (None: nobody signed in) may see the dataset."""
        if self.public:
            return True
        if user is None:
            return False
        return (user.email in self.emails or user.domain in self.domains
                or bool(user.groups & self.groups))

    def describe(self) -> str:
        """Who may see it, in words (for the server's log and the README's check list)."""
        if self.public:
            return "everyone"
        parts = [f"{label}: {', '.join(sorted(values))}" for label, values in
                 (("addresses", self.emails), ("domains", self.domains), ("groups", self.groups))
                 if values]
        return "; ".join(parts) or "nobody"


PUBLIC_ACCESS = Access(public=True)
NOBODY = Access()


def resolved(access: Access | None, *, sign_in: bool) -> Access:
    """The rule that applies to a dataset whose ``access`` is ``access`` (None: not given):
    not given is public while sign-in is off, nobody once it is on."""
    if access is None:
        return PUBLIC_ACCESS if not sign_in else NOBODY
    return access


def user_from_claims(claims: Mapping[str, object],
                     groups_claim: str = DEFAULT_GROUPS_CLAIM) -> User:
    """The :class:`User` of an OIDC identity's claims: ``email`` (only when the provider does not
    say it is unverified) and the groups in ``groups_claim`` (a list, or one string)."""
    email = claims.get("email")
    verified = claims.get("email_verified", True)
    address = email.strip().lower() if isinstance(email, str) and verified is not False else None
    raw = claims.get(groups_claim, ())
    groups: Iterable[object] = [raw] if isinstance(raw, str) else raw if isinstance(
        raw, list | tuple) else ()
    return User(email=address or None, groups=frozenset(g for g in groups if isinstance(g, str)))
