"""Who may do what: the roles, their Chinese labels, and the acting person (:class:`Actor`)."""

from __future__ import annotations

from dataclasses import dataclass

# The values of ``users.role`` live beside the column they constrain.
from ticketing.db.models.accounts import ROLE_LABELS, ROLES, User

__all__ = ["ANALYTICS_ROLES", "CONSOLE_ROLES", "DISPATCH_ROLES", "LEADER_ROLES", "PLATFORM_ROLES", "ROLES",
           "ROLE_LABELS", "SUPERVISOR_ROLES", "UNIT_ROLES", "Actor"]

SUPERVISOR_ROLES = frozenset({"supervisor"})
CONSOLE_ROLES = frozenset({"operator", "supervisor"})
# Who may dispatch (交办), re-dispatch, decide extensions and issue 督办单.
DISPATCH_ROLES = frozenset({"operator", "dispatcher", "supervisor"})
# The 12345 platform's own staff (everyone but the units' handlers and the admins).
PLATFORM_ROLES = frozenset({"operator", "dispatcher", "callback", "supervisor"})
# Scoped to one unit: they see only their unit's tickets.
UNIT_ROLES = frozenset({"handler"})
# The city's leaders: read-only, the analytics dashboard and the monthly report only.
LEADER_ROLES = frozenset({"leader"})
# Who reads the analytics (dashboard, hot spots, monthly report).
ANALYTICS_ROLES = frozenset({"supervisor", "admin", "leader"})


@dataclass(frozen=True)
class Actor:
    username: str
    display_name: str
    role: str
    ip: str | None = None
    unit: str | None = None  # a handler's unit code

    @classmethod
    def of(cls, user: User, ip: str | None = None) -> Actor:
        return cls(user.username, user.display_name, user.role, ip, user.unit)

    @property
    def supervisor(self) -> bool:
        return self.role in SUPERVISOR_ROLES
