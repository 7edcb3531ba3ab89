"""Page routes of the citizen web: ``/``, ``/chat``, ``/message``, ``/progress``.

The 网民留言 form follows the durability rule of every connector: the citizen is told
"submitted" only after the message is on the intake stream.  After publishing, the handler
waits a few seconds for the pipeline's reply and then redirects (POST → 303 → GET) to a
receipt page, so reloading the result never submits twice.  The receipt shows the ticket
number once the worker has committed it, or the message id and a note that the number
will follow — the submission is never lost, only not yet numbered.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from connectors.base import AttachmentRef, IntakeUnavailable
from connectors.storage import AttachmentRejected
from connectors.web.leave_message import (
    IMAGE_TYPES,
    MAX_IMAGE_BYTES,
    MAX_IMAGES,
    LeaveMessageInvalid,
    UploadedImage,
    build_leave_message,
    message_id,
    validate_leave_message,
)
from gateway.infra.metrics import METRICS
from gateway.infra.ratelimit import RateLimiter, came_over_https, client_address
from gateway.infra.replies import REPLIES
from gateway.infra.resources import ATTACHMENTS, DIRECTORY, KEYS, REDIS, SESSIONS, SETTINGS
from gateway.infra.stream import STREAM
from gateway.web.citizen import present, progress_api
from gateway.web.citizen.progress_api import NOT_FOUND
from gateway.web.security import check_csrf
from ticketing.db.models.tickets import Conversation, Ticket
from ticketing.tickets import store as tickets_store

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

# A random per-browser id for 网民留言: the sender of those messages (one conversation per
# browser) and the proof that a receipt page belongs to whoever submitted the form.  It is
# HttpOnly and never shown, because the chat API would show that conversation to anyone
# holding the id.
VISITOR_COOKIE = "hotline_visitor"
VISITOR_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}\Z")
VISITOR_MAX_AGE = 365 * 24 * 3600
RECEIPT_ID_RE = re.compile(r"^lm-[0-9a-f]{32}\Z")
TICKET_NO_RE = re.compile(r"^[A-Z0-9]{6,32}\Z")
FORM_FIELDS = ("name", "phone", "region", "title", "content")

UNAVAILABLE = "系统繁忙，您的留言未能提交，请稍后重试。您填写的内容已保留（图片需重新选择）。"
TOO_MANY_MESSAGES = "提交过于频繁，请 10 分钟后再试。如情况紧急，请直接拨打 12345。"
TOO_MANY_QUERIES = "查询过于频繁，请一分钟后再试"


@dataclass
class CitizenConfig:
    """Tunables of the citizen pages (tests shorten the waits)."""

    reply_wait: float = 4.0  # seconds the form submission waits for the ticket number
    message_limit: int = 5  # accepted 网民留言 per client and window
    attempt_limit: int = 30  # form POSTs (valid or not) per client and window: bounds upload floods
    message_window: int = 600
    progress_limit: int = 10  # per client and minute; same scope as the JSON API, so one budget
    receipt_refreshes: int = 12  # the pending receipt reloads itself this many times (5 s apart)


CITIZEN: web.AppKey[CitizenConfig] = web.AppKey("citizen_config", CitizenConfig)


# --------------------------------------------------------------------------- helpers

def _base_context(request: web.Request, page: str) -> dict[str, Any]:
    directory = request.config_dict[DIRECTORY]
    return {"page": page, "emergency": present.emergency_numbers(directory)}


def _render(request: web.Request, template: str, page: str, context: dict[str, Any] | None = None,
            *, status: int = 200, private: bool = False) -> web.Response:
    ctx = _base_context(request, page)
    ctx.update(context or {})
    response = aiohttp_jinja2.render_template(f"citizen/{template}", request, ctx, status=status)
    if private:
        # Pages with a CSRF token or a citizen's own data must not sit in shared caches,
        # and going "back" to a form should fetch a fresh one.
        response.headers["Cache-Control"] = "no-store"
    return response


def _error_page(request: web.Request, status: int, title: str, message: str) -> web.Response:
    return _render(request, "error.html", "", {"title": title, "message": message}, status=status)


def _visitor_id(request: web.Request) -> tuple[str, bool]:
    """(id, is_new): the browser's 网民留言 id, minted on first use."""
    current = request.cookies.get(VISITOR_COOKIE, "")
    if VISITOR_RE.match(current):
        return current, False
    return "v" + secrets.token_urlsafe(24), True


