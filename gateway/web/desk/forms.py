"""A unit's report as it arrives: JSON (text only) or a multipart form (text plus files), the files
kept in the attachment store under its limits before the action's transaction starts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aiohttp import web

from connectors.storage import AttachmentRejected, AttachmentStore
from gateway.infra.resources import ATTACHMENTS
from gateway.web.errors import ApiError
from ticketing.db.models.tickets import Attachment
from ticketing.errors import ConsoleError
from ticketing.workflow.reports import MAX_ATTACHMENTS

FILE_FIELD = "files"


@dataclass
class Upload:
    """A form's fields and the files already stored (removed again when the action fails)."""

    fields: dict[str, str]
    files: list[Attachment] = field(default_factory=list)

    async def discard(self, store: AttachmentStore) -> None:
        def unlink() -> None:
            for att in self.files:
                store.discard(att.storage_key)

        await asyncio.to_thread(unlink)


async def read_upload(request: web.Request) -> Upload:
    """The multipart form: text fields, and the files under ``files`` (repeatable)."""
    store: AttachmentStore = request.config_dict[ATTACHMENTS]
    try:
        form = await request.post()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "too_large", "上传内容过大") from None
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    parts = [p for p in form.getall(FILE_FIELD, []) if isinstance(p, web.FileField) and p.filename]
    if len(parts) > MAX_ATTACHMENTS:
        raise ConsoleError(400, "too_many_attachments", f"附件最多 {MAX_ATTACHMENTS} 个")
    upload = Upload(fields)
    try:
        for part in parts:
            data = await asyncio.to_thread(part.file.read)
            if not data:
                continue
            if len(data) > store.max_bytes:
                raise ApiError(413, "file_too_large",
                               f"附件 {part.filename} 过大（上限 {store.max_bytes // (1024 * 1024)} MB）")
            try:
                ref = await store.save(data, filename=part.filename, content_type=part.content_type or "",
                                       kind="report")
            except AttachmentRejected as exc:
                raise ConsoleError(400, "attachment_rejected", f"附件 {part.filename}：{exc}") from None
            upload.files.append(Attachment(filename=ref.filename, content_type=ref.content_type, size=ref.size,
                                           storage_key=ref.storage_key, kind=ref.kind))
    except BaseException:
        await upload.discard(store)
        raise
    return upload


def parse_date(value: Any) -> date:
    """A YYYY-MM-DD date (the form's date field, the API's string)."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConsoleError(400, "invalid_date", "请填写延期后的办结日期（年-月-日）")
