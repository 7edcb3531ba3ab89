"""What a unit's handler sees: its queue rows and one ticket, as the dictionaries the JSON API returns
and the templates render (one builder, so page and API cannot disagree about what is shown).

A unit sees the citizen's own public words (contacts typed into them masked), the classification,
the files, the dispatch note, its own part of the timeline, its reports and 督办单; never the
platform's internal notes, other units' reports, or the citizen's full contact (that is a separate,
audited reveal).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.directory import Directory
from gateway.web.present import Labels, iso, local
from ticketing.accounts.roles import Actor
from ticketing.db.models.tickets import Attachment, Dispatch, Ticket, TicketEvent
from ticketing.db.models.workflow import UnitReport
from ticketing.errors import ConsoleError
from ticketing.intake.gathering import gap_labels
from ticketing.tickets import claims
from ticketing.tickets.lifecycle import ACTION_LABELS, status_label
from ticketing.tickets.masking import mask_contacts_in_text, mask_phone
from ticketing.workflow import assignments, extensions, reports, supervision_notes
from ticketing.workflow.desk_queue import TABS, QueuePage, QueueRow, row_timing
from ticketing.workflow.timing import DUE_LABELS

ROLE_LABELS = {"lead": "主办", "assist": "协办"}
STATE_LABELS = {"pending_sign": "待签收", "signed": "办理中", "answered": "答复待审核", "accepted": "已办结",
                "returned": "已退回", "declined": "已退回（协办）", "withdrawn": "已收回"}
# The loop's events a unit may read on its own part of the timeline.
TIMELINE_LABELS = {
    "forward": "交办", "redispatch": "改派", "redo_dispatch": "重办交办", "unit_sign": "签收",
    "unit_return": "退回", "unit_progress": "办理进展", "unit_opinion": "协办意见", "unit_answer": "提交答复",
    "answer_rejected": "答复被审核退回", "answer_edited": "答复经审核修改", "extension_requested": "申请延期",
    "extension_approved": "同意延期", "extension_refused": "不同意延期", "supervision": "督办",
    "supervision_acknowledged": "签收督办", "evaluation": "群众评价",
    **{a.value: label for a, label in ACTION_LABELS.items()},
}
# Events that name a unit (to_value/from_value): shown only when they name this one.
UNIT_NAMED = {"forward", "redispatch", "redo_dispatch", "unit_sign", "unit_return", "unit_progress",
              "unit_opinion", "unit_answer", "answer_rejected", "extension_approved", "extension_refused",
              "supervision", "supervision_acknowledged"}
HIDDEN_ATTACHMENT_KINDS = {"original_email"}  # its headers carry the citizen's address


def attachment_url(att: Attachment) -> str:
    return f"/desk/attachments/{att.id}"


def row_dict(row: QueueRow, labels: Labels) -> dict[str, Any]:
    timing = row.timing
    return {
        "number": row.number,
        "title": mask_contacts_in_text(row.title) or "",
        "request_type": row.request_type,
        "request_type_label": labels.of("request_type", row.request_type),
        "status": row.status, "status_label": status_label(row.status),
        "role": row.role, "role_label": ROLE_LABELS.get(row.role, row.role),
        "round": row.round, "redo": row.redo,
        "state": row.state, "state_label": STATE_LABELS.get(row.state, row.state),
        "dispatched_at": iso(row.dispatched_at), "dispatched_local": local(row.dispatched_at),
        "sign_deadline": iso(row.sign_deadline), "sign_deadline_local": local(row.sign_deadline),
        "deadline": iso(row.deadline), "deadline_local": local(row.deadline),
        "ended_at": iso(row.ended_at), "ended_local": local(row.ended_at),
        "due": timing.handle if timing else None,
        "sign_due": timing.sign if timing else None,
        "due_label": timing.label if timing else STATE_LABELS.get(row.state, row.state),
        "unacknowledged": row.unacknowledged,
    }


def queue_dict(page: QueuePage, labels: Labels) -> dict[str, Any]:
    return {
        "tab": page.tab,
        "tabs": [{"code": code, "label": label, "count": page.counts[code]} for code, label in TABS.items()],
        "rows": [row_dict(r, labels) for r in page.rows],
        "total": page.total, "offset": page.offset, "limit": page.limit,
    }


# --------------------------------------------------------------------------- one ticket

async def held_dispatch(session: AsyncSession, ticket: Ticket, unit: str) -> Dispatch | None:
    """The unit's open dispatch of the ticket (None: the unit no longer holds it)."""
    stmt = (select(Dispatch).where(Dispatch.ticket_id == ticket.id, Dispatch.target == unit,
                                   Dispatch.active.is_(True))
            .order_by(Dispatch.id.desc()).limit(1))
    return (await session.execute(stmt)).scalar_one_or_none()