def _remember_visitor(request: web.Request, response: web.StreamResponse, visitor: str) -> None:
    response.set_cookie(VISITOR_COOKIE, visitor, max_age=VISITOR_MAX_AGE, httponly=True, samesite="Lax",
                        path="/", secure=came_over_https(request))


def _limiter(request: web.Request) -> RateLimiter:
    return RateLimiter(request.config_dict[REDIS], request.config_dict[KEYS])


# --------------------------------------------------------------------------- landing and chat

@routes.get("/")
async def landing(request: web.Request) -> web.Response:
    directory = request.config_dict[DIRECTORY]
    return _render(request, "index.html", "home", {"separate_hotlines": present.separate_hotlines(directory)})


@routes.get("/chat")
async def chat(request: web.Request) -> web.Response:
    topics = ["公积金查询", "社保咨询", "停水停电", "投诉举报", "噪音扰民", "户籍办理"]
    return _render(request, "chat.html", "chat", {
        "topics": topics,
        "max_text_chars": request.config_dict[SETTINGS].max_text_chars,
    })


# --------------------------------------------------------------------------- 网民留言

def _message_form(request: web.Request, *, values: dict[str, str] | None = None,
                  errors: dict[str, str] | None = None, notice: str | None = None,
                  status: int = 200) -> web.Response:
    directory = request.config_dict[DIRECTORY]
    return _render(request, "message.html", "message", {
        "regions": present.region_options(directory),
        "values": {k: (values or {}).get(k, "") for k in FORM_FIELDS},
        "errors": errors or {},
        "notice": notice,
        # A fresh id per rendered form: a double tap on 提交 is one message, see message_id().
        "form_id": secrets.token_urlsafe(18),
        "max_images": MAX_IMAGES,
        "max_image_mb": MAX_IMAGE_BYTES // (1024 * 1024),
        "image_types": ",".join(IMAGE_TYPES),
        "max_text_chars": request.config_dict[SETTINGS].max_text_chars,
    }, status=status, private=True)


@routes.get("/message")
async def message_page(request: web.Request) -> web.Response:
    visitor, new = _visitor_id(request)
    response = _message_form(request)
    if new:
        _remember_visitor(request, response, visitor)
    return response


async def _read_form(request: web.Request) -> tuple[dict[str, str], list[UploadedImage]]:
    form = await request.post()
    fields = {key: value for key in (*FORM_FIELDS, "form_id")
              if isinstance(value := form.get(key), str)}
    images = []
    for part in form.getall("images", []):
        if isinstance(part, web.FileField):
            # aiohttp spooled the part to a temporary file; reading it may touch the disk.
            data = await asyncio.to_thread(part.file.read)
            images.append(UploadedImage(part.filename or "", part.content_type or "", data))
    return fields, images


async def _discard(request: web.Request, refs: list[AttachmentRef]) -> None:
    store = request.config_dict[ATTACHMENTS]

    def unlink() -> None:
        for ref in refs:
            try:
                store.discard(ref.storage_key)
            except OSError:
                log.warning("could not remove unsent attachment %s", ref.storage_key)

    await asyncio.to_thread(unlink)


async def _already_stored(request: web.Request, native_id: str) -> bool:
    try:
        async with request.config_dict[SESSIONS]() as session:
            return await tickets_store.find_entry(session, "web", native_id) is not None
    except (SQLAlchemyError, OSError):
        return False  # the pipeline deduplicates anyway; this check only saves re-storing images


