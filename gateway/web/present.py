"""Tickets as operators see them: names for codes, masked contacts, waiting times.

One place builds the dictionaries the JSON API returns and the templates render, so the
page and the API can never disagree about what is masked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from config.directory import Directory
from config.local_time import LOCAL_TZ
from ticketing.accounts.roles import Actor
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Ticket
from ticketing.supervision.shifts import arrived_off_hours
from ticketing.tickets.claims import may_reveal
from ticketing.tickets.lifecycle import ACTION_LABELS, OPEN_STATUSES, STATUS_LABELS, Status, status_label
from ticketing.tickets.masking import mask_contacts_in_text, mask_email, mask_openid, mask_phone

AUTHOR_LABELS = {"citizen": "群众", "bot": "智能客服", "operator": "坐席", "system": "系统"}
DELIVERY_LABELS = {"sent": "已发送", "pending": "未发出", "failed": "发送失败"}
CLASSIFICATION_LABELS = {"unclassified": "未分类", "predicted": "机器预分类", "confirmed": "人工已确认"}
EVENT_LABELS = {
    "created": "创建工单", "claim": "认领", "release": "释放", "assign": "改派", "auto_assign": "自动分配",
    "classify": "修改分类", "confirm_classification": "确认分类", "reply": "答复群众", "note": "内部备注",
    "forward": "转办", "merged_into": "合并到", "merged_from": "合并自", "followup": "群众补充",
    "update": "修改", "emergency_redirect": "紧急警情提示",
    "refers_to": "来件提及他人工单", "referred_by": "被他人来件提及",
    **{a.value: label for a, label in ACTION_LABELS.items()},
}
FIELD_LABELS = {"department": "承办部门", "region": "区域", "request_type": "诉求类型", "urgent": "紧急",
                "status": "状态", "assignee": "处理人", "deadline": "办理时限", "classification": "分类状态",
                "title": "标题", "citizen_phone": "电话", "citizen_name": "姓名", "citizen_email": "邮箱"}


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


def summary(ticket: Ticket, labels: Labels, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    wait = (now - ticket.created_at).total_seconds()
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
    }


def contact(ticket: Ticket) -> dict[str, Any]:
    return {
        "name": ticket.citizen_name,
        "phone": mask_phone(ticket.citizen_phone),
        "email": mask_email(ticket.citizen_email),
        "wechat_openid": mask_openid(ticket.citizen_wechat_openid),
        "masked": True,
    }


def _prediction(pred, labels: Labels) -> dict[str, Any] | None:
    if pred is None:
        return None
    alternatives = []
    for alt in (pred.alternatives or [])[:3]:
        code = alt.get("code") if isinstance(alt, dict) else None
        if not code:
            continue
        conf = alt.get("confidence")
        alternatives.append({"code": code, "label": labels.of("department", code),
                             "confidence": round(float(conf), 3) if isinstance(conf, (int, float)) else None})
    return {
        "department": pred.department, "department_label": labels.of("department", pred.department),
        "region": pred.region, "region_label": labels.of("region", pred.region),
        "request_type": pred.request_type, "request_type_label": labels.of("request_type", pred.request_type),
        "intent": pred.intent,
        "confidence": round(pred.confidence, 3) if pred.confidence is not None else None,
        "alternatives": alternatives,
        "model_version": pred.model_version,
        "created_at": iso(pred.created_at),
    }


def detail(ticket: Ticket, labels: Labels, actor: Actor, *, dispatch=None, merged_into: str | None = None,
           attachment_url=lambda a: f"/console/attachments/{a.id}") -> dict[str, Any]:
    """The whole ticket (``ticket_by_number(full=True)``), contact details masked.

    Unless the actor may reveal the contact, the citizen's own words are masked too (a phone number
    or an address typed into a message identifies them as much as the contact field), and the original
    e-mail (its headers carry the sender's address) is not offered."""
    reveal = may_reveal(ticket, actor)

    def shown(text: str | None, author: str) -> str | None:
        return text if reveal or author != "citizen" else mask_contacts_in_text(text)

    attachments_by_entry: dict[int | None, list] = {}
    for att in ticket.attachments:
        attachments_by_entry.setdefault(att.entry_id, []).append({
            "id": att.id, "filename": att.filename, "content_type": att.content_type, "size": att.size,
            "kind": att.kind, "url": attachment_url(att) if reveal or att.kind != "original_email" else None,
        })
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
        "at": iso(ev.at), "at_local": local(ev.at, "%m-%d %H:%M"), "actor": ev.actor, "action": ev.action,
        "action_label": EVENT_LABELS.get(ev.action, ev.action), "field": ev.field,
        "field_label": FIELD_LABELS.get(ev.field or "", ev.field or ""),
        "from_value": ev.from_value, "to_value": ev.to_value,
        "from_label": labels.of(ev.field, ev.from_value) if ev.field in CODED_FIELDS else ev.from_value,
        "to_label": labels.of(ev.field, ev.to_value) if ev.field in CODED_FIELDS else ev.to_value,
    } for ev in ticket.events]
    pred = ticket.predictions[-1] if ticket.predictions else None
    mine = ticket.assignee == actor.username
    open_ = ticket.status in {s.value for s in OPEN_STATUSES}
    out = summary(ticket, labels)
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
        "permissions": {
            "claim": open_ and ticket.assignee is None,
            "act": mine or actor.supervisor or (ticket.assignee is None and open_),
            "reveal": reveal,
            "reassign": actor.supervisor,
            "mine": mine,
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
        },
    })
    return out
