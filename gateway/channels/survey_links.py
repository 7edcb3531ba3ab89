"""一事一评 and the channels: how the evaluation link reaches the citizen, and how the evaluation
goes on once given (live notices, the national platform's write-back).

The link rides with the accepted answer through the citizen's own channel, by the operators'
reply path (``delivery.deliver_operator_reply``):

* web chat — the answer message in the chat carries the link (relative links would do there, but
  one absolute text serves every channel);
* WeChat — a customer-service message with the answer and the link (absolute: ``HOTLINE_PUBLIC_URL``);
* e-mail — the reply mail with the answer and the link;
* national platform — the written-back reply carries the link; the evaluation goes back to the
  platform as a feedback with an ``evaluation`` object (docs/national-feed.md §3);
* phone, letter — no link can reach them: the callback seats (回访坐席) call at once
  (``AT_ONCE_CHANNELS``, see ``ticketing.workflow.callbacks``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import DeliveryResult, ReplyTarget
from connectors.national_feed.protocol import evaluation_body
from gateway.channels.wiring import CONNECTORS
from gateway.infra.replies import REPLIES
from gateway.infra.resources import SECRET, SETTINGS
from ticketing.db.models.tickets import Ticket
from ticketing.db.models.workflow import Survey, UnitReport
from ticketing.tickets import replies
from ticketing.workflow import surveys

log = logging.getLogger(__name__)

SURVEY_PATH = "/survey/"
# Channels with no way to carry a link: their surveys go to the callback seats at once.
AT_ONCE_CHANNELS = frozenset({"phone", "letter"})
WRITE_BACK_TIMEOUT = 20.0


def survey_link(config: Mapping[Any, Any], survey: Survey) -> str:
    """The absolute, signed one-use link of ``survey``."""
    return config[SETTINGS].public_url + SURVEY_PATH + surveys.token_for(config[SECRET], survey)


def survey_message(answer_text: str, link: str, *, valid_days: int) -> str:
    """What the citizen receives: the answer, then the request to evaluate it."""
    return f"{answer_text.strip()}\n\n请您对本次办理进行评价（一事一评）：{link}  链接{valid_days}天内有效"


def by_link(channel: str) -> bool:
    return channel not in AT_ONCE_CHANNELS


# --------------------------------------------------------------------------- once evaluated

def _after(outcome: str | None) -> str:
    return "closed" if outcome in ("closed", "ruled") else "answered"


async def announce_evaluation(config: Mapping[Any, Any], ticket: Ticket, survey: Survey, *, by: str) -> None:
    """Live notices after the commit: every console's queue, and for a 重办 the unit's desks."""
    bus = config[REPLIES]
    try:
        await bus.publish_event(bus.console_topic, {
            "type": "updated", "ticket_no": ticket.number, "by": by, "what": "evaluation",
            "status": ticket.status, "channel": ticket.channel})
        if survey.outcome == "redo" and survey.unit:
            await bus.publish_event(bus.desk_topic(survey.unit), {"type": "redo", "ticket_no": ticket.number})
    except Exception as exc:  # live updates only; the evaluation is committed
        log.warning("evaluation of %s not announced: %s", ticket.number, exc)


async def report_evaluation_to_platform(config: Mapping[Any, Any], session: AsyncSession, ticket: Ticket,
                                        survey: Survey) -> DeliveryResult | None:
    """Write the evaluation back to the national platform (its item is the ticket's thread), with
    the item's status after it: closed (办结 / 裁定办结) or still answered (重办).  A failure is
    kept by the feed poller for admins and retried there, never raised."""
    if ticket.channel != "national_platform" or survey.responded_at is None or survey.solved is None:
        return None
    connector = (config.get(CONNECTORS) or {}).get("national_platform")
    if connector is None:
        log.warning("ticket %s was evaluated but the national feed is not configured: no write-back", ticket.number)
        return None
    thread_key, _ = await replies.reply_thread(session, ticket)
    report = await session.get(UnitReport, survey.report_id) if survey.report_id else None
    answer = (report.text if report else None) or await replies.latest_public_reply(session, ticket)
    status = _after(survey.outcome)
    text = answer or ("您的诉求已办理完毕，群众评价已记录。" if status == "closed" else "您的诉求已转回承办单位重新办理。")
    responded_at = survey.responded_at
    evaluation = evaluation_body(bool(survey.solved), survey.satisfaction or "", survey.comment, responded_at,
                                 survey.source or "link")
    target = ReplyTarget(channel="national_platform", sender_id="", thread_key=thread_key)
    try:
        return await asyncio.wait_for(
            connector.write_back(target, status, text, evaluation=evaluation, handled_at=responded_at),
            WRITE_BACK_TIMEOUT)
    except Exception as exc:  # the evaluation itself is committed; the poller keeps what it got
        log.warning("evaluation write-back of %s failed: %s", ticket.number, exc)
        return DeliveryResult(False, f"ERROR: {type(exc).__name__}")