@routes.post("/message")
async def message_submit(request: web.Request) -> web.StreamResponse:
    app = request.config_dict
    config = app[CITIZEN]
    metrics = app[METRICS]
    limiter = _limiter(request)
    client = client_address(request)
    try:
        # Counted before the body is read: a flood of oversized uploads is cut off early.
        if not await limiter.allow("web-form-post", client, config.attempt_limit, config.message_window):
            metrics.rejected.labels("web", "rate_limited").inc()
            return _error_page(request, 429, "提交过于频繁", TOO_MANY_MESSAGES)
    except (RedisError, OSError):
        return _error_page(request, 503, "系统繁忙", "系统繁忙，留言暂时无法提交，请稍后重试。")

    try:
        fields, images = await _read_form(request)
    except web.HTTPRequestEntityTooLarge:
        metrics.rejected.labels("web", "too_large").inc()
        return _error_page(
            request, 413, "上传内容过大",
            f"上传内容过大：最多 {MAX_IMAGES} 张图片，每张不超过 {MAX_IMAGE_BYTES // (1024 * 1024)} MB。"
            "请返回后重新选择图片再提交。")
    try:
        await check_csrf(request)
    except web.HTTPForbidden:
        metrics.rejected.labels("web", "csrf").inc()
        return _error_page(request, 403, "页面已过期", "页面已过期或来源无法验证，请重新打开留言页面后再提交。")

    settings = app[SETTINGS]
    try:
        form = validate_leave_message(fields, images, region_codes=app[DIRECTORY].region_codes,
                                      max_content_chars=settings.max_text_chars)
    except LeaveMessageInvalid as exc:
        metrics.rejected.labels("web", "invalid_form").inc()
        return _message_form(request, values=fields, errors=exc.errors, status=400)

    visitor, new_visitor = _visitor_id(request)
    native_id = message_id(form, visitor)
    receipt = web.Response(status=303, headers={"Location": f"/message/receipt/{native_id}"})
    if new_visitor:
        _remember_visitor(request, receipt, visitor)
    if await _already_stored(request, native_id):
        return receipt  # the same submission again (a re-POST): show its receipt, store nothing

    refs: list[AttachmentRef] = []
    try:
        if not await limiter.allow("web-leave-message", client, config.message_limit, config.message_window):
            metrics.rejected.labels("web", "rate_limited").inc()
            return _message_form(request, values=fields, notice=TOO_MANY_MESSAGES, status=429)
        for image in form.images:
            refs.append(await app[ATTACHMENTS].save(
                image.data, filename=image.filename, content_type=image.content_type, kind="image",
                max_bytes=MAX_IMAGE_BYTES))
        msg = build_leave_message(form, sender_id=visitor, attachments=refs)
        await app[STREAM].publish(msg)
    except AttachmentRejected as exc:  # validated above; only a store with stricter rules gets here
        await _discard(request, refs)
        return _message_form(request, values=fields, errors={"images": str(exc)}, status=400)
    except (IntakeUnavailable, RedisError, OSError):
        log.warning("网民留言 not accepted: intake unavailable", exc_info=True)
        metrics.rejected.labels("web", "unavailable").inc()
        await _discard(request, refs)
        return _message_form(request, values=fields, notice=UNAVAILABLE, status=503)
    metrics.accepted.labels("web").inc()

    try:
        await app[REPLIES].wait_reply("web", native_id, config.reply_wait)
    except (RedisError, OSError):
        pass  # accepted already; the receipt page shows the number when the worker has it
    return receipt


