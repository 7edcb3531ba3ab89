"""Telling units about the platform's moves on their tickets, after the commit.

Every notice goes two ways: live, on the unit's desk topic (open handling desks refresh), and by
mail to the unit's inbox (or its leader's, for an escalated 督办单).  The mail's outcome is written
on the ticket's timeline (``unit_notified``) in a short transaction of its own, so the console
shows whether a unit was told; a notice that could not be sent never undoes the action itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from config.local_time import LOCAL_TZ
from connectors.base import DeliveryResult
from gateway.channels.unit_mail import notify_unit
from gateway.infra.replies import REPLIES
from gateway.infra.resources import DIRECTORY, SESSIONS
from ticketing.tickets import claims, store

log = logging.getLogger(__name__)

DESK_PATH = "/desk/tickets/{number}"


@dataclass(frozen=True)
class UnitNotice:
    unit: str
    subject: str
    body: str
    event: dict[str, Any] = field(default_factory=dict)
    leader: bool = False


@dataclass(frozen=True)
class NoticeOutcome:
    unit: str
    leader: bool
    delivered: bool
    detail: str


def _local(dt: datetime | None) -> str:
    return dt.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if dt else "（未设定）"


def desk_path(number: str) -> str:
    return DESK_PATH.format(number=number)


def unit_name(config: Mapping[Any, Any], code: str) -> str:
    unit = config[DIRECTORY].unit(code)
    return unit.name if unit else code


# --------------------------------------------------------------------------- the texts

def dispatched(config: Mapping[Any, Any], number: str, title: str, *, unit: str, role: str,
               sign_by: datetime | None, deadline: datetime | None, redispatch: bool) -> UnitNotice:
    what = "改派工单" if redispatch else "新交办工单"
    part = "主办" if role == "lead" else "协办"
    body = (f"{unit_name(config, unit)}：\n\n{what} {number}（{part}）：{title}\n"
            f"请于 {_local(sign_by)} 前签收，{_local(deadline)} 前办结。\n"
            f"请登录办理台处理：{desk_path(number)}\n\n平顶山市12345政务服务便民热线")
    return UnitNotice(unit, f"【12345交办】{what} {number}（{part}）", body,
                      {"type": "dispatched", "ticket_no": number, "role": role})


def answer_rejected(config: Mapping[Any, Any], number: str, *, unit: str, reason: str) -> UnitNotice:
    body = (f"{unit_name(config, unit)}：\n\n工单 {number} 的答复未通过审核，已退回重新办理。\n"
            f"退回理由：{reason}\n请登录办理台处理：{desk_path(number)}\n\n平顶山市12345政务服务便民热线")
    return UnitNotice(unit, f"【12345审核退回】工单 {number} 答复未通过审核", body,
                      {"type": "answer_rejected", "ticket_no": number})


def extension_decided(config: Mapping[Any, Any], number: str, *, unit: str, approved: bool,
                      deadline: datetime | None, note: str | None) -> UnitNotice:
    result = f"已同意，办理时限延至 {_local(deadline)}" if approved else f"未同意（{note or '无说明'}），请按原时限办结"
    body = (f"{unit_name(config, unit)}：\n\n工单 {number} 的延期申请{result}。\n"
            f"请登录办理台查看：{desk_path(number)}\n\n平顶山市12345政务服务便民热线")
    return UnitNotice(unit, f"【12345延期审批】工单 {number} 延期申请{'已同意' if approved else '未同意'}", body,
                      {"type": "extension_approved" if approved else "extension_refused", "ticket_no": number})


def supervised(config: Mapping[Any, Any], number: str, *, unit: str, text: str, seq: int,
               deadline: datetime | None, leader: bool) -> list[UnitNotice]:
    due = f"\n请于 {_local(deadline)} 前办结。" if deadline else ""
    body = (f"{unit_name(config, unit)}：\n\n工单 {number} 第 {seq} 次督办：{text}{due}\n"
            f"请登录办理台签收督办单：{desk_path(number)}\n\n平顶山市12345政务服务便民热线")
    subject = f"【12345督办】工单 {number} 第 {seq} 次督办"
    event = {"type": "supervision", "ticket_no": number, "seq": seq}
    notices = [UnitNotice(unit, subject, body, event)]
    if leader:
        # The leader is told once per escalated note; the desk event goes out with the unit's own.
        notices.append(UnitNotice(unit, subject + "（提请领导关注）",
                                  f"同一工单已被多次督办，提请领导关注。\n\n{body}", {}, leader=True))
    return notices


# --------------------------------------------------------------------------- sending

async def send_notices(config: Mapping[Any, Any], number: str, notices: Sequence[UnitNotice], *,
                       actor: str = "system") -> list[NoticeOutcome]:
    """Publish each notice's desk event, mail it, then write every mail's outcome on the ticket."""
    bus = config[REPLIES]
    outcomes: list[NoticeOutcome] = []
    for notice in notices:
        if notice.event:
            try:
                await bus.publish_event(bus.desk_topic(notice.unit), notice.event)
            except Exception as exc:  # live refresh only; the desk shows it on reload
                log.warning("desk event for %s not published: %s", notice.unit, exc)
        try:
            result = await notify_unit(config, notice.unit, notice.subject, notice.body, ticket_no=number,
                                       leader=notice.leader)
        except Exception as exc:  # the action is committed; a mail bug must not turn it into an error
            log.exception("notice to unit %s failed", notice.unit)
            result = DeliveryResult(delivered=False, detail=f"发送出错：{type(exc).__name__}")
        outcomes.append(NoticeOutcome(notice.unit, notice.leader, result.delivered, result.detail or ""))
    if outcomes:
        await _record(config, number, outcomes, actor)
    return outcomes


async def _record(config: Mapping[Any, Any], number: str, outcomes: Sequence[NoticeOutcome], actor: str) -> None:
    try:
        async with config[SESSIONS]() as session, session.begin():
            ticket = await claims.lock_ticket(session, await claims.get_ticket(session, number))
            for outcome in outcomes:
                await store.record_event(session, ticket, actor=actor, action="unit_notified", to_value=outcome.unit,
                                         detail={"unit": outcome.unit, "delivered": outcome.delivered,
                                                 "detail": outcome.detail[:300],
                                                 **({"leader": True} if outcome.leader else {})})
    except Exception as exc:
        log.warning("mail outcome of %s not recorded: %s", number, exc)