async def unit_ticket(session: AsyncSession, number: str, actor: Actor, *,
                      full: bool = False) -> tuple[Ticket, Dispatch | None]:
    """The ticket if this unit holds it or once held it; another unit's ticket is "not found",
    exactly like a missing one."""
    if not actor.unit:
        raise ConsoleError(403, "forbidden", "只有承办单位经办人可以办理")
    ticket = await claims.get_ticket(session, number, full=full)
    held = await held_dispatch(session, ticket, actor.unit)
    if held is None and not await assignments.ever_dispatched_to(session, ticket, actor.unit):
        raise ConsoleError(404, "ticket_not_found", f"未找到工单 {number}")
    return ticket, held


def _in_windows(at: datetime, windows: list[tuple[datetime, datetime | None]]) -> bool:
    return any(start <= at and (end is None or at <= end) for start, end in windows)


def _timeline(events: list[TicketEvent], rows: list[Dispatch], unit: str, labels: Labels) -> list[dict[str, Any]]:
    windows = [(d.at, d.ended_at) for d in rows]
    out = []
    for ev in events:
        if ev.action not in TIMELINE_LABELS:
            continue
        assists = (ev.detail or {}).get("assists") or []
        if ev.action in UNIT_NAMED:
            if unit not in (ev.to_value, ev.from_value) and unit not in assists:
                continue
        elif not _in_windows(ev.at, windows):
            continue  # the ticket's own steps, only while this unit had it
        if ev.action == "update" and ev.field != "deadline":
            continue
        note = (ev.detail or {}).get("note") or (ev.detail or {}).get("reason") or ""
        value = ev.to_value
        if ev.field == "status":
            value = status_label(ev.to_value)
        elif ev.action in UNIT_NAMED:
            value = labels.directory.unit(ev.to_value).name if ev.to_value and labels.directory.unit(ev.to_value) \
                else value
        elif ev.field == "deadline" or ev.action == "extension_requested":
            value = _local_iso(ev.to_value)
        out.append({"at": iso(ev.at), "at_local": local(ev.at, "%m-%d %H:%M"), "action": ev.action,
                    "label": TIMELINE_LABELS.get(ev.action, ev.action) if ev.action != "update" else "修改办理时限",
                    "value": value or "", "note": str(note) if note else ""})
    return out


def _local_iso(value: str | None) -> str:
    if not value:
        return ""
    try:
        return local(datetime.fromisoformat(value))
    except ValueError:
        return value


def _attachment(att: Attachment) -> dict[str, Any]:
    return {"id": att.id, "filename": att.filename, "content_type": att.content_type, "size": att.size,
            "kind": att.kind, "url": attachment_url(att)}


def _unit_name(directory: Directory, code: str | None) -> str:
    unit = directory.unit(code) if code else None
    return unit.name if unit else (code or "")