@routes.get("/message/receipt/{message_id}")
async def message_receipt(request: web.Request) -> web.Response:
    native_id = request.match_info["message_id"]
    visitor = request.cookies.get(VISITOR_COOKIE, "")
    if not RECEIPT_ID_RE.match(native_id) or not VISITOR_RE.match(visitor):
        return _error_page(request, 404, "未找到留言回执", "未找到该留言回执。请在提交留言的浏览器中查看，或凭工单号到“办件查询”查询。")
    async with request.config_dict[SESSIONS]() as session:
        entry = await tickets_store.find_entry(session, "web", native_id)
        conv = await session.get(Conversation, entry.conversation_id) if entry is not None else None
        if entry is not None and (conv is None or conv.sender_id != visitor):
            # Someone else's receipt: answer as if it did not exist.
            return _error_page(request, 404, "未找到留言回执", "未找到该留言回执。")
        ticket = await session.get(Ticket, entry.ticket_id) if entry is not None and entry.ticket_id else None
    config = request.config_dict[CITIZEN]
    try:
        attempt = max(0, min(int(request.query.get("n", "0")), config.receipt_refreshes))
    except ValueError:
        attempt = 0
    reply = None
    if ticket is not None:
        try:
            reply = await request.config_dict[REPLIES].get("web", native_id)
        except (RedisError, OSError):
            reply = None
    return _render(request, "receipt.html", "message", {
        "message_id": native_id,
        "ticket_no": ticket.number if ticket is not None else None,
        "title": (entry.meta or {}).get("title", "") if entry is not None else "",
        "reply": reply,
        "refresh_url": (f"/message/receipt/{native_id}?n={attempt + 1}"
                        if ticket is None and attempt < config.receipt_refreshes else None),
    }, private=True)


# --------------------------------------------------------------------------- 办件查询

def _progress_form(request: web.Request, *, ticket_no: str = "", errors: dict[str, str] | None = None,
                   notice: str | None = None, result: dict[str, Any] | None = None,
                   status: int = 200, full_phone: bool = False) -> web.Response:
    return _render(request, "progress.html", "progress", {
        "ticket_no": ticket_no,
        "full_phone": full_phone,  # four digits are no longer enough for this number: ask for all
        "errors": errors or {},
        "notice": notice,
        "result": result,
    }, status=status, private=True)


@routes.get("/progress")
async def progress_page(request: web.Request) -> web.Response:
    number = request.query.get("ticket_no", "").strip().upper()[:32]
    return _progress_form(request, ticket_no=number)


@routes.post("/progress")
async def progress_query(request: web.Request) -> web.Response:
    try:
        # Counted before validation (as the API does, sharing its budget), so guessing
        # costs the same whatever is guessed.
        if not await progress_api.count_client(request):
            return _progress_form(request, notice=TOO_MANY_QUERIES, status=429)
    except (RedisError, OSError):
        return _error_page(request, 503, "系统繁忙", "系统繁忙，暂时无法查询，请稍后重试。")
    try:
        form = await request.post()
        await check_csrf(request)
    except web.HTTPForbidden:
        return _error_page(request, 403, "页面已过期", "页面已过期，请重新打开办件查询页面后再查询。")
    number = str(form.get("ticket_no", "")).strip().upper()[:64]
    last4 = str(form.get("phone_last4", "")).strip()
    phone = str(form.get("phone", "")).strip()
    errors = {}
    if not number:
        errors["ticket_no"] = "请填写工单号"
    if phone:
        if not progress_api.FULL_PHONE_RE.fullmatch(phone):
            errors["phone"] = "请填写完整的手机号码"
    elif not re.fullmatch(r"\d{4}", last4):
        errors["phone_last4"] = "请填写手机号后四位数字"
    if errors:
        return _progress_form(request, ticket_no=number, errors=errors, status=400, full_phone="phone" in errors)
    try:
        found = await progress_api.look_up(request, number, phone or last4)
    except (RedisError, OSError):
        return _error_page(request, 503, "系统繁忙", "系统繁忙，暂时无法查询，请稍后重试。")
    if found.status == "ticket_limited":
        return _progress_form(request, ticket_no=number, notice=progress_api.TOO_MANY_FOR_TICKET, status=429)
    if found.status == "full_phone_required":
        return _progress_form(request, ticket_no=number, notice=progress_api.FULL_PHONE_REQUIRED, status=403,
                              full_phone=True)
    if found.progress is None:
        # Same answer for an unknown number and a wrong phone: no enumeration.
        return _progress_form(request, ticket_no=number, notice=NOT_FOUND, status=404, full_phone=bool(phone))
    return _progress_form(request, ticket_no=number, result=present.progress_view(found.progress))
