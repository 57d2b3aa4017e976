"""Who is calling: the identity a verified token (or its absence) gives a request."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_TENANT = "default"


class Role(StrEnum):
    CUSTOMER = "customer"
    """Places orders for themself and sees only their own."""
    ADMIN = "admin"
    """Runs the catalog and stock, and sees every order of its tenant."""


@dataclass(frozen=True, slots=True)
class Identity:
    """The caller: a token's subject, tenant and roles, or an anonymous reader.

    Anonymous callers read the public catalog and never write.
    """

    subject: str | None
    tenant: str
    roles: frozenset[Role] = frozenset()
    expires_at: float | None = None
    """When the token expires (Unix time); None for an anonymous caller."""

    def current(self, leeway_seconds: float = 0.0) -> bool:
        """Whether the token behind this identity is still valid (a socket outlives it)."""
        return self.expires_at is None or time.time() <= self.expires_at + leeway_seconds

    @property
    def signed_in(self) -> bool:
        return self.subject is not None

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    def may_act_for(self, user_id: str) -> bool:
        """Whether this caller may see or act on what belongs to `user_id` (in its tenant)."""
        return self.is_admin or (self.subject is not None and self.subject == user_id)


def anonymous(tenant: str | None = None) -> Identity:
    return Identity(subject=None, tenant=tenant or DEFAULT_TENANT)
