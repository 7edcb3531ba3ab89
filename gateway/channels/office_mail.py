"""Mail to the 12345 office's own people (supervisors, the leaders' list): hot-spot alerts and the
monthly report, through the mailbox's outbound relay like the units' notices
(:mod:`gateway.channels.unit_mail`).  A mail that cannot go is logged and reported, never retried
in a loop: the console shows the same thing."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from connectors.base import DeliveryResult
from connectors.email.replies import EmailConnector
from gateway.channels.unit_mail import NO_MAILBOX
from gateway.channels.wiring import CONNECTORS

log = logging.getLogger(__name__)

NO_RECIPIENTS = "config/directory.yaml 的 analytics 未配置收件人"


async def notify_office(config: Mapping[Any, Any], addresses: Iterable[str], subject: str,
                        body: str) -> list[DeliveryResult]:
    """Send ``body`` to each address; one result per address (or one refusal when none can go)."""
    recipients = [a for a in addresses if a]
    if not recipients:
        return [DeliveryResult(delivered=False, detail=NO_RECIPIENTS)]
    mailer = config[CONNECTORS].get("email")
    if not isinstance(mailer, EmailConnector):
        return [DeliveryResult(delivered=False, detail=NO_MAILBOX)]
    results = []
    for address in recipients:
        result = await mailer.send_notice(address, subject, body)
        if not result.delivered:
            log.warning("office mail %r to %s not sent: %s", subject, address, result.detail)
        results.append(result)
    return results
