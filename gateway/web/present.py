"""Tickets as operators see them: names for codes, masked contacts, waiting times.

One place builds the dictionaries the JSON API returns and the templates render, so the
page and the API can never disagree about what is masked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from config.directory import Directory
from config.local_time import LOCAL_TZ
from nlu import type_ranking
from ticketing.accounts.roles import CONSOLE_ROLES, DISPATCH_ROLES, Actor
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Dispatch, Ticket
from ticketing.db.models.workflow import ExtensionRequest, SupervisionNote, Survey, UnitReport
from ticketing.intake.gathering import gap_labels
from ticketing.supervision.shifts import arrived_off_hours
from ticketing.tickets.claims import may_reveal
from ticketing.tickets.deadlines import workdays_left
from ticketing.tickets.lifecycle import ACTION_LABELS, OPEN_STATUSES, STATUS_LABELS, WITH_UNIT, Status, status_label
from ticketing.tickets.masking import mask_contacts_in_text, mask_email, mask_openid, mask_phone
from ticketing.workflow.extensions import STATE_LABELS as EXTENSION_LABELS
from ticketing.workflow.reports import KIND_LABELS, REVIEW_LABELS
from ticketing.workflow.surveys import OUTCOME_LABELS, SATISFACTION_LABELS, SOLVED_LABELS
from ticketing.workflow.timing import DUE_LABELS, due_state

THUMBNAIL_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

AUTHOR_LABELS = {"citizen": "群众", "bot": "智能客服", "operator": "坐席", "system": "系统"}
# Who did something when it was not a signed-in person (the timeline's actors).
MACHINE_ACTORS = {"citizen": "群众", "bot": "智能客服", "system": "系统", "cli": "系统管理命令"}
RULING_LABELS = {"unreasonable": "不满意理由不成立"}
DELIVERY_LABELS = {"sent": "已发送", "pending": "未发出", "failed": "发送失败"}
CLASSIFICATION_LABELS = {"unclassified": "未分类", "predicted": "机器预分类", "confirmed": "人工已确认"}
EVENT_LABELS = {
    "created": "创建工单", "claim": "认领", "release": "释放", "assign": "改派", "auto_assign": "自动分配",
    "classify": "修改分类", "confirm_classification": "确认分类", "reply": "答复群众", "note": "内部备注",
    "forward": "交办", "merged_into": "合并到", "merged_from": "合并自", "followup": "群众补充",
    "update": "修改", "emergency_redirect": "紧急警情提示",
    "refers_to": "来件提及他人工单", "referred_by": "被他人来件提及", "nlu_backfill": "机器预分类（补）",
    **{a.value: label for a, label in ACTION_LABELS.items()},
    # the handling loop (issue #13)
    "redispatch": "改派", "unit_sign": "单位签收", "unit_return": "单位退回", "unit_progress": "办理进展",
    "unit_opinion": "协办意见", "unit_answer": "单位提交答复", "answer_rejected": "答复审核退回",
    "answer_edited": "审核修改答复", "extension_requested": "申请延期", "extension_approved": "同意延期",
    "extension_refused": "不同意延期", "supervision": "督办", "supervision_acknowledged": "单位签收督办单",
    "survey_sent": "发送一事一评", "evaluation": "群众评价", "redo_dispatch": "重办交办", "ruling": "班长裁定",
    "sign_overdue": "超时未签收", "deadline_reminder": "临期提醒", "overdue": "已超期",
    "unit_notified": "通知单位", "callback_attempt": "电话回访未接通",
    # the bot's gathering (issue #19)
    "gathered": "智能客服补充信息", "clarified": "群众确认承办部门", "gaps_flagged": "信息缺项",
}
DISPATCH_STATE_LABELS = {"pending_sign": "待签收", "signed": "办理中", "answered": "已答复待审核",
                         "accepted": "答复已通过", "returned": "已退回", "declined": "协办退回",
                         "withdrawn": "已撤回"}
ROLE_LABELS = {"lead": "主办", "assist": "协办"}
FIELD_LABELS = {"department": "承办部门", "region": "区域", "request_type": "诉求类型", "urgent": "紧急",
                "status": "状态", "assignee": "处理人", "deadline": "办理时限", "classification": "分类状态",
                "title": "标题", "citizen_phone": "电话", "citizen_name": "姓名", "citizen_email": "邮箱",
                "location_detail": "详细地点", "event_time": "发生时间"}


CODED_FIELDS = ("department", "region", "request_type", "status", "urgent")


class Labels:
    """Chinese names for the directory's codes."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.departments = {d.code: d.name for d in directory.departments}
        self.regions = {r.code: r.name for r in directory.regions}
        self.request_types = {r.code: r.name for r in directory.request_types}
        self.channels = {c.code: c.name for c in directory.channels}
        self.statuses = {s.value: label for s, label in STATUS_LABELS.items()}

    def of(self, field: str, code: Any) -> str:
        if code is None or code == "":
            return "—"
        if field == "urgent":
            return "紧急" if code in (True, "true", "True") else "一般"
        table = {"department": self.departments, "region": self.regions, "request_type": self.request_types,
                 "channel": self.channels, "status": self.statuses}.get(field)
        return table.get(code, str(code)) if table is not None else str(code)