async def ticket_dict(session: AsyncSession, ticket: Ticket, held: Dispatch | None, actor: Actor, labels: Labels,
                      *, now: datetime, warn_at: float) -> dict[str, Any]:
    """The desk's view of ``ticket`` (loaded ``full``)."""
    unit = actor.unit or ""
    directory = labels.directory
    rows = [d for d in await assignments.dispatch_history(session, ticket) if d.target == unit]
    current = held or (rows[-1] if rows else None)
    unit_reports = await reports.reports_of(session, ticket, unit=unit)
    report_ids = {r.id for r in unit_reports}
    files_by_report: dict[int, list[dict[str, Any]]] = {}
    citizen_files: dict[int | None, list[dict[str, Any]]] = {}
    for att in ticket.attachments:
        if att.report_id is not None:
            if att.report_id in report_ids:
                files_by_report.setdefault(att.report_id, []).append(_attachment(att))
        elif att.kind not in HIDDEN_ATTACHMENT_KINDS:
            citizen_files.setdefault(att.entry_id, []).append(_attachment(att))
    words = [{"id": e.id, "at": iso(e.created_at), "at_local": local(e.created_at, "%m-%d %H:%M"),
              "channel_label": labels.of("channel", e.channel), "subject": mask_contacts_in_text(e.subject),
              "text": mask_contacts_in_text(e.text), "attachments": citizen_files.get(e.id, [])}
             for e in ticket.entries if e.author == "citizen" and e.public]
    notes = await supervision_notes.notes_of(session, ticket, unit=unit)
    pending = await extensions.pending_request(session, ticket)
    if pending is not None and pending.unit != unit:
        pending = None
    timing = row_timing(held, now, warn_at) if held is not None else None
    state = held.state if held is not None else None
    lead = held is not None and held.role == "lead"
    feedback = [{"report_id": r.id, "at_local": local(r.reviewed_at), "reason": r.review_note or ""}
                for r in unit_reports if r.kind == "answer" and r.review_state == "rejected"]
    return {
        "number": ticket.number,
        "title": mask_contacts_in_text(ticket.title) or "",
        "status": ticket.status, "status_label": status_label(ticket.status),
        "channel_label": labels.of("channel", ticket.channel),
        "created_local": local(ticket.created_at),
        "urgent": bool(ticket.urgent),
        "classification": {
            "request_type": ticket.request_type, "request_type_label": labels.of("request_type", ticket.request_type),
            "department": ticket.department, "department_label": labels.of("department", ticket.department),
            "region": ticket.region, "region_label": labels.of("region", ticket.region),
        },
        "contact": {"name": ticket.citizen_name, "phone": mask_phone(ticket.citizen_phone), "masked": True},
        "location_detail": mask_contacts_in_text(ticket.location_detail) or "",
        "event_time": ticket.event_time or "",
        "gaps": gap_labels(ticket.gathering_gaps),
        "words": words,
        "loose_attachments": citizen_files.get(None, []),
        "read_only": held is None,
        "dispatch": None if current is None else {
            "unit": current.target, "unit_label": _unit_name(directory, current.target),
            "lead_unit_label": _unit_name(directory, ticket.unit),
            "role": current.role, "role_label": ROLE_LABELS.get(current.role, current.role),
            "round": current.round, "redo": bool((current.meta or {}).get("redo")),
            "state": current.state, "state_label": STATE_LABELS.get(current.state, current.state),
            "note": current.note or "",
            "dispatched_local": local(current.at),
            "sign_deadline": iso(current.sign_deadline), "sign_deadline_local": local(current.sign_deadline),
            "deadline": iso(current.deadline), "deadline_local": local(current.deadline),
            "extended": bool(current.extended),
            "due": timing.handle if timing else None, "sign_due": timing.sign if timing else None,
            "due_label": timing.label if timing else STATE_LABELS.get(current.state, current.state),
            "return_reason": current.return_reason, "return_text": current.return_text,
        },
        "rounds": [{"round": d.round, "role_label": ROLE_LABELS.get(d.role, d.role),
                    "state_label": STATE_LABELS.get(d.state, d.state), "dispatched_local": local(d.at),
                    "ended_local": local(d.ended_at)} for d in rows],
        "timeline": _timeline(list(ticket.events), rows, unit, labels),
        "supervision": [{"id": n.id, "seq": n.seq, "text": n.text, "issued_local": local(n.issued_at),
                         "new_deadline_local": local(n.new_deadline), "acknowledged": n.acknowledged_at is not None,
                         "acknowledged_by": n.acknowledged_by, "acknowledged_local": local(n.acknowledged_at)}
                        for n in notes],
        "reports": [_report(r, files_by_report.get(r.id, [])) for r in unit_reports],
        "review_feedback": feedback,
        "extension": None if pending is None else {
            "id": pending.id, "requested_local": local(pending.requested_at), "reason": pending.reason,
            "until_local": local(pending.requested_deadline, "%Y-%m-%d"), "state": pending.state,
            "state_label": extensions.STATE_LABELS.get(pending.state, pending.state)},
        "return_reasons": [{"code": r.code, "name": r.name} for r in directory.handling.return_reasons],
        "permissions": {
            "sign": state == "pending_sign",
            "return": state in ("pending_sign", "signed"),
            "progress": state in ("signed", "answered"),
            "answer": lead and state == "signed",
            "extension": lead and state in ("pending_sign", "signed") and pending is None,
            "reveal": held is not None,
        },
        "due_labels": DUE_LABELS,
    }


def _report(r: UnitReport, files: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": r.id, "kind": r.kind, "kind_label": reports.KIND_LABELS.get(r.kind, r.kind),
            "author_name": r.author_name, "text": r.text, "at_local": local(r.created_at),
            "review_state": r.review_state,
            "review_label": reports.REVIEW_LABELS.get(r.review_state or "", "") if r.review_state else "",
            "review_note": r.review_note or "", "attachments": files}
