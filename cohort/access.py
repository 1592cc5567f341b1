"""Who may see a configured dataset: allowed e-mail addresses, e-mail domains and OIDC groups.

A dataset's ``access`` table in the server's TOML (see README, "Hosting with your registry")::

    access = { emails = ["a.lee@hospital.org"], domains = ["hospital.org"], groups = ["radonc"] }

or ``access = "public"``. A dataset without ``access`` is public only while sign-in is off: once
sign-in is on, a configured dataset nobody is listed for is shown to nobody (a forgotten access
table must not publish a registry). Addresses and domains compare case-insensitively; a user's
groups come from the OIDC claim named by ``groups_claim`` (default ``"groups"``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PUBLIC = "public"
DEFAULT_GROUPS_CLAIM = "groups"


class AccessConfigError(ValueError):
    """An ``access`` value that is not a public marker or a table of lists of strings."""


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


def _strings(value: object, field: str, where: str, *, lower: bool = True) -> frozenset[str]:
    """The strings of one access list (one string counts as a list of one)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AccessConfigError(f"{where}: access.{field} must be a list of strings")
    return frozenset((v.strip().lower() if lower else v.strip()) for v in value if v.strip())


def parse_access(value: object, where: str, *, sign_in: bool) -> Access:
    """The :class:`Access` of a dataset's ``access`` value (``where`` names it in errors, e.g.
    "oligomet.toml, [datasets.registry]"). Absent (None): public without sign-in, nobody with it.
    Addresses and domains are compared in lower case, group names exactly."""
    if value is None:
        return PUBLIC_ACCESS if not sign_in else NOBODY
    if value == PUBLIC:
        return PUBLIC_ACCESS
    if not isinstance(value, Mapping):
        raise AccessConfigError(f"{where}: access must be \"public\" or a table with emails, "
                                f"domains and/or groups")
    unknown = sorted(set(value) - {"emails", "domains", "groups"})
    if unknown:
        raise AccessConfigError(f"{where}: unknown access field(s) {', '.join(unknown)} "
                                f"(known: emails, domains, groups)")
    domains = _strings(value.get("domains", []), "domains", where)
    return Access(emails=_strings(value.get("emails", []), "emails", where),
                  domains=frozenset(d.lstrip("@") for d in domains),
                  groups=_strings(value.get("groups", []), "groups", where, lower=False))


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