def local(dt: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return dt.astimezone(LOCAL_TZ).strftime(fmt) if dt else ""


def local_day(dt: datetime | None) -> str:
    """12月1日 14:05 (local time), as the timeline reads; strftime has no portable unpadded month."""
    if dt is None:
        return ""
    at = dt.astimezone(LOCAL_TZ)
    return f"{at.month}月{at.day}日 {at:%H:%M}"


def person(username: str | None, people: Mapping[str, str]) -> str:
    """A timeline actor by name: the account's display name, or what the machine actors are called."""
    if not username:
        return ""
    return people.get(username) or MACHINE_ACTORS.get(username) or username


def waiting(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return "刚刚"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} 分钟"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} 小时 {minutes % 60} 分"
    return f"{hours // 24} 天"


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def due_of(ticket: Ticket, labels: Labels, now: datetime, started_at: datetime | None = None) -> str:
    """即将超期 / 已超期 of an open ticket, measured from its dispatch (else its arrival)."""
    if ticket.deadline is None or ticket.status not in {s.value for s in OPEN_STATUSES}:
        return "ok"
    if ticket.status == Status.ANSWERED:
        return "ok"  # the answer is out; the citizen's evaluation is not the unit's time
    start = started_at or ticket.created_at
    return due_state(start, ticket.deadline, now, warn_at=labels.directory.handling.warn_at_fraction)


def workdays_of(ticket: Ticket, now: datetime) -> int | None:
    """Working days left to the deadline of a ticket still being worked on (negative: overdue)."""
    if ticket.deadline is None or ticket.status not in {s.value for s in OPEN_STATUSES}:
        return None
    if ticket.status == Status.ANSWERED:
        return None  # as in due_of: the answer is out
    return workdays_left(ticket.deadline, now)


def workdays_label(days: int | None) -> str:
    if days is None:
        return ""
    if days < 0:
        return f"超期 {-days} 个工作日"
    return "今日到期" if days == 0 else f"剩 {days} 个工作日"


def summary(ticket: Ticket, labels: Labels, *, now: datetime | None = None,
            started_at: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    wait = (now - ticket.created_at).total_seconds()
    due = due_of(ticket, labels, now, started_at)
    workdays = workdays_of(ticket, now)
    return {
        "number": ticket.number,
        "channel": ticket.channel,
        "channel_label": labels.of("channel", ticket.channel),
        # Queue rows are seen by every operator: a phone number typed into the title is masked.
        "title": mask_contacts_in_text(ticket.title) or "",
        "status": ticket.status,
        "status_label": status_label(ticket.status),
        "urgent": bool(ticket.urgent),
        "classification": ticket.classification,
        "classification_label": CLASSIFICATION_LABELS.get(ticket.classification, ticket.classification),
        "department": ticket.department,
        "department_label": labels.of("department", ticket.department),
        "region": ticket.region,
        "region_label": labels.of("region", ticket.region),
        # What the bot gathered in the chat (issue #19) and what is still missing.
        "location_detail": mask_contacts_in_text(ticket.location_detail) or "",
        "event_time": ticket.event_time or "",
        "gaps": gap_labels(ticket.gathering_gaps),
        "request_type": ticket.request_type,
        "request_type_label": labels.of("request_type", ticket.request_type),
        "assignee": ticket.assignee,
        "created_at": iso(ticket.created_at),
        "created_local": local(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
        "deadline": iso(ticket.deadline),
        "deadline_local": local(ticket.deadline),
        "overdue": bool(ticket.deadline and ticket.deadline < now
                        and ticket.status in {s.value for s in OPEN_STATUSES}),
        "waiting_seconds": int(wait),
        "waiting_label": waiting(wait),
        "phone_masked": mask_phone(ticket.citizen_phone),
        "off_hours": arrived_off_hours(labels.directory, ticket.created_at),
        "due": due,
        "due_label": DUE_LABELS[due] if due != "ok" else "",
        "workdays_left": workdays,
        "workdays_label": workdays_label(workdays),
        "unit": ticket.unit,
        "unit_label": unit_label(labels, ticket.unit),
    }


def unit_label(labels: Labels, code: str | None) -> str:
    unit = labels.directory.unit(code) if code else None
    return unit.name if unit else (code or "")


def contact(ticket: Ticket) -> dict[str, Any]:
    return {
        "name": ticket.citizen_name,
        "phone": mask_phone(ticket.citizen_phone),
        "email": mask_email(ticket.citizen_email),
        "wechat_openid": mask_openid(ticket.citizen_wechat_openid),
        "masked": True,
    }


def _ranked(items: Any, field: str, labels: Labels) -> list[dict[str, Any]]:
    """A stored ranking ([{"code", "confidence"}]) with each code's label, at most three."""
    out = []
    for alt in (items or [])[:3]:
        code = alt.get("code") if isinstance(alt, dict) else None
        if not code:
            continue
        conf = alt.get("confidence")
        out.append({"code": code, "label": labels.of(field, code),
                    "confidence": round(float(conf), 3) if isinstance(conf, (int, float)) else None})
    return out


def _prediction(pred, labels: Labels) -> dict[str, Any] | None:
    if pred is None:
        return None
    typed = _ranked(pred.request_type_alternatives, "request_type", labels)
    # None: the rules decided the type, or the prediction is older than the ranking.
    typed_confidence = type_ranking.confidence_of(pred.request_type, typed)
    return {
        "department": pred.department, "department_label": labels.of("department", pred.department),
        "region": pred.region, "region_label": labels.of("region", pred.region),
        "request_type": pred.request_type, "request_type_label": labels.of("request_type", pred.request_type),
        "request_type_confidence": typed_confidence,
        "request_type_unsure": type_ranking.unsure(typed_confidence),
        "request_type_alternatives": [alt for alt in typed if alt["code"] != pred.request_type][:2],
        "intent": pred.intent,
        "confidence": round(pred.confidence, 3) if pred.confidence is not None else None,
        "alternatives": _ranked(pred.alternatives, "department", labels),
        "model_version": pred.model_version,
        "created_at": iso(pred.created_at),
    }


# Loop events whose values are unit codes (shown by the unit's name).
UNIT_EVENTS = frozenset({"forward", "redispatch", "unit_sign", "unit_return", "unit_progress", "unit_opinion",
                         "unit_answer", "answer_rejected", "extension_approved", "extension_refused", "supervision",
                         "supervision_acknowledged", "redo_dispatch", "unit_notified", "sign_overdue",
                         "deadline_reminder", "overdue"})


def _event_value(ev: Any, value: Any, labels: Labels, people: Mapping[str, str]) -> Any:
    """A timeline value as staff read it: names for codes, units and people, local times for deadlines."""
    if ev.field in CODED_FIELDS:
        return labels.of(ev.field, value) if value not in (None, "") else ""
    if ev.field == "classification":
        return CLASSIFICATION_LABELS.get(value, value) if value else ""
    if ev.field == "assignee":
        return person(value, people)
    if ev.action == "ruling" and value:
        return RULING_LABELS.get(value, value)
    if value and (ev.field == "deadline" or ev.action == "extension_requested"):
        try:
            return local_day(datetime.fromisoformat(value))
        except (TypeError, ValueError):
            return value
    if value and ev.action in UNIT_EVENTS and labels.directory.unit(value) is not None:
        name = unit_label(labels, value)
        if ev.action == "unit_notified" and isinstance(ev.detail, dict):
            who = "单位领导" if ev.detail.get("leader") else "单位邮箱"
            sent = "邮件已发送" if ev.detail.get("delivered") else f"邮件未发出：{ev.detail.get('detail') or ''}"
            return f"{name}（{who}，{sent}）"
        return name
    if value and ev.action in UNIT_EVENTS:
        # A 交办 to a department or a region (not a unit of their own) names it too.
        for coded in ("department", "region"):
            if labels.of(coded, value) != value:
                return labels.of(coded, value)
    return value


@dataclass(frozen=True)
class LoopFacts:
    """What the handling loop holds about one ticket (each list oldest first)."""

    rounds: list[Dispatch] = field(default_factory=list)
    reports: list[UnitReport] = field(default_factory=list)
    extensions: list[ExtensionRequest] = field(default_factory=list)
    notes: list[SupervisionNote] = field(default_factory=list)
    surveys: list[Survey] = field(default_factory=list)


def loop_view(facts: LoopFacts, labels: Labels, attachments_by_report: dict[int, list[dict[str, Any]]],
              *, now: datetime, people: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The whole loop on one ticket, for the platform's staff (the citizen's contact stays out)."""
    reasons = {r.code: r.name for r in labels.directory.handling.return_reasons}
    rounds = [{
        "id": d.id, "round": d.round, "role": d.role, "role_label": ROLE_LABELS.get(d.role, d.role),
        "unit": d.target, "unit_label": unit_label(labels, d.target),
        "state": d.state, "state_label": DISPATCH_STATE_LABELS.get(d.state, d.state), "active": bool(d.active),
        "at": iso(d.at), "at_local": local(d.at), "actor": d.actor, "actor_name": person(d.actor, people or {}),
        "deadline": iso(d.deadline), "deadline_local": local(d.deadline),
        "sign_deadline": iso(d.sign_deadline), "sign_deadline_local": local(d.sign_deadline),
        "signed_at": iso(d.signed_at), "signed_local": local(d.signed_at), "signed_by": d.signed_by,
        "sign_late": bool(d.sign_deadline and (d.signed_at or now) > d.sign_deadline
                          and (d.signed_at is not None or d.state == "pending_sign")),
        "extended": bool(d.extended),
        "returned_by": d.returned_by, "return_reason": d.return_reason,
        "return_reason_label": reasons.get(d.return_reason or "", d.return_reason or ""),
        "return_text": d.return_text, "ended_at": iso(d.ended_at), "ended_local": local(d.ended_at),
        "note": d.note,
    } for d in facts.rounds]
    reports = [{
        "id": r.id, "kind": r.kind, "kind_label": KIND_LABELS.get(r.kind, r.kind), "unit": r.unit,
        "unit_label": unit_label(labels, r.unit), "author": r.author, "author_name": r.author_name,
        "text": r.text, "created_at": iso(r.created_at), "created_local": local(r.created_at),
        "review_state": r.review_state, "review_label": REVIEW_LABELS.get(r.review_state or "", ""),
        "reviewed_by": r.reviewed_by, "reviewed_local": local(r.reviewed_at), "review_note": r.review_note,
        "entry_id": r.entry_id, "attachments": attachments_by_report.get(r.id, []),
    } for r in facts.reports]
    requests = [{
        "id": x.id, "unit": x.unit, "unit_label": unit_label(labels, x.unit), "requested_by": x.requested_by,
        "requested_local": local(x.requested_at), "reason": x.reason,
        "previous_deadline_local": local(x.previous_deadline),
        "requested_deadline": iso(x.requested_deadline), "requested_deadline_local": local(x.requested_deadline),
        "state": x.state, "state_label": EXTENSION_LABELS.get(x.state, x.state), "decided_by": x.decided_by,
        "decided_local": local(x.decided_at), "decision_note": x.decision_note,
    } for x in facts.extensions]
    notes = [{
        "id": n.id, "seq": n.seq, "unit": n.unit, "unit_label": unit_label(labels, n.unit), "issued_by": n.issued_by,
        "issued_local": local(n.issued_at), "text": n.text, "new_deadline_local": local(n.new_deadline),
        "acknowledged": n.acknowledged_at is not None, "acknowledged_by": n.acknowledged_by,
        "acknowledged_local": local(n.acknowledged_at), "escalated": bool(n.escalated_to),
    } for n in facts.notes]
    surveys = [{
        "id": v.id, "unit": v.unit, "unit_label": unit_label(labels, v.unit), "created_local": local(v.created_at),
        "expires_local": local(v.expires_at), "responded": v.responded_at is not None,
        "responded_local": local(v.responded_at), "source": v.source,
        "solved_label": SOLVED_LABELS.get(v.solved, "") if v.solved is not None else "",
        "satisfaction_label": SATISFACTION_LABELS.get(v.satisfaction or "", ""), "comment": v.comment,
        "outcome": v.outcome, "outcome_label": OUTCOME_LABELS.get(v.outcome or "", ""),
        "ruling_reason": v.ruling_reason,
    } for v in facts.surveys]
    pending = next((x for x in requests if x["state"] == "pending"), None)
    answer = next((r for r in reversed(reports) if r["kind"] == "answer" and r["review_state"] == "pending"), None)
    return {"rounds": rounds, "reports": reports, "extensions": requests, "notes": notes, "surveys": surveys,
            "pending_extension": pending, "pending_answer": answer,
            "returns": sum(1 for d in facts.rounds if d.state == "returned")}


def detail(ticket: Ticket, labels: Labels, actor: Actor, *, dispatch=None, merged_into: str | None = None,
           attachment_url=lambda a: f"/console/attachments/{a.id}", loop: LoopFacts | None = None,
           people: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The whole ticket (``ticket_by_number(full=True)``), contact details masked.

    Unless the actor may reveal the contact, the citizen's own words are masked too (a phone number
    or an address typed into a message identifies them as much as the contact field), and the original
    e-mail (its headers carry the sender's address) is not offered."""
    reveal = may_reveal(ticket, actor)
    people = people or {}

    def shown(text: str | None, author: str) -> str | None:
        return text if reveal or author != "citizen" else mask_contacts_in_text(text)

    attachments_by_entry: dict[int | None, list] = {}
    attachments_by_report: dict[int, list] = {}
    for att in ticket.attachments:
        item = {
            "id": att.id, "filename": att.filename, "content_type": att.content_type, "size": att.size,
            "kind": att.kind, "url": attachment_url(att) if reveal or att.kind != "original_email" else None,
        }
        # Images the attachment route serves inline get a thumbnail on the ticket page.
        item["thumbnail"] = item["url"] if att.content_type in THUMBNAIL_TYPES else None
        if att.report_id is not None:  # a unit's evidence goes with its report, not the conversation
            attachments_by_report.setdefault(att.report_id, []).append(item)
        else:
            attachments_by_entry.setdefault(att.entry_id, []).append(item)
    entries = [{
        "id": e.id,
        "author": e.author,
        "author_label": AUTHOR_LABELS.get(e.author, e.author),
        "author_name": e.author_name,
        "channel": e.channel,
        "channel_label": labels.of("channel", e.channel),
        "text": shown(e.text, e.author),
        "subject": shown(e.subject, e.author),
        "public": bool(e.public),
        "kind": (e.meta or {}).get("kind") or ("note" if not e.public else "message"),
        "delivery_status": e.delivery_status,
        "delivery_label": DELIVERY_LABELS.get(e.delivery_status or "", e.delivery_status or ""),
        "delivery_detail": e.delivery_detail,
        "created_at": iso(e.created_at),
        "created_local": local(e.created_at, "%m-%d %H:%M:%S"),
        "attachments": attachments_by_entry.get(e.id, []),
    } for e in ticket.entries]
    events = [{
        "at": iso(ev.at), "at_local": local_day(ev.at), "actor": ev.actor, "actor_name": person(ev.actor, people),
        "action": ev.action, "action_label": EVENT_LABELS.get(ev.action, ev.action), "field": ev.field,
        "field_label": FIELD_LABELS.get(ev.field or "", ev.field or ""),
        "from_value": ev.from_value, "to_value": ev.to_value,
        "from_label": _event_value(ev, ev.from_value, labels, people),
        "to_label": _event_value(ev, ev.to_value, labels, people),
    } for ev in ticket.events]
    pred = ticket.predictions[-1] if ticket.predictions else None
    mine = ticket.assignee == actor.username
    open_ = ticket.status in {s.value for s in OPEN_STATUSES}
    now = utcnow()
    loop_out = loop_view(loop or LoopFacts(), labels, attachments_by_report, now=now, people=people)
    out = summary(ticket, labels, now=now, started_at=dispatch.at if dispatch is not None else None)
    if reveal:
        out["title"] = ticket.title or ""
    out.update({
        "contact": contact(ticket),
        "origin_hotline": ticket.origin_hotline,
        "external_deadline": iso(ticket.external_deadline),
        "entries": entries,
        "events": events,
        "prediction": _prediction(pred, labels),
        "loose_attachments": attachments_by_entry.get(None, []),
        "dispatch": None if dispatch is None else {
            "target_kind": dispatch.target_kind, "target": dispatch.target,
            "target_label": labels.of(dispatch.target_kind if dispatch.target_kind == "department" else "region",
                                      dispatch.target),
            "deadline": iso(dispatch.deadline), "deadline_local": local(dispatch.deadline),
            "actor": dispatch.actor, "at": iso(dispatch.at),
        },
        "merged_into": merged_into,
        "loop": loop_out,
        "permissions": {
            # Taking in hand-offs is the operators' work; dispatchers act on the loop without claiming.
            "claim": open_ and ticket.assignee is None and actor.role in CONSOLE_ROLES,
            "act": mine or actor.supervisor or (ticket.assignee is None and open_),
            "reveal": reveal,
            "reassign": actor.supervisor,
            "mine": mine,
            # the handling loop: 交办/审核 by the platform's seats, extensions/deadlines/督办 by dispatchers
            "dispatch": actor.role in DISPATCH_ROLES,
            "review": actor.role in DISPATCH_ROLES,
            "decide": actor.role in ("dispatcher", "supervisor"),
        },
        "status_actions": {
            # Once dispatched, the unit answers (and the platform reviews it), not the operator.
            "answer": ticket.status in (Status.PENDING_REVIEW, Status.RETURNED),
            "dispatch": ticket.status in (Status.PENDING_REVIEW, Status.RETURNED),
            "merge": ticket.status == Status.PENDING_REVIEW,
            # A ticket a unit handled is closed by the citizen's evaluation (or a ruling), not here.
            "close": (ticket.status in (Status.ANSWERED, Status.BOT_ANSWERED) and ticket.unit is None)
            or ticket.status == Status.RETURNED,
            "reopen": ticket.status in (Status.ANSWERED, Status.BOT_ANSWERED, Status.CLOSED),
            "review": ticket.status == Status.ANSWER_REVIEW and loop_out["pending_answer"] is not None,
            "extension": loop_out["pending_extension"] is not None,
            "deadline": dispatch is not None and ticket.status in WITH_UNIT,
            "supervise": dispatch is not None and dispatch.state in ("pending_sign", "signed"),
        },
    })
    return out
