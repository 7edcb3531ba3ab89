"""Who may do what: the roles, their Chinese labels, and the acting person (:class:`Actor`)."""

from __future__ import annotations

from dataclasses import dataclass

# The values of ``users.role`` live beside the column they constrain.
from ticketing.db.models.accounts import ROLE_LABELS, ROLES, User

__all__ = ["CONSOLE_ROLES", "ROLES", "ROLE_LABELS", "SUPERVISOR_ROLES", "Actor"]

SUPERVISOR_ROLES = frozenset({"supervisor"})
CONSOLE_ROLES = frozenset({"operator", "supervisor"})


@dataclass(frozen=True)
class Actor:
    username: str
    display_name: str
    role: str
    ip: str | None = None

    @classmethod
    def of(cls, user: User, ip: str | None = None) -> Actor:
        return cls(user.username, user.display_name, user.role, ip)

    @property
    def supervisor(self) -> bool:
        return self.role in SUPERVISOR_ROLES
