"""Validation of the 网民留言 (leave-a-message) form into an :class:`InboundMessage`.

No I/O here: the page handler reads the multipart body, calls :func:`validate_leave_message`
(which checks every field and every image and collects *all* errors, so the form can show
each one next to its field), stores the accepted images, then calls
:func:`build_leave_message` with the stored references.  Images are checked before
anything is written, so a rejected form never leaves files behind.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from connectors.base import AttachmentRef, Contact, InboundMessage
from connectors.phones import InvalidPhone, normalize_phone
from connectors.storage import sniff_matches

MAX_IMAGES = 3
MAX_IMAGE_BYTES = 5 * 1024 * 1024
IMAGE_TYPES = {"image/jpeg": "JPG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
NAME_MAX = 50
TITLE_MAX = 50
CONTENT_MIN = 5
FORM_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}\Z")
# The form fields, in the order the page shows them (errors are reported in this order too).
FIELDS = ("name", "phone", "region", "title", "content", "images")


@dataclass(frozen=True)
class UploadedImage:
    """One file part of the form, as the browser sent it."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class LeaveMessageForm:
    """A validated form, images not yet stored."""

    name: str
    phone: str
    region: str
    title: str
    content: str
    images: tuple[UploadedImage, ...]
    form_id: str


class LeaveMessageInvalid(ValueError):
    """One Chinese message per offending field (``errors``: field name → message)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _text(fields: Mapping[str, str], key: str) -> str:
    value = fields.get(key)
    return value.strip() if isinstance(value, str) else ""




def _check_image(image: UploadedImage) -> str | None:
    content_type = (image.content_type or "").split(";")[0].strip().lower()
    if content_type not in IMAGE_TYPES:
        return f"图片「{image.filename}」格式不支持，只能上传 JPG、PNG、GIF 或 WEBP 图片"
    if len(image.data) > MAX_IMAGE_BYTES:
        return f"图片「{image.filename}」超过 {MAX_IMAGE_BYTES // (1024 * 1024)} MB，请压缩后再上传"
    # The declared type is the browser's guess from the file name; the bytes must agree,
    # so a renamed document or program is never stored as a photo.
    if not sniff_matches(content_type, image.data):
        return f"图片「{image.filename}」的内容与格式不符，请上传真实的图片文件"
    return None


def validate_leave_message(
    fields: Mapping[str, str],
    images: Iterable[UploadedImage],
    *,
    region_codes: Iterable[str],
    max_content_chars: int = 5000,
) -> LeaveMessageForm:
    """Check the form; raise :class:`LeaveMessageInvalid` naming every bad field."""
    errors: dict[str, str] = {}

    name = _text(fields, "name")
    if not name:
        errors["name"] = "请填写姓名"
    elif len(name) > NAME_MAX:
        errors["name"] = f"姓名不能超过 {NAME_MAX} 个字"

    phone_raw = _text(fields, "phone")
    phone = ""
    if not phone_raw:
        errors["phone"] = "请填写联系电话，以便工作人员联系您和您查询办理进度"
    elif len(phone_raw) > 20:
        errors["phone"] = "电话号码过长，请填写11位手机号或带区号的固定电话"
    else:
        try:
            phone = normalize_phone(phone_raw)
        except InvalidPhone:
            errors["phone"] = "手机号格式不正确，请填写11位手机号或带区号的固定电话"

    region = _text(fields, "region")
    if not region:
        errors["region"] = "请选择问题发生的区域"
    elif region not in set(region_codes):
        errors["region"] = "所选区域无效，请重新选择"

    title = _text(fields, "title")
    if not title:
        errors["title"] = "请填写留言标题"
    elif len(title) > TITLE_MAX:
        errors["title"] = f"标题不能超过 {TITLE_MAX} 个字"

    content = _text(fields, "content")
    if len(content) < CONTENT_MIN:
        errors["content"] = f"请详细描述您的问题（不少于 {CONTENT_MIN} 个字）"
    elif len(content) > max_content_chars:
        errors["content"] = f"留言内容不能超过 {max_content_chars} 个字（当前 {len(content)} 个字）"

    # An empty file input still sends one part with no name and no bytes: not an image.
    files = tuple(img for img in images if img.filename or img.data)
    if len(files) > MAX_IMAGES:
        errors["images"] = f"最多上传 {MAX_IMAGES} 张图片（您选择了 {len(files)} 张）"
    else:
        problems = [p for p in map(_check_image, files) if p]
        if problems:
            errors["images"] = "；".join(problems)

    if errors:
        raise LeaveMessageInvalid({k: errors[k] for k in FIELDS if k in errors})

    form_id = _text(fields, "form_id")
    if not FORM_ID_RE.match(form_id):
        # Without the page's id the submission is still accepted, just not deduplicated.
        form_id = uuid.uuid4().hex
    return LeaveMessageForm(name=name, phone=phone, region=region, title=title, content=content,
                            images=files, form_id=form_id)


def message_id(form: LeaveMessageForm, sender_id: str) -> str:
    """The dedupe key: the same form page submitted twice with the same content (a
    double tap, a browser re-POST) is one message; the same page reused for a different
    message (back button, edit, submit) is a new one and is never swallowed as a duplicate."""
    digest = hashlib.sha256()
    for part in (sender_id, form.form_id, form.name, form.phone, form.region, form.title, form.content):
        digest.update(part.encode())
        digest.update(b"\0")
    for image in form.images:
        digest.update(hashlib.sha256(image.data).digest())
    return "lm-" + digest.hexdigest()[:32]


def build_leave_message(
    form: LeaveMessageForm,
    *,
    sender_id: str,
    attachments: Iterable[AttachmentRef] = (),
    now: datetime | None = None,
) -> InboundMessage:
    """The normalized message: always a ticket (``force_ticket``), region and title as hints."""
    return InboundMessage(
        channel="web",
        native_id=message_id(form, sender_id),
        sender_id=sender_id,
        text=form.content,
        received_at=now or datetime.now(timezone.utc),
        contact=Contact(name=form.name, phone=form.phone),
        attachments=tuple(attachments),
        metadata={
            "force_ticket": True,
            "region_hint": form.region,
            "title": form.title,
            "msg_type": "leave_message",
        },
    )
