"""Turning query strings, JSON bodies and multipart forms into service arguments."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from aiohttp import web

from config.directory import Directory
from connectors.phones import InvalidPhone, normalize_phone
from connectors.storage import AttachmentRejected
from gateway.infra.resources import ATTACHMENTS
from gateway.web.console.models import ManualIntakeRequest
from gateway.web.errors import ApiError
from gateway.web.validation import parse_model, query_int
from ticketing.errors import ConsoleError
from ticketing.intake.manual import ManualIntake
from ticketing.tickets.lifecycle import Status
from ticketing.tickets.queue import QueueFilter
from ticketing.tickets.store import AttachmentInfo

MAX_ATTACHMENTS = 10
PAGE_SIZE = 50
DEFAULT_DAYS = 30
MAX_OFFSET = 10**9


def _pick(query: Mapping[str, str], key: str, allowed: frozenset[str] | set[str]) -> str | None:
    value = (query.get(key) or "").strip()
    if not value:
        return None
    if value not in allowed:
        raise ApiError(400, f"invalid_{key}", f"{key} 取值无效：{value}")
    return value


def _paging(query: Mapping[str, str], name: str, default: int) -> int:
    # Any integer is taken (and clamped below), but none the database cannot bind.
    try:
        return query_int(query, name, default, lowest=-MAX_OFFSET, highest=MAX_OFFSET)
    except ApiError:
        raise ApiError(400, "invalid_paging", "limit/offset 必须是整数") from None


def queue_filter(query: Mapping[str, str], directory: Directory) -> tuple[QueueFilter, int, int]:
    statuses = {s.value for s in Status} | {"all", "open"}
    limit = _paging(query, "limit", PAGE_SIZE)
    offset = _paging(query, "offset", 0)
    urgent_raw = (query.get("urgent") or "").strip().lower()
    urgent = True if urgent_raw in ("1", "true") else False if urgent_raw in ("0", "false") else None
    q = (query.get("q") or "").strip()[:100] or None
    assignee = (query.get("assignee") or "").strip()[:100] or None
    flt = QueueFilter(
        status=_pick(query, "status", statuses),
        channel=_pick(query, "channel", directory.channel_codes),
        department=_pick(query, "department", directory.department_codes),
        region=_pick(query, "region", directory.region_codes),
        request_type=_pick(query, "request_type", directory.request_type_codes),
        assignee=assignee,
        urgent=urgent,
        q=q,
    )
    return flt, max(1, min(limit, 200)), max(0, offset)


def stats_days(query: Mapping[str, str]) -> int:
    """The supervisor figures' period in days: an integer, clamped to 1–366 (default 30)."""
    try:
        return max(1, min(366, query_int(query, "days", DEFAULT_DAYS, lowest=-MAX_OFFSET, highest=MAX_OFFSET)))
    except ApiError:
        raise ApiError(400, "invalid_days", "days 必须是 1–366 的整数") from None


def audit_filter(query: Mapping[str, str]) -> dict[str, str | None]:
    """The audit log's filters (``audit.audit_entries`` keywords)."""
    return {"action": query.get("action") or None, "actor": query.get("actor") or None}


def _phone(raw: Any) -> str | None:
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise ConsoleError(400, "invalid_phone", "电话必须是文本")
    try:
        return normalize_phone(raw)
    except InvalidPhone as exc:
        raise ConsoleError(400, "invalid_phone", str(exc)) from None


def _opt(value: Any, max_len: int) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ConsoleError(400, "invalid_field", "字段必须是文本")
    return value.strip()[:max_len] or None


def _bool(value: Any) -> bool:
    return value in (True, "1", "true", "on", "yes")


def intake_from_json(payload: ManualIntakeRequest | dict[str, Any], attachments: tuple[AttachmentInfo, ...] = (),
                     prediction: dict[str, Any] | None = None) -> ManualIntake:
    """The manual intake's fields (the API's JSON body or the page's form fields)."""
    body = payload if isinstance(payload, ManualIntakeRequest) else parse_model(ManualIntakeRequest, payload)
    return ManualIntake(
        channel=body.channel,
        text=body.text or "",
        name=_opt(body.name, 100),
        phone=_phone(body.phone),
        email=_opt(body.email, 255),
        title=_opt(body.title, 200),
        department=_opt(body.department, 64),
        region=_opt(body.region, 64),
        request_type=_opt(body.request_type, 32),
        urgent=_bool(body.urgent),
        attachments=attachments,
        prediction=prediction if prediction is not None else body.prediction,
    )


async def intake_from_multipart(request: web.Request, *, nlu_text: bool = True) -> ManualIntake:
    """The manual-intake form: fields plus scanned pages (``attachments``, repeatable)."""
    form = await request.post()
    fields: dict[str, Any] = {}
    files = []
    for key, value in form.items():
        if isinstance(value, web.FileField) or hasattr(value, "file"):
            if key == "attachments" and getattr(value, "filename", ""):
                files.append(value)
            continue
        if key == "attachments":
            # An empty file input still sends its part (filename=""), which aiohttp hands over as text.
            continue
        if key in ("nlu_department", "nlu_region", "nlu_request_type", "nlu_model", "nlu_confidence"):
            continue
        fields[key] = value
    if len(files) > MAX_ATTACHMENTS:
        raise ConsoleError(400, "too_many_attachments", f"附件最多 {MAX_ATTACHMENTS} 个")
    # What the NLU suggested while the operator typed (hidden fields filled by the page).
    prediction = None
    if any(form.get(k) for k in ("nlu_department", "nlu_region", "nlu_request_type")):
        try:
            conf = float(form.get("nlu_confidence") or "")
        except ValueError:
            conf = None
        prediction = {"department": form.get("nlu_department") or None, "region": form.get("nlu_region") or None,
                      "request_type": form.get("nlu_request_type") or None, "model": form.get("nlu_model") or None,
                      "intent": {"name": None, "confidence": conf}}
    store = request.config_dict[ATTACHMENTS]
    saved = []
    for f in files:
        data = f.file.read()
        if not data:
            continue
        try:
            ref = await store.save(data, filename=f.filename, content_type=f.content_type, kind="scan")
        except AttachmentRejected as exc:
            raise ConsoleError(400, "attachment_rejected", f"附件 {f.filename}：{exc}") from None
        saved.append(AttachmentInfo(ref.filename, ref.content_type, ref.size, ref.storage_key, ref.kind))
    fields.pop("csrf_token", None)
    return intake_from_json(fields, tuple(saved), prediction)


# --------------------------------------------------------------------------- the handling loop

LOOP_TABS = ("returned", "review", "extension", "warning", "overdue", "sign_overdue")


def local_date(value: Any, *, required: bool = True, what: str = "日期") -> date | None:
    """A YYYY-MM-DD local date from a form or a JSON body (None when left empty and optional)."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        if required:
            raise ApiError(400, "date_required", f"请填写{what}（YYYY-MM-DD）")
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "invalid_date", f"{what}格式应为 YYYY-MM-DD") from None


def loop_query(query: Mapping[str, str]) -> tuple[str, int, int]:
    """(tab, limit, offset) of the dispatcher's desk."""
    tab = (query.get("tab") or LOOP_TABS[0]).strip()
    if tab not in LOOP_TABS:
        raise ApiError(400, "invalid_tab", "tab 须为 " + "、".join(LOOP_TABS) + " 之一")
    limit = query_int(query, "limit", PAGE_SIZE, lowest=1, highest=200)
    offset = query_int(query, "offset", 0, lowest=0, highest=MAX_OFFSET)
    return tab, limit, offset
