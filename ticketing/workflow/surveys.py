"""一事一评: one evaluation per answered round, by a signed one-use link or a callback seat's call.

The link's token is ``<survey id>.<HMAC>``: the HMAC (the deployment's secret key over the id and
the survey's creation time) proves the platform made it, so a forged link is refused without a
database write; the survey row makes it one-use and gives it an expiry.

What an evaluation leads to (``settle``): solved and not unsatisfied → 办结; otherwise 重办
(the same unit, a new round), unless a supervisor rules the complaint unreasonable (``rule``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.directory import Directory
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Dispatch, Ticket
from ticketing.db.models.workflow import Survey, UnitReport
from ticketing.errors import ConsoleError
from ticketing.tickets import store
from ticketing.tickets.lifecycle import Action, Status
from ticketing.workflow import assignments

SATISFACTION_LABELS = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}
SOLVED_LABELS = {True: "已解决", False: "未解决"}
OUTCOME_LABELS = {"closed": "办结", "redo": "重办", "ruled": "裁定办结"}
MAX_COMMENT = 1000
MAX_CALLBACK_NOTE = 500
# After this many calls nobody answered, the queue tells a supervisor (多次联系未果).
FAILED_CALLBACKS_FLAG = 3


class SurveyLinkError(Exception):
    """A survey link that cannot be used: ``kind`` is invalid | used | expired | closed."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


# --------------------------------------------------------------------------- the signed link

