"""Mail to a unit's inbox (new work, reminders, 督办单) through the mailbox's outbound relay.

The handling desk is where a unit works; the mail only tells the unit to look.  So a notice that
cannot be sent (no relay configured, the relay refuses) is logged and reported to the caller, who
records it on the ticket's timeline, and nothing else waits for it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from connectors.base import DeliveryResult
from connectors.email.replies import EmailConnector
from gateway.channels.wiring import CONNECTORS
from gateway.infra.resources import DIRECTORY

log = logging.getLogger(__name__)

NO_MAILBOX = "未启用市长信箱发信（EMAIL_*），单位只能在办理台看到提醒"
NO_ADDRESS = "config/directory.yaml 未配置该单位的邮箱"


async def notify_unit(config: Mapping[Any, Any], unit: str, subject: str, body: str, *,
                      ticket_no: str | None = None, leader: bool = False) -> DeliveryResult:
    """Send ``body`` to the unit's inbox (or its leader's, for an escalated 督办)."""
    contact = config[DIRECTORY].unit(unit)
    address = (contact.leader_email if leader else contact.email) if contact else None
    if not address:
        return DeliveryResult(delivered=False, detail=NO_ADDRESS)
    mailer = config[CONNECTORS].get("email")
    if not isinstance(mailer, EmailConnector):
        return DeliveryResult(delivered=False, detail=NO_MAILBOX)
    result = await mailer.send_notice(address, subject, body, ticket_no=ticket_no)
    if not result.delivered:
        log.warning("notice to unit %s (%s) not sent: %s", unit, address, result.detail)
    return result