def _mac(secret: bytes, survey_id: int, created_at: datetime) -> str:
    msg = f"survey:{survey_id}:{int(created_at.timestamp())}".encode()
    digest = hmac.new(secret, msg, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def token_for(secret: bytes, survey: Survey) -> str:
    return f"{survey.id}.{_mac(secret, survey.id, survey.created_at)}"


async def signed_survey(session: AsyncSession, secret: bytes, token: object) -> Survey | None:
    """The survey a genuine link stands for, whatever its state (the thank-you page of a
    link already used); None for a forged or malformed one."""
    if not isinstance(token, str) or len(token) > 80 or token.count(".") != 1:
        return None
    head, mac = token.split(".")
    if not head.isdigit() or len(head) > 18:
        return None
    survey = await session.get(Survey, int(head))
    if survey is None or not hmac.compare_digest(mac, _mac(secret, survey.id, survey.created_at)):
        return None
    return survey


async def survey_for_token(session: AsyncSession, secret: bytes, token: object, *,
                           now: datetime | None = None) -> Survey:
    """The survey a link stands for, if it may still be answered; else SurveyLinkError."""
    now = now or utcnow()
    survey = await signed_survey(session, secret, token)
    if survey is None:
        raise SurveyLinkError("invalid", "评价链接无效，请使用我们发给您的完整链接")
    if survey.responded_at is not None:
        raise SurveyLinkError("used", "您已评价过本次办理，感谢您的反馈")
    if now > survey.expires_at:
        raise SurveyLinkError("expired", "评价链接已过期；如问题仍未解决，请重新提交诉求或拨打12345")
    if survey.outcome is not None:
        raise SurveyLinkError("closed", "本次办理已有评价结果，无需再评价")
    return survey


# --------------------------------------------------------------------------- asking

async def create_survey(session: AsyncSession, ticket: Ticket, directory: Directory, *,
                        dispatch: Dispatch | None, report: UnitReport | None,
                        now: datetime | None = None) -> Survey:
    """The evaluation of the answer just accepted (one per answered round)."""
    now = (now or utcnow()).replace(microsecond=0)  # the link signs whole seconds
    survey = Survey(ticket_id=ticket.id, dispatch_id=dispatch.id if dispatch else None,
                    report_id=report.id if report else None, unit=dispatch.target if dispatch else ticket.unit,
                    channel=ticket.channel, created_at=now,
                    expires_at=now + timedelta(days=directory.handling.survey_valid_days), callback_attempts=0)
    session.add(survey)
    await session.flush()
    await store.record_event(session, ticket, actor="system", action="survey_sent",
                             detail={"survey_id": survey.id, "unit": survey.unit})
    return survey


async def open_survey(session: AsyncSession, ticket: Ticket) -> Survey | None:
    """The ticket's survey still waiting for an answer, if any."""
    stmt = (select(Survey).where(Survey.ticket_id == ticket.id, Survey.outcome.is_(None))
            .order_by(Survey.id.desc()).limit(1))
    return (await session.execute(stmt)).scalar_one_or_none()


# --------------------------------------------------------------------------- answering

def _clean(solved: object, satisfaction: object, comment: object) -> tuple[bool, str, str | None]:
    if not isinstance(solved, bool):
        raise ConsoleError(400, "solved_required", "请选择问题是否已解决")
    if satisfaction not in SATISFACTION_LABELS:
        raise ConsoleError(400, "satisfaction_required", "请选择满意程度：满意、基本满意或不满意")
    if comment is not None and not isinstance(comment, str):
        raise ConsoleError(400, "invalid_comment", "意见须为文字")
    text = (comment or "").strip()
    if len(text) > MAX_COMMENT:
        raise ConsoleError(400, "comment_too_long", f"意见最多 {MAX_COMMENT} 字")
    return solved, str(satisfaction), text or None


async def respond(session: AsyncSession, survey: Survey, directory: Directory, *, solved: object,
                  satisfaction: object, comment: object = None, source: str = "link",
                  recorded_by: str | None = None, now: datetime | None = None) -> Survey:
    """Record the evaluation (the citizen's link, or a callback seat's call) and act on it.

    The caller holds the ticket's row lock; a second answer to the same survey is refused."""
    now = now or utcnow()
    solved_, satisfaction_, comment_ = _clean(solved, satisfaction, comment)
    if survey.responded_at is not None or survey.outcome is not None:
        raise ConsoleError(409, "already_evaluated", "本次办理已经评价过")
    survey.responded_at, survey.source, survey.recorded_by = now, source, recorded_by
    survey.solved, survey.satisfaction, survey.comment = solved_, satisfaction_, comment_
    ticket = await session.get(Ticket, survey.ticket_id)
    assert ticket is not None
    actor = recorded_by or "citizen"
    await store.record_event(session, ticket, actor=actor, action="evaluation", public=True,
                             to_value=f"{SOLVED_LABELS[solved_]}，{SATISFACTION_LABELS[satisfaction_]}",
                             detail={"survey_id": survey.id, "source": source, "solved": solved_,
                                     "satisfaction": satisfaction_, "unit": survey.unit})
    await settle(session, survey, ticket, directory, actor=actor, now=now)
    return survey


async def settle(session: AsyncSession, survey: Survey, ticket: Ticket, directory: Directory, *, actor: str,
                 now: datetime | None = None) -> str:
    """办结 a solved, not-unsatisfied answer; otherwise 重办 with the same unit."""
    if ticket.status != Status.ANSWERED:
        # The ticket moved on meanwhile (reopened, merged): the evaluation is kept, nothing else.
        survey.outcome = "closed" if ticket.status == Status.CLOSED else None
        return survey.outcome or "kept"
    if survey.solved and survey.satisfaction != "unsatisfied":
        survey.outcome = "closed"
        await store.transition(session, ticket, Action.CLOSE, actor=actor, note="群众评价：问题已解决")
    else:
        survey.outcome = "redo"
        why = "群众评价：" + ("问题未解决" if not survey.solved else "不满意")
        await assignments.redo(session, ticket, directory, actor=actor, reason=why, now=now)
    return survey.outcome


async def record_failed_callback(session: AsyncSession, survey: Survey, *, recorded_by: str, note: object = None,
                                 now: datetime | None = None) -> Survey:
    """A callback seat called and nobody answered (or the citizen declined to evaluate now): the
    attempt is counted, the survey stays open.  The caller holds the ticket's row lock."""
    now = now or utcnow()
    if survey.responded_at is not None or survey.outcome is not None:
        raise ConsoleError(409, "already_evaluated", "本次办理已经评价过，无需再回访")
    if note is not None and not isinstance(note, str):
        raise ConsoleError(400, "invalid_note", "回访说明须为文字")
    text = (note or "").strip()
    if len(text) > MAX_CALLBACK_NOTE:
        raise ConsoleError(400, "note_too_long", f"回访说明最多 {MAX_CALLBACK_NOTE} 字")
    survey.callback_attempts = (survey.callback_attempts or 0) + 1
    survey.last_callback_at, survey.callback_note = now, text or None
    ticket = await session.get(Ticket, survey.ticket_id)
    assert ticket is not None
    await store.record_event(session, ticket, actor=recorded_by, action="callback_attempt",
                             to_value="未联系上", detail={"survey_id": survey.id, "attempt": survey.callback_attempts,
                                                        "note": text or None})
    return survey


async def rule_unreasonable(session: AsyncSession, survey: Survey, ticket: Ticket, *, supervisor: str,
                            reason: object, now: datetime | None = None) -> Survey:
    """A supervisor finds a bad evaluation unreasonable: the ticket is closed (裁定办结), a
    重办 it caused is withdrawn, and the unit's figures count the answer as accepted."""
    now = now or utcnow()
    why = reason.strip()[:MAX_COMMENT] if isinstance(reason, str) else ""
    if not why:
        raise ConsoleError(400, "reason_required", "裁定须填写理由")
    if survey.outcome != "redo" or survey.responded_at is None:
        raise ConsoleError(409, "nothing_to_rule", "只有群众评价为未解决或不满意的工单可以裁定")
    if ticket.status not in (Status.DISPATCHED, Status.HANDLING, Status.ANSWERED):
        raise ConsoleError(409, "nothing_to_rule", "该工单已进入其他环节，不能裁定")
    await store.transition(session, ticket, Action.RULE, actor=supervisor, note=why)
    for row in await assignments.active_dispatches(session, ticket):
        row.active, row.ended_at = False, now
        if row.state in assignments.OPEN_STATES:
            row.state = "withdrawn"
    survey.outcome, survey.ruled_by, survey.ruled_at, survey.ruling_reason = "ruled", supervisor, now, why
    await store.record_event(session, ticket, actor=supervisor, action="ruling", to_value="unreasonable",
                             detail={"survey_id": survey.id, "reason": why})
    return survey
